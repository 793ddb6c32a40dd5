"""Collection policies, and the factories `monde.registry.POLICIES` names (data.policy).

TwoRoom's DoorExplorer lives in exploration.py. A policy has `reset(states)` at the start of a
batch of episodes and `act(states) → actions` (B, A) in [−1, 1]. Seeded by a numpy Generator:
the same seed gives the same actions for the same states. Knows nothing about models or torch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from monde.envs.base import Env
from monde.envs.exploration import DoorExplorer
from monde.registry import POLICIES, resolve


class RandomPolicy:
    """Uniform random actions in [−1, 1]."""

    def __init__(self, action_dim: int, num_envs: int, seed: int):
        self.rng = np.random.default_rng(seed)
        self.shape = (num_envs, action_dim)

    def reset(self, states: np.ndarray) -> None:
        pass

    def act(self, states: np.ndarray | None) -> np.ndarray:
        return self.rng.uniform(-1.0, 1.0, self.shape).astype(np.float32)


class SmoothRandomPolicy:
    """Random actions held for a random number of steps, plus Gaussian jitter.

    Holding an action moves an arm or a ball much further than independent noise would (which
    mostly cancels out), so episodes cover more of the state space.
    """

    def __init__(
        self,
        action_dim: int,
        num_envs: int,
        seed: int,
        hold: tuple[int, int] = (2, 8),
        jitter: float = 0.2,
    ) -> None:
        self.rng = np.random.default_rng(seed)
        self.action_dim, self.num_envs = action_dim, num_envs
        self.hold, self.jitter = hold, jitter
        self._action = np.zeros((num_envs, action_dim))
        self._left = np.zeros(num_envs, dtype=np.int64)  # steps the current action still holds

    def reset(self, states: np.ndarray) -> None:
        self._left[:] = 0

    def act(self, states: np.ndarray | None) -> np.ndarray:
        fresh = self._left <= 0
        n = int(fresh.sum())
        self._action[fresh] = self.rng.uniform(-1, 1, (n, self.action_dim))
        self._left[fresh] = self.rng.integers(self.hold[0], self.hold[1] + 1, n)
        self._left -= 1
        noise = self.rng.normal(0, self.jitter, self._action.shape)
        return np.clip(self._action + noise, -1, 1).astype(np.float32)


class PushTPusher:
    """Scripted PushT pushes: go behind the block on a random side, then push through it.

    Random actions barely touch the T; this policy makes contact in most episodes and, since the
    side and the aim point (off the block's centre, which turns it) are drawn at random, covers
    pushes and turns in every direction. With probability `p_random` a step is a random action.
    States are PushT's [pusher_x, pusher_y, block_x, block_y, block_angle] in pixels; actions
    are pusher moves in units of `max_move` pixels.
    """

    def __init__(
        self,
        num_envs: int,
        seed: int,
        max_move: float = 40.0,
        standoff: float = 90.0,
        push_steps: tuple[int, int] = (4, 12),
        p_random: float = 0.1,
    ) -> None:
        self.rng = np.random.default_rng(seed)
        self.num_envs, self.max_move, self.standoff = num_envs, max_move, standoff
        self.push_steps, self.p_random = push_steps, p_random
        self._direction = np.zeros((num_envs, 2))  # (B, 2) unit push direction
        self._aim = np.zeros((num_envs, 2))  # (B, 2) offset of the aim point from the block
        self._pushing = np.zeros(num_envs, dtype=np.int64)  # push steps left; 0 = approaching
        self._age = np.zeros(num_envs, dtype=np.int64)  # steps since the push was planned

    def reset(self, states: np.ndarray) -> None:
        self._plan(np.ones(self.num_envs, dtype=bool))

    def _plan(self, mask: np.ndarray) -> None:
        n = int(mask.sum())
        heading = self.rng.uniform(0, 2 * np.pi, n)
        self._direction[mask] = np.stack([np.cos(heading), np.sin(heading)], 1)
        self._aim[mask] = self.rng.normal(0, 25.0, (n, 2))
        self._pushing[mask] = 0
        self._age[mask] = 0

    def act(self, states: np.ndarray) -> np.ndarray:
        states = np.asarray(states, dtype=np.float64)
        pusher, target = states[:, 0:2], states[:, 2:4] + self._aim
        approach = target - self.standoff * self._direction  # behind the block
        arrived = np.linalg.norm(approach - pusher, axis=1) < 15.0
        start = (self._pushing == 0) & arrived
        self._pushing[start] = self.rng.integers(*self.push_steps, int(start.sum()))
        pushing = self._pushing > 0
        goal = np.where(pushing[:, None], pusher + self.max_move * self._direction, approach)
        move = (goal - pusher) / self.max_move
        move += self.rng.normal(0, 0.15, move.shape)
        self._pushing[pushing] -= 1
        self._age += 1
        self._plan((pushing & (self._pushing == 0)) | (self._age > 40))
        random = self.rng.random(self.num_envs) < self.p_random
        move[random] = self.rng.uniform(-1, 1, (int(random.sum()), 2))
        return np.clip(move, -1, 1).astype(np.float32)


class EpisodeMixture:
    """Each episode of a batch follows one of two policies, drawn at its start: `other` with
    probability `share`, else `main`.

    Both policies see every step (their random streams then do not depend on the draw), and the
    draw comes from the mixture's own generator, so the same seed gives the same episodes.
    """

    def __init__(self, main: Any, other: Any, num_envs: int, seed: int, share: float) -> None:
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"share must be in [0, 1], got {share}")
        self.main, self.other, self.share = main, other, share
        self.rng = np.random.default_rng([seed, 1])  # a stream apart from the policies' own
        self.uses_other = np.zeros(num_envs, dtype=bool)  # (B,) this episode follows `other`

    def reset(self, states: np.ndarray) -> None:
        self.main.reset(states)
        self.other.reset(states)
        self.uses_other = self.rng.random(len(self.uses_other)) < self.share

    def act(self, states: np.ndarray) -> np.ndarray:
        actions = self.main.act(states)  # (B, A)
        other = self.other.act(states)  # (B, A)
        actions[self.uses_other] = other[self.uses_other]
        return actions


# Share of `pusht_pusher_and_free` episodes that move the pusher by held random actions: the
# pusher then mostly moves without the block, which `pusht_pusher` alone almost never shows
# (the block moves in 99 % of its 10-model-step windows, benchmarks/push_t_block_motion.py)
PUSHT_FREE_SHARE = 0.25


# The factories of monde.registry.POLICIES: (env, seed) → policy for env's num_envs copies.


def door_explorer(env: Env, seed: int) -> DoorExplorer:
    return DoorExplorer(getattr(env, "cfg", None), env.num_envs, seed)


def uniform_random(env: Env, seed: int) -> RandomPolicy:
    return RandomPolicy(env.action_dim, env.num_envs, seed)


def smooth_random(env: Env, seed: int) -> SmoothRandomPolicy:
    return SmoothRandomPolicy(env.action_dim, env.num_envs, seed)


def pusht_pusher(env: Env, seed: int) -> PushTPusher:
    return PushTPusher(env.num_envs, seed)


def pusht_pusher_and_free(env: Env, seed: int) -> EpisodeMixture:
    pusher = PushTPusher(env.num_envs, seed)
    # a stream apart from the pusher's (the same seed would repeat its draws)
    free_seed = int(np.random.SeedSequence([seed, 2]).generate_state(1)[0])
    free = SmoothRandomPolicy(env.action_dim, env.num_envs, free_seed)
    return EpisodeMixture(pusher, free, env.num_envs, seed, PUSHT_FREE_SHARE)


def make_policy(name: str, env: Env, seed: int) -> Any:
    """The collection policy registered as `name` (data.policy) for `env`, seeded by `seed`."""
    return resolve(POLICIES, "data.policy", name)(env, seed)
