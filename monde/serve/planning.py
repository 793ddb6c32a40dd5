"""One served model: encodes observations and plans for many sessions in one solver call.

The MPC logic is `monde.plan.mpc.MPCPlanner`'s, unchanged: for each batch the sessions' states
(goal latent, latent and action history, warm start) are stacked into one MPCPlanner, which
plans for all of them at once, and the updated warm starts are split back into the sessions.
An act call mirrors one model step of `monde.eval.goal_reaching.run_episodes`: the observation
reached by the last returned action is observed, the plan is remade every `plan.receding`
steps, and the next action of the plan is returned. Runs on the server's planning thread.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from monde.config import PlanConfig
from monde.models.world_model import WorldModel, encode_observation
from monde.plan.mpc import MPCPlanner
from monde.serve.sessions import Session


@dataclass
class ActCall:
    session: Session
    frame: np.ndarray  # (H, W, C) uint8
    proprio: np.ndarray | None  # (P,) in model.proprio order
    executed: np.ndarray | None  # (A,) overrides the session's last returned action


@dataclass
class ActOutcome:
    action: np.ndarray  # (A,)
    plan: np.ndarray  # (H, A)
    cost: float | None
    replanned: bool
    step: int
    plan_ms: float  # the whole batch's encoding and planning
    batch_size: int


class ServedPlanner:
    def __init__(self, name: str, model: WorldModel, plan_cfg: PlanConfig, seed: int = 0):
        if plan_cfg.waypoints:
            raise ValueError(f"model {name!r}: plan.waypoints is not served; set it to 0")
        self.name, self.model, self.cfg = name, model, plan_cfg
        self.planner = MPCPlanner(model, plan_cfg, seed=seed)
        self.device = next(model.parameters()).device
        self.generator = torch.Generator(device=self.device).manual_seed(seed)
        self.image_shape = (model.image_size, model.image_size, model.in_channels)
        self.proprio = tuple(model.proprio)
        self._proprio_columns = list(model.proprio_indices)

    def states(self, proprio: list[np.ndarray | None]) -> np.ndarray | None:
        """Proprioception rows (N, P) → state rows (N, S) holding them in the model's columns."""
        if not self.proprio:
            return None
        rows = np.zeros((len(proprio), max(self._proprio_columns) + 1), np.float32)
        rows[:, self._proprio_columns] = np.stack(proprio)
        return rows

    @torch.inference_mode()
    def encode(self, frames: np.ndarray, proprio: list[np.ndarray | None]) -> Tensor:
        """uint8 frames (N, H, W, C) → latents (N, D) float32."""
        return encode_observation(self.model, frames, self.states(proprio)).float()

    def start(self, goal: np.ndarray, goal_proprio: np.ndarray | None) -> Session:
        z_goal = self.encode(goal[None], [goal_proprio])[0]  # (D,)
        return Session(model=self.name, z_goal=z_goal)

    def act(self, calls: list[ActCall]) -> list[ActOutcome]:
        """One model step for each call's session: encode all observations together, plan for
        those due to replan in one solver call per context length."""
        clock = time.perf_counter()
        z = self.encode(np.stack([c.frame for c in calls]), [c.proprio for c in calls])  # (N, D)
        for call, z_i in zip(calls, z, strict=True):
            self._observe(call, z_i)
        due = [c.session for c in calls if c.session.step % self.cfg.receding == 0]
        by_context: dict[int, list[Session]] = {}
        for s in due:  # sessions stack only with the same history length
            by_context.setdefault(len(s.z_hist), []).append(s)
        for group in by_context.values():
            self._plan(group)
        plan_ms = 1000 * (time.perf_counter() - clock)
        outcomes = []
        for call in calls:
            s = call.session
            action = s.plan[s.step % self.cfg.receding]
            s.last_action, s.step = action, s.step + 1
            outcomes.append(
                ActOutcome(action, s.plan, s.cost, s in due, s.step, plan_ms, len(calls))
            )
        return outcomes

    def _observe(self, call: ActCall, z: Tensor) -> None:
        """The first observation starts the history; later ones follow an executed action
        (MPCPlanner.reset / observe for one episode)."""
        s, a_dim = call.session, self.model.action_dim
        if s.z_hist is None:
            s.z_hist = z[None]  # (1, D)
            s.a_hist = z.new_zeros(0, a_dim)  # (0, A)
            s.mean = z.new_zeros(self.cfg.horizon, self.planner.search_dim)
            return
        executed = call.executed if call.executed is not None else s.last_action
        a = torch.as_tensor(executed, dtype=z.dtype, device=z.device)[None]  # (1, A)
        s.z_hist = torch.cat([s.z_hist, z[None]])[-self.model.history :]  # (≤ history, D)
        a_hist = torch.cat([s.a_hist, a])
        s.a_hist = a_hist[len(a_hist) - (len(s.z_hist) - 1) :]  # (Tc − 1, A)

    def _plan(self, sessions: list[Session]) -> None:
        """One solver call for `sessions` (same context length): stack, plan, split back."""
        p = self.planner
        p.z_goal = torch.stack([s.z_goal for s in sessions])  # (B, D)
        p.z_hist = torch.stack([s.z_hist for s in sessions])  # (B, Tc, D)
        p.a_hist = torch.stack([s.a_hist for s in sessions])  # (B, Tc − 1, A)
        p.mean = torch.stack([s.mean for s in sessions])  # (B, H, A / repeat)
        kept = [s.elites for s in sessions]
        if all(e is None for e in kept):
            p.elites = None
        else:  # sessions that never planned start from zero sequences, as in MPCPlanner
            shape = next(e for e in kept if e is not None).shape
            p.elites = torch.stack([e if e is not None else p.mean.new_zeros(shape) for e in kept])
        p.generator = self.generator  # one noise stream per model, across batches
        result = p.plan()
        actions = result.actions.detach().cpu().numpy()  # (B, H, A)
        costs = result.cost.detach().cpu().numpy()  # (B,)
        for i, s in enumerate(sessions):
            s.plan = actions[i]
            s.cost = float(costs[i]) if np.isfinite(costs[i]) else None  # JSON has no inf
            s.mean = p.mean[i]
            s.elites = None if p.elites is None else p.elites[i]
