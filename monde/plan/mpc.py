"""Receding-horizon model-predictive control with a world model and CEM.

The MPC loop knows nothing about pixels or environments: it hands observations to the model's
`encode` (the one preprocessing path) and returns model actions. Per call of `plan`: encode the
context once, run CEM on the cost of the predicted latents against the goal latent, and keep
the solution, shifted by the executed steps, as the next call's warm start.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch
from torch import Tensor

from monde.config import PlanConfig
from monde.models.world_model import WorldModelProtocol
from monde.plan.cost import goal_cost
from monde.plan.solvers import CEMConfig, PlanResult, cem


class MPCPlanner:
    """Plans model actions (B, H, A) in [−1, 1] toward goal observations, batched over episodes.

    With `cfg.repeat_actions`, CEM searches one environment action per model step and repeats it
    `frameskip` times: samples then move the agent in straight lines, reaching `frameskip` times
    further than the average of independent noisy actions would.
    """

    def __init__(self, model: WorldModelProtocol, cfg: PlanConfig, seed: int = 0):
        self.model, self.cfg, self.seed = model, cfg, seed
        self.solver_cfg = CEMConfig(
            samples=cfg.samples, iterations=cfg.iterations, topk=cfg.topk, min_std=cfg.min_std
        )
        self.repeat = model.frameskip if cfg.repeat_actions else 1
        self.search_dim = model.action_dim // self.repeat  # dims CEM searches per model step
        self.z_goal: Tensor | None = None

    def expand(self, searched: Tensor) -> Tensor:
        """Searched (..., H, A / repeat) → model actions (..., H, A): [a, a, …] per model step."""
        return searched.tile(self.repeat) if self.repeat > 1 else searched

    @torch.inference_mode()
    def reset(self, observations: np.ndarray | Tensor, goals: np.ndarray | Tensor) -> None:
        """Start episodes: observations and goals (B, Hp, Wp, C) uint8."""
        self.z_goal = self.model.encode(goals).float()  # (B, D)
        z0 = self.model.encode(observations).float()  # (B, D)
        self.z_hist = z0[:, None]  # (B, 1, D): latents at model-step boundaries
        self.a_hist = z0.new_zeros(len(z0), 0, self.model.action_dim)  # (B, Tc−1, A)
        self.mean = z0.new_zeros(len(z0), self.cfg.horizon, self.search_dim)
        self.generator = torch.Generator(device=z0.device).manual_seed(self.seed)

    @torch.inference_mode()
    def observe(self, observations: np.ndarray | Tensor, executed: Tensor) -> None:
        """Record the frame reached after executing one model action `executed` (B, A)."""
        if not torch.isfinite(executed).all():
            raise ValueError("MPCPlanner.observe: the executed actions contain NaN or inf")
        z = self.model.encode(observations).float()[:, None]  # (B, 1, D)
        self.z_hist = torch.cat([self.z_hist, z], dim=1)[:, -self.model.history :]
        a_hist = torch.cat([self.a_hist, executed[:, None].to(z)], dim=1)
        self.a_hist = a_hist[:, a_hist.shape[1] - (self.z_hist.shape[1] - 1) :]

    @torch.inference_mode()
    def plan(self) -> PlanResult:
        """One replanning call → PlanResult whose `actions` are model actions (B, H, A)."""
        if self.z_goal is None:
            raise RuntimeError("MPCPlanner.plan called before reset(observations, goals)")
        b, _, d = self.z_hist.shape
        h, a = self.cfg.horizon, self.model.action_dim
        goal = self.z_goal[:, None, :]  # (B, 1, D): broadcast over samples; no horizon axis

        s = self.cfg.samples
        z_ctx = self.z_hist.repeat_interleave(s, dim=0)  # (B·S, Tc, D), once per call
        a_ctx = self.a_hist.repeat_interleave(s, dim=0)  # (B·S, Tc−1, A)

        def cost_fn(searched: Tensor) -> Tensor:  # (B, S, H, A / repeat) → (B, S)
            if searched.shape[1] != s:
                raise ValueError(f"CEM evaluated {searched.shape[1]} samples, expected {s}")
            actions = self.expand(searched).reshape(b * s, h, a)  # (B·S, H, A)
            pred = self.model.rollout(z_ctx, actions, a_ctx=a_ctx).float()  # (B·S, H, D)
            return goal_cost(
                pred.reshape(b, s, h, d), goal, self.cfg.metric, self.cfg.reduce, self.cfg.discount
            )

        std = torch.full_like(self.mean, self.cfg.init_std)
        bound = torch.ones(self.search_dim)
        result = cem(cost_fn, self.mean, std, -bound, bound, self.solver_cfg, self.generator)
        # warm start: shift the solution by the executed steps, pad with zeros
        shifted = result.actions[:, self.cfg.receding :]
        pad = shifted.new_zeros(b, self.cfg.receding, self.search_dim)
        self.mean = torch.cat([shifted, pad], dim=1)
        return replace(result, actions=self.expand(result.actions))
