"""The report's planned episodes: evaluation episodes run by `monde.eval.goal_reaching`, shown as
GIFs of the real frame, where the current plan is imagined to end, and the goal.

The episodes run as `monde eval` runs them (`run_episodes`, a `PlannerPolicy`, the evaluation
env and seeds); a `PlanImager` wrapped around the policy rolls each new plan out with the model
and decodes its last latent. The plan settings are described from the configured solver's
registry entry (`monde.plan.registry.SolverSpec`), whatever the solver.
"""

from __future__ import annotations

from dataclasses import fields, is_dataclass
from typing import Any

import numpy as np
import torch

from monde.config import RunConfig
from monde.envs.registry import close_env
from monde.eval.goal_reaching import PlannerPolicy, run_episodes
from monde.eval.protocols import evaluation_env
from monde.models.decoder import LatentDecoder
from monde.models.world_model import WorldModelProtocol, encode_observation
from monde.plan.registry import solver_spec
from monde.report.media import gif_bytes, png_bytes, side_by_side, upscale
from monde.report.page import Media


def describe_settings(settings: Any) -> str:
    """A solver config (dataclass, nested ones included) → 'name value, …' in field order."""
    parts = []
    for f in fields(settings):
        value = getattr(settings, f.name)
        parts.append(
            f"{f.name} ({describe_settings(value)})" if is_dataclass(value) else f"{f.name} {value}"
        )
    return ", ".join(parts)


def plan_settings(cfg: RunConfig) -> str:
    """The run's planner in words: its solver's own config (built by the solver's registry
    entry from `plan` and `plan.solver_options`), horizon and replanning interval."""
    plan = cfg.plan
    settings = solver_spec(plan.solver).configure(plan)  # as the planner builds it
    every = "every model step" if plan.receding == 1 else f"every {plan.receding} model steps"
    return (
        f"solver {plan.solver} ({type(settings).__name__}: {describe_settings(settings)}), "
        f"horizon {plan.horizon} model steps, replanning {every}"
    )


class PlanImager:
    """A `PlannerPolicy` that also decodes where each new plan ends, for the GIFs.

    It keeps its own context of encoded observations (the model's `history` latents and the
    actions between them, as the planner keeps it) and, after each replanning call, rolls the
    plan out with the model: `imagined` holds, per model step, the decoded last latent of the
    plan being executed (B, Hp, Wp, 3); an episode at its goal keeps its last picture.
    """

    def __init__(
        self, policy: PlannerPolicy, model: WorldModelProtocol, decoder: LatentDecoder
    ) -> None:
        self.policy, self.model, self.decoder = policy, model, decoder
        self.imagined: list[np.ndarray] = []

    @property
    def plan_times(self) -> list[float]:
        return self.policy.plan_times

    @torch.no_grad()
    def start(self, env, frames: np.ndarray) -> None:
        self.policy.start(env, frames)
        z = encode_observation(self.model, frames, env.state()).float()  # (B, D)
        self.z_ctx = z[:, None]  # (B, 1, D)
        self.a_ctx = z.new_zeros(len(z), 0, self.model.action_dim)  # (B, Tc−1, A)
        self.end: np.ndarray | None = None

    def choose(self, m: int, active: np.ndarray | None = None) -> np.ndarray:
        block = self.policy.choose(m, active)  # (B, A)
        if m % self.policy.receding == 0 and (active is None or active.any()):
            self._imagine(active)  # the policy planned anew for the active episodes
        self.imagined.append(self.end.copy())
        return block

    @torch.no_grad()
    def _imagine(self, active: np.ndarray | None) -> None:
        plan = torch.from_numpy(self.policy.current).to(self.z_ctx)  # (B, H, A), 0 if inactive
        z_plan = self.model.rollout(self.z_ctx, plan, a_ctx=self.a_ctx)  # (B, H, D)
        end = self.decoder.decode(z_plan[:, -1].float())[..., :3]  # (B, Hp, Wp, 3)
        if self.end is None or active is None:
            self.end = end
        else:
            self.end[active] = end[active]  # an episode at its goal keeps its last picture

    @torch.no_grad()
    def observe(self, frame: np.ndarray, block: np.ndarray, states: np.ndarray) -> None:
        self.policy.observe(frame, block, states)
        z = encode_observation(self.model, frame, states).float()[:, None]  # (B, 1, D)
        self.z_ctx = torch.cat([self.z_ctx, z], dim=1)[:, -self.model.history :]
        a_ctx = torch.cat([self.a_ctx, torch.from_numpy(block)[:, None].to(z)], dim=1)
        self.a_ctx = a_ctx[:, a_ctx.shape[1] - (self.z_ctx.shape[1] - 1) :]


def planned_media(
    cfg: RunConfig,
    model: WorldModelProtocol,
    decoder: LatentDecoder,
    episodes: int,
    scale: int,
) -> list[Media]:
    """The first `episodes` evaluation episodes planned with MPC → one GIF each (real frame |
    decoder(imagined end of the current plan) | goal image) and a PNG of the goals."""
    if episodes < 1:
        return []
    env = evaluation_env(cfg.env, cfg.eval, episodes, cfg.data.policy)
    seeds = [cfg.eval.seed + i for i in range(episodes)]
    policy = PlanImager(PlannerPolicy(model, cfg.plan, seed=cfg.eval.seed), model, decoder)
    goals: list[np.ndarray] = []  # (B, Hp, Wp, 3), read after the reset
    real: list[np.ndarray] = []  # (B, Hp, Wp, 3) after the reset and after each model step

    def watch(frames: np.ndarray, _success: np.ndarray) -> None:
        if not real:
            goals.append(env.goal_rgb()[..., :3])
        real.append(frames[..., :3])  # colour only (an RGB-D env's depth is not shown)

    success, _ = run_episodes(env, seeds, policy, model.frameskip, cfg.eval.max_steps, watch)
    close_env(env)
    goal = goals[0]
    imagined = policy.imagined or [np.zeros_like(real[0])]  # none if all began at their goal
    imagined += [imagined[-1]] * (len(real) - len(imagined))  # the last plan by the last frame
    real_a, imag_a = np.stack(real, 1), np.stack(imagined, 1)  # (B, T, Hp, Wp, 3)
    goal_a = np.repeat(goal[:, None], real_a.shape[1], axis=1)
    media = []
    for i in range(episodes):
        panels = [upscale(p[i], scale) for p in (real_a, imag_a, goal_a)]
        media.append(
            Media(
                f"planned_{i}.gif",
                gif_bytes(side_by_side(panels)),
                f"evaluation seed {seeds[i]} ({'reached' if success[i] else 'did not reach'} the "
                f"goal within the shown steps): real frame | decoder(imagined last state of the "
                f"current {cfg.plan.horizon}-step plan) | goal image",
            )
        )
    media.append(Media("goals.png", png_bytes(upscale(np.concatenate(list(goal), 1), 2)),
                       "the goal images of the planned episodes"))  # fmt: skip
    return media
