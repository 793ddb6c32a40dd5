"""Gymnasium views of TwoRoom: a single env, a batched vector env, and the "monde/TwoRoom-v0" id.

Observations are {"rgb": frame, "goal_rgb": goal frame} uint8 (Hp, Wp, 3); actions are (2,)
float32 in [-1, 1]; reward = -distance to the goal; terminated = success. Both classes drive one
batched `TwoRoom` (no subprocesses). This module knows nothing about models or torch.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from monde.envs.registry import build_config
from monde.envs.two_room import TwoRoom, TwoRoomConfig

ENV_ID = "monde/TwoRoom-v0"
MAX_EPISODE_STEPS = 200
_SEED_HIGH = 2**31 - 1  # task seeds drawn from np_random lie in [0, _SEED_HIGH)


def _config(cfg: TwoRoomConfig | None, overrides: dict[str, Any]) -> TwoRoomConfig:
    if cfg is not None and overrides:
        raise ValueError("pass either cfg or TwoRoomConfig overrides, not both")
    return cfg if cfg is not None else build_config(TwoRoomConfig, overrides)


def _observation_space(image_size: int) -> spaces.Dict:
    frame = spaces.Box(0, 255, (image_size, image_size, 3), np.uint8)
    return spaces.Dict({"rgb": frame, "goal_rgb": frame})


class TwoRoomGymEnv(gymnasium.Env):
    """One TwoRoom episode as a `gymnasium.Env`; truncation comes from the registered TimeLimit.

    reset(seed=s) plays the same task as `TwoRoom.reset([s])`; with seed=None the task seed is
    drawn from `self.np_random`.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(
        self, render_mode: str | None = None, cfg: TwoRoomConfig | None = None, **overrides: Any
    ) -> None:
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.render_mode = render_mode
        self.cfg = _config(cfg, overrides)
        self.env = TwoRoom(1, self.cfg)
        self.observation_space = _observation_space(self.cfg.image_size)
        self.action_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
        self._frame: np.ndarray | None = None  # (Hp, Wp, 3)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        super().reset(seed=seed)
        task_seed = seed if seed is not None else int(self.np_random.integers(_SEED_HIGH))
        self._frame = self.env.reset([task_seed])[0]
        return self._obs(), self._info()

    def step(
        self, action: np.ndarray
    ) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        action = np.asarray(action, dtype=np.float32).reshape(1, 2)  # (B=1, 2)
        self._frame = self.env.step(action)[0]
        reward = -float(self.env.distance_to_goal()[0])
        terminated = bool(self.env.is_success()[0])
        return self._obs(), reward, terminated, False, self._info()

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array" or self._frame is None:
            return None
        return self._frame.copy()

    def _obs(self) -> dict[str, np.ndarray]:
        return {"rgb": self._frame.copy(), "goal_rgb": self.env.goal_rgb()[0]}

    def _info(self) -> dict[str, Any]:
        return {
            "state": self.env.state()[0],
            "goal_state": self.env.goal_state()[0],
            "is_success": bool(self.env.is_success()[0]),
        }


class TwoRoomVectorEnv(gymnasium.vector.VectorEnv):
    """`num_envs` TwoRoom episodes in one batched numpy env, with NEXT_STEP autoreset.

    Autoreset (gymnasium's default NEXT_STEP mode): the step where an env terminates (success) or
    truncates (`max_episode_steps` reached) returns its final observation; on the next `step` that
    env ignores its action, starts a new task (seed drawn from `self.np_random`) and returns the
    new start observation with reward 0 and terminated = truncated = False.
    """

    metadata = {
        "render_modes": ["rgb_array"],
        "render_fps": 10,
        "autoreset_mode": AutoresetMode.NEXT_STEP,
    }

    def __init__(
        self,
        num_envs: int = 1,
        max_episode_steps: int | None = MAX_EPISODE_STEPS,
        render_mode: str | None = None,
        cfg: TwoRoomConfig | None = None,
        **overrides: Any,
    ) -> None:
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.render_mode = render_mode
        self.cfg = _config(cfg, overrides)
        self.env = TwoRoom(num_envs, self.cfg)
        self.num_envs = self.env.num_envs
        self.max_episode_steps = max_episode_steps
        self.single_observation_space = _observation_space(self.cfg.image_size)
        self.single_action_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._frames: np.ndarray | None = None  # (B, Hp, Wp, 3)
        self._elapsed = np.zeros(self.num_envs, dtype=np.int64)  # steps in the current episode
        self._autoreset = np.zeros(self.num_envs, dtype=bool)  # envs to reset at the next step

    def reset(
        self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Reset all envs. seed: int s -> env i uses s + i; a list gives one seed per env."""
        if isinstance(seed, (list, tuple)):
            if len(seed) != self.num_envs:
                raise ValueError(f"need {self.num_envs} seeds, got {len(seed)}")
            seeds = [int(s) for s in seed]
            super().reset(seed=seeds[0])
        else:
            super().reset(seed=seed)
            if seed is None:
                seeds = self.np_random.integers(_SEED_HIGH, size=self.num_envs).tolist()
            else:
                seeds = [seed + i for i in range(self.num_envs)]
        self._frames = self.env.reset(seeds)
        self._elapsed[:] = 0
        self._autoreset[:] = False
        return self._obs(), self._info()

    def step(
        self, actions: np.ndarray
    ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        if self._frames is None:
            raise RuntimeError("TwoRoomVectorEnv: call reset() before step()")
        actions = np.asarray(actions, dtype=np.float32).copy()  # (B, 2)
        restart = np.flatnonzero(self._autoreset)
        if len(restart):
            actions[restart] = 0.0  # ignored: these envs are reset below
        self._frames = self.env.step(actions)
        self._elapsed += 1
        if len(restart):
            seeds = self.np_random.integers(_SEED_HIGH, size=len(restart)).tolist()
            self._frames[restart] = self.env.reset_at(restart, seeds)
            self._elapsed[restart] = 0

        rewards = -self.env.distance_to_goal().astype(np.float64)
        terminated = self.env.is_success()
        truncated = np.zeros(self.num_envs, dtype=bool)
        if self.max_episode_steps is not None:
            truncated = self._elapsed >= self.max_episode_steps
        rewards[restart] = 0.0
        terminated[restart] = False
        truncated[restart] = False
        self._autoreset = terminated | truncated
        return self._obs(), rewards, terminated, truncated, self._info()

    def render(self) -> tuple[np.ndarray, ...] | None:
        if self.render_mode != "rgb_array" or self._frames is None:
            return None
        return tuple(self._frames.copy())

    def _obs(self) -> dict[str, np.ndarray]:
        return {"rgb": self._frames.copy(), "goal_rgb": self.env.goal_rgb()}

    def _info(self) -> dict[str, Any]:
        everyone = np.ones(self.num_envs, dtype=bool)
        return {
            "state": self.env.state(),
            "goal_state": self.env.goal_state(),
            "is_success": self.env.is_success(),
            "_state": everyone,
            "_goal_state": everyone.copy(),
            "_is_success": everyone.copy(),
        }


def register() -> None:
    """Register ENV_ID with gymnasium (idempotent)."""
    if ENV_ID in gymnasium.registry:
        return
    gymnasium.register(
        id=ENV_ID,
        entry_point="monde.envs.gym_adapter:TwoRoomGymEnv",
        vector_entry_point="monde.envs.gym_adapter:TwoRoomVectorEnv",
        max_episode_steps=MAX_EPISODE_STEPS,
    )


register()
