"""Receding-horizon model-predictive control with a world model and CEM.

The MPC loop knows nothing about pixels or environments: it hands observations to the model's
`encode` (the one preprocessing path) and returns model actions. Per call of `plan`: encode the
context once, run CEM on the cost of the predicted latents against the goal latent, and keep
the solution, shifted by the executed steps, as the next call's warm start.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from monde.config import PlanConfig
from monde.models.world_model import WorldModelProtocol
from monde.plan.cost import goal_cost
from monde.plan.solvers import CEMConfig, PlanResult, cem


class MPCPlanner:
    """Plans model actions (B, H, A) in [−1, 1] toward goal observations, batched over episodes."""

    def __init__(self, model: WorldModelProtocol, cfg: PlanConfig, seed: int = 0):
        self.model, self.cfg = model, cfg
        self.solver_cfg = CEMConfig(
            samples=cfg.samples, iterations=cfg.iterations, topk=cfg.topk, min_std=cfg.min_std
        )
        self.seed = seed
        self.z_goal: Tensor | None = None

    @torch.inference_mode()
    def reset(self, observations: np.ndarray | Tensor, goals: np.ndarray | Tensor) -> None:
        """Start episodes: observations and goals (B, Hp, Wp, C) uint8."""
        self.z_goal = self.model.encode(goals).float()  # (B, D)
        z0 = self.model.encode(observations).float()  # (B, D)
        self.z_hist = z0[:, None]  # (B, 1, D): latents at model-step boundaries
        self.a_hist = z0.new_zeros(len(z0), 0, self.model.action_dim)  # (B, Tc−1, A)
        self.mean = z0.new_zeros(len(z0), self.cfg.horizon, self.model.action_dim)
        device = z0.device
        self.generator = torch.Generator(device=device).manual_seed(self.seed)

    @torch.inference_mode()
    def observe(self, observations: np.ndarray | Tensor, executed: Tensor) -> None:
        """Record the frame reached after executing one model action executed (B, A)."""
        z = self.model.encode(observations).float()[:, None]  # (B, 1, D)
        keep = self.model.history
        self.z_hist = torch.cat([self.z_hist, z], dim=1)[:, -keep:]
        a_hist = torch.cat([self.a_hist, executed[:, None].to(z)], dim=1)
        self.a_hist = a_hist[:, a_hist.shape[1] - (self.z_hist.shape[1] - 1) :]

    @torch.inference_mode()
    def plan(self) -> PlanResult:
        if self.z_goal is None:
            raise RuntimeError("MPCPlanner.plan called before reset(observations, goals)")
        b, tc, d = self.z_hist.shape
        s, h, a = self.cfg.samples, self.cfg.horizon, self.model.action_dim
        z_ctx = self.z_hist.repeat_interleave(s, dim=0)  # (B·S, Tc, D)
        a_ctx = self.a_hist.repeat_interleave(s, dim=0)  # (B·S, Tc−1, A)
        goal = self.z_goal[:, None, :]  # (B, 1, D): broadcast over samples; no horizon axis

        def cost_fn(actions: Tensor) -> Tensor:  # (B, S', H, A) → (B, S')
            n = actions.shape[1]
            flat = actions.reshape(b * n, h, a)  # (B·S', H, A)
            ctx, actx = (
                (z_ctx, a_ctx)
                if n == s
                else (self.z_hist.repeat_interleave(n, 0), self.a_hist.repeat_interleave(n, 0))
            )
            pred = self.model.rollout(ctx, flat, a_ctx=actx).float().reshape(b, n, h, d)
            return goal_cost(pred, goal, self.cfg.metric, self.cfg.reduce, self.cfg.discount)

        std = torch.full_like(self.mean, self.cfg.init_std)
        low, high = -torch.ones(a), torch.ones(a)
        result = cem(cost_fn, self.mean, std, low, high, self.solver_cfg, self.generator)
        # warm start: shift the solution by the executed steps, pad with zeros
        shifted = result.actions[:, self.cfg.receding :]
        pad = shifted.new_zeros(b, self.cfg.receding, a)
        self.mean = torch.cat([shifted, pad], dim=1)
        return result
