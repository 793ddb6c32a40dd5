"""Goals on a recorded trajectory: the protocol of stable-worldmodel's published tables.

`ReplayGoals` wraps any Monde env. At each reset it runs the collection policy for `goal_steps`
steps from the start, takes the state and frame reached as the goal, and resets again with the
same seeds, which returns every env to the same start (resets are deterministic in the seed).
Success is the wrapped env's own test (`reaches`) against that recorded goal. Monde's own
protocol keeps the goals the environment samples; this one exists so that numbers can be set
beside the peers' line by line. Knows nothing about models or torch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from monde.envs.base import Env

PolicyFactory = Callable[[int], Any]
"""seed → a collection policy with reset(states) and act(states) → actions (B, A)"""


class ReplayGoals:
    """An `Env` whose goals are `goal_steps` policy steps ahead of the start."""

    def __init__(self, env: Env, make_policy: PolicyFactory, goal_steps: int) -> None:
        if goal_steps < 1:
            raise ValueError(f"goal_steps must be ≥ 1, got {goal_steps}")
        self.env, self.make_policy, self.goal_steps = env, make_policy, goal_steps
        self._goal_state: np.ndarray | None = None  # (B, S)
        self._goal_rgb: np.ndarray | None = None  # (B, Hp, Wp, C)

    def __getattr__(self, name: str) -> Any:  # num_envs, action_dim, state_names, …
        return getattr(self.env, name)

    def reset(self, seeds: Sequence[int]) -> np.ndarray:
        seeds = list(seeds)
        self.env.reset(seeds)
        policy = self.make_policy(int(seeds[0]))
        policy.reset(self.env.state())
        frames = None
        for _ in range(self.goal_steps):
            frames = self.env.step(policy.act(self.env.state()))
        self._goal_state, self._goal_rgb = self.env.state(), frames
        return self.env.reset(seeds)

    def _check_reset(self) -> None:
        if self._goal_state is None:
            raise RuntimeError("call reset(seeds) before asking for the goal")

    def goal_state(self) -> np.ndarray:
        self._check_reset()
        return self._goal_state.copy()

    def goal_rgb(self) -> np.ndarray:
        self._check_reset()
        return self._goal_rgb.copy()

    def is_success(self) -> np.ndarray:
        self._check_reset()
        return self.env.reaches(self.env.state(), self._goal_state)

    def reaches(self, states: np.ndarray, goals: np.ndarray) -> np.ndarray:
        return self.env.reaches(states, goals)
