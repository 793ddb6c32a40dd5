"""Any Gymnasium environment that renders `rgb_array`, as a Monde goal-reaching task.

Nothing is known about the environment's state, so goals are made by replay: after the reset
with seed s, the collection policy (uniform random actions seeded by s) runs `goal_steps` steps;
the frame and observation reached are the goal, and the environment is reset with s again, which
returns it to the same start. The state is the flattened observation; success is a distance
test on the observation dims the user names (`success_dims`, all by default) with a threshold
(`success_distance`). Frames are the environment's render, resized to `image_size` by nearest
neighbour when it renders another size. Arbitrary states cannot be rendered (`render_states`
raises). Knows nothing about models or torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from monde.envs.gym_batch import GymBatch


@dataclass
class GenericConfig:
    env_id: str = "Pendulum-v1"
    """the Gymnasium id to make (any environment with render_mode 'rgb_array')"""
    env_kwargs: dict = field(default_factory=dict)
    """keyword arguments for gymnasium.make"""
    image_size: int = 64
    """frames are resized (nearest neighbour) to image_size x image_size RGB"""
    goal_steps: int = 25
    """the goal is the state reached after this many random-policy steps from the start"""
    success_dims: tuple[int, ...] = ()
    """observation dims compared by the success test (empty: all)"""
    success_distance: float = 0.1
    """success if those dims are closer than this (Euclidean) to the goal's"""

    def __post_init__(self) -> None:
        self.success_dims = tuple(int(d) for d in self.success_dims)
        if self.goal_steps < 1:
            raise ValueError(f"goal_steps must be ≥ 1, got {self.goal_steps}")


def resize_nearest(frame: np.ndarray, size: int) -> np.ndarray:
    """(H, W, 3) → (size, size, 3) by nearest-neighbour sampling."""
    rows = (np.arange(size) * frame.shape[0] // size).clip(0, frame.shape[0] - 1)
    cols = (np.arange(size) * frame.shape[1] // size).clip(0, frame.shape[1] - 1)
    return frame[rows][:, cols]


class GenericTask:
    """A `GymTask` for an arbitrary Gymnasium environment with a Box action space."""

    def __init__(self, cfg: GenericConfig) -> None:
        import gymnasium as gym

        self.cfg = cfg
        probe = gym.make(cfg.env_id, **cfg.env_kwargs)
        space = probe.action_space
        if not isinstance(space, gym.spaces.Box) or not np.isfinite(space.low).all():
            raise ValueError(
                f"{cfg.env_id}: Monde needs a bounded continuous (Box) action space, got {space}"
            )
        self.low, self.high = space.low.astype(np.float64), space.high.astype(np.float64)
        self.action_dim = int(np.prod(space.shape))
        obs, _ = probe.reset(seed=0)
        self.state_names = tuple(f"obs{i}" for i in range(np.asarray(obs).size))
        probe.close()

    def make(self) -> Any:
        import gymnasium as gym

        env = gym.make(self.cfg.env_id, render_mode="rgb_array", **self.cfg.env_kwargs)
        return _LastObservation(env)

    def get_state(self, env: Any) -> np.ndarray:
        return np.asarray(env.last_obs, dtype=np.float64).ravel()

    def set_state(self, env: Any, state: np.ndarray) -> None:
        raise NotImplementedError(
            f"{self.cfg.env_id}: a generic Gymnasium environment cannot be put in a given state"
        )

    def make_goal(self, env: Any, seed: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(seed)
        for _ in range(self.cfg.goal_steps):
            env.step(self.env_action(env, rng.uniform(-1.0, 1.0, self.action_dim)))
        goal, frame = self.get_state(env), self.render(env)
        env.reset(seed=seed)  # back to the same start
        return goal, frame

    def is_success(self, state: np.ndarray, goal: np.ndarray) -> bool:
        dims = list(self.cfg.success_dims) or slice(None)
        return bool(np.linalg.norm(state[dims] - goal[dims]) < self.cfg.success_distance)

    def env_action(self, env: Any, action: np.ndarray) -> np.ndarray:
        scaled = self.low + (action + 1.0) * 0.5 * (self.high - self.low)
        return scaled.astype(np.float32).reshape(env.action_space.shape)

    def render(self, env: Any) -> np.ndarray:
        frame = np.asarray(env.render(), dtype=np.uint8)
        if frame.shape[:2] != (self.cfg.image_size, self.cfg.image_size):
            frame = resize_nearest(frame, self.cfg.image_size)
        return np.ascontiguousarray(frame)


class _LastObservation:
    """Wraps a Gymnasium env and remembers the observation of its last reset or step."""

    def __init__(self, env: Any) -> None:
        self.env, self.last_obs = env, None
        self.action_space = env.action_space

    def reset(self, **kwargs: Any) -> tuple:
        self.last_obs, info = self.env.reset(**kwargs)
        return self.last_obs, info

    def step(self, action: np.ndarray) -> tuple:
        out = self.env.step(action)
        self.last_obs = out[0]
        return out

    def render(self) -> np.ndarray:
        return self.env.render()

    def close(self) -> None:
        self.env.close()


def GenericGym(num_envs: int, cfg: GenericConfig | None = None) -> GymBatch:  # noqa: N802
    """`num_envs` copies of any Gymnasium environment behind Monde's Env protocol."""
    cfg = cfg or GenericConfig()
    return GymBatch(num_envs, GenericTask(cfg), cfg.image_size)
