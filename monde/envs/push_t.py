"""PushT: push a T-shaped block to a goal pose with a round pusher (the `gym-pusht` package).

Monde's actions are pusher displacements: a ∈ [−1, 1]² moves the pusher's target position by
a·max_move pixels (of the 512-pixel arena), which the environment's PD controller tracks. A reset
puts pusher and block where the environment's own reset does; the goal pose is the block pushed
`goal_shift` pixels in a random direction and turned by up to `goal_turn` radians (clipped to the
arena), with the pusher `pusher_standoff` pixels behind the block along the push, where a push
leaves it, rendered by the environment. (A goal frame with the pusher anywhere asks the planner
to match a pusher position that has nothing to do with the block, and the latent distance is
dominated by it.) The environment's fixed green target T is drawn in every frame; it is
background, not our goal. Success: block position within `success_distance` pixels and angle
within `success_angle` radians of the goal pose.
State: [pusher_x, pusher_y, block_x, block_y, block_angle]. Needs the `pusht` extra.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from monde.envs.gym_batch import GymBatch, goal_by_setting_state
from monde.envs.mujoco_render import require

ARENA = 512.0  # arena side in pixels


def angle_gap(a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
    """|a − b| wrapped to [0, π]."""
    return np.abs((np.asarray(a) - np.asarray(b) + np.pi) % (2 * np.pi) - np.pi)


@dataclass
class PushTConfig:
    image_size: int = 64
    """rendered frames are image_size x image_size RGB"""
    max_move: float = 40.0
    """pixels the pusher target moves per unit action"""
    goal_shift: tuple[float, float] = (40.0, 100.0)
    """range of the block's goal displacement (pixels); a direction is redrawn until the goal,
    kept inside the arena, lies at least the lower bound away"""
    goal_turn: float = 0.8
    """largest goal rotation of the block (radians)"""
    pusher_standoff: float = 100.0
    """the goal frame's pusher sits this far (pixels) behind the block, against the push"""
    success_distance: float = 20.0
    """success if the block is this close (pixels) to its goal position..."""
    success_angle: float = 0.3
    """...and this close (radians) to its goal angle"""

    def __post_init__(self) -> None:
        self.goal_shift = tuple(float(v) for v in self.goal_shift)


class PushTTask:
    state_names = ("pusher_x", "pusher_y", "block_x", "block_y", "block_angle")
    action_dim = 2
    observation_is_frame = True  # obs_type "pixels": step returns the frame render gives

    def __init__(self, cfg: PushTConfig) -> None:
        self.cfg = cfg

    def make(self) -> Any:
        gym = require("gymnasium", "pusht")
        require("gym_pusht", "pusht")
        return gym.make(
            "gym_pusht/PushT-v0",
            obs_type="pixels",
            observation_width=self.cfg.image_size,
            observation_height=self.cfg.image_size,
        )

    def get_state(self, env: Any) -> np.ndarray:
        u = env.unwrapped
        return np.array([*u.agent.position, *u.block.position, u.block.angle], dtype=np.float64)

    def set_state(self, env: Any, state: np.ndarray) -> None:
        # Not gym-pusht's reset_to_state: for legacy data it sets the block's position before its
        # angle, and turning about the centre of mass then moves the block (by up to ~90 px), so
        # the pose it sets is not the pose asked for. Angle first, then position, at rest.
        u = env.unwrapped
        u.agent.position = (float(state[0]), float(state[1]))
        u.agent.velocity = (0.0, 0.0)
        u.block.angle = float(state[4])
        u.block.position = (float(state[2]), float(state[3]))
        u.block.velocity, u.block.angular_velocity = (0.0, 0.0), 0.0
        for body in (u.agent, u.block):  # refresh the shapes' cached world vertices for drawing
            u.space.reindex_shapes_for_body(body)

    def make_goal(self, env: Any, seed: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(seed)
        start = self.get_state(env)
        shift = rng.uniform(*self.cfg.goal_shift)
        best = start[2:4]
        for _ in range(100):  # near a wall, clipping can pull the goal back onto the start
            heading = rng.uniform(0, 2 * np.pi)
            offset = shift * np.array([np.cos(heading), np.sin(heading)])
            block = np.clip(start[2:4] + offset, 130, ARENA - 130)  # the whole T stays in view
            if np.linalg.norm(block - start[2:4]) > np.linalg.norm(best - start[2:4]):
                best = block
            if np.linalg.norm(block - start[2:4]) >= self.cfg.goal_shift[0]:
                break
        block = best
        angle = start[4] + rng.uniform(-self.cfg.goal_turn, self.cfg.goal_turn)
        push = block - start[2:4]  # (2,) the block's displacement
        push = push / max(float(np.linalg.norm(push)), 1e-6)
        pusher = np.clip(block - self.cfg.pusher_standoff * push, 20, ARENA - 20)
        return goal_by_setting_state(self, env, np.array([*pusher, *block, angle]))

    def is_success(self, state: np.ndarray, goal: np.ndarray) -> bool:
        near = np.linalg.norm(state[2:4] - goal[2:4]) < self.cfg.success_distance
        return bool(near and angle_gap(state[4], goal[4]) < self.cfg.success_angle)

    def env_action(self, env: Any, action: np.ndarray) -> np.ndarray:
        pusher = np.array(env.unwrapped.agent.position)
        return np.clip(pusher + action * self.cfg.max_move, 0.0, ARENA)

    def render(self, env: Any) -> np.ndarray:
        return np.ascontiguousarray(env.unwrapped.get_obs(), dtype=np.uint8)


def PushT(num_envs: int, cfg: PushTConfig | None = None) -> GymBatch:  # noqa: N802
    """`num_envs` batched PushT tables behind Monde's Env protocol."""
    cfg = cfg or PushTConfig()
    return GymBatch(num_envs, PushTTask(cfg), cfg.image_size)
