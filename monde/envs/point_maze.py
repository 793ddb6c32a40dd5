"""PointMaze (UMaze, Medium): gymnasium-robotics' force-driven ball in a maze, as a Monde task.

Seen from straight above. A reset puts the ball where the environment's own reset does; the goal
is a random free cell (with the environment's ±0.25-cell jitter) at least `min_goal_distance`
from the start. The environment's target marker is hidden: it would cover the ball in the goal
image. Success: the ball within `success_distance` of the goal (0.45, the environment's own
threshold). State: [x, y, vx, vy]. Needs the `mujoco` extra. Knows nothing about models or torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from monde.envs.gym_batch import GymBatch, goal_by_setting_state
from monde.envs.mujoco_render import (
    fast_render,
    prepare_headless,
    render_rgbd,
    require,
    top_down_camera,
)

MAZES = {"umaze": ("PointMaze_UMaze-v3", 4.6), "medium": ("PointMaze_Medium-v3", 7.4)}
"""maze name → (Gymnasium id, top-down camera distance that frames the whole maze)"""


@dataclass
class PointMazeConfig:
    maze: str = "umaze"
    """'umaze' or 'medium'"""
    image_size: int = 64
    """rendered frames are image_size x image_size RGB"""
    success_distance: float = 0.45
    """success if the ball is closer than this to the goal (maze units; a cell is 1)"""
    min_goal_distance: float = 1.5
    """goals are drawn at least this far from the start (straight-line, maze units)"""
    depth: bool = False
    """render RGB-D frames: a fourth channel of height above the floor (0 to the wall top)"""

    def __post_init__(self) -> None:
        if self.maze not in MAZES:
            raise ValueError(f"maze must be one of {sorted(MAZES)}, got {self.maze!r}")


class PointMazeTask:
    state_names = ("x", "y", "vx", "vy")
    action_dim = 2

    def __init__(self, cfg: PointMazeConfig) -> None:
        self.cfg = cfg

    def make(self) -> Any:
        prepare_headless()
        gym = require("gymnasium", "mujoco")
        robotics = require("gymnasium_robotics", "mujoco")
        gym.register_envs(robotics)
        env_id, distance = MAZES[self.cfg.maze]
        env = gym.make(
            env_id,
            render_mode="rgb_array",
            width=self.cfg.image_size,
            height=self.cfg.image_size,
            continuing_task=True,
            reset_target=False,
        )
        point = env.unwrapped.point_env
        fast_render(point.model)
        point.model.site_rgba[env.unwrapped.target_site_id, 3] = 0.0  # hide the target marker
        point.mujoco_renderer.default_cam_config = top_down_camera(distance)
        return env

    def get_state(self, env: Any) -> np.ndarray:
        data = env.unwrapped.point_env.data
        return np.concatenate([data.qpos[:2], data.qvel[:2]]).astype(np.float64)

    def set_state(self, env: Any, state: np.ndarray) -> None:
        env.unwrapped.point_env.set_state(state[:2].copy(), state[2:4].copy())

    def free_cells(self, env: Any) -> np.ndarray:
        """(N, 2) xy centres of the maze's open cells."""
        maze = env.unwrapped.maze
        rows, cols = np.nonzero(np.array(maze.maze_map, dtype=object) != 1)
        return np.stack(
            [maze.cell_rowcol_to_xy(np.array(rc)) for rc in zip(rows, cols, strict=True)]
        )

    def make_goal(self, env: Any, seed: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(seed)
        start_xy = self.get_state(env)[:2]
        cells = self.free_cells(env)
        far = cells[np.linalg.norm(cells - start_xy, axis=1) >= self.cfg.min_goal_distance]
        cells = far if len(far) else cells
        xy = cells[rng.integers(len(cells))] + rng.uniform(-0.25, 0.25, 2)
        return goal_by_setting_state(self, env, np.concatenate([xy, [0.0, 0.0]]))

    def is_success(self, state: np.ndarray, goal: np.ndarray) -> bool:
        return bool(np.linalg.norm(state[:2] - goal[:2]) < self.cfg.success_distance)

    def env_action(self, env: Any, action: np.ndarray) -> np.ndarray:
        return action.astype(np.float32)  # forces, already in [−1, 1]

    def render(self, env: Any) -> np.ndarray:
        if self.cfg.depth:
            distance = MAZES[self.cfg.maze][1]
            maze = env.unwrapped.maze
            height = maze.maze_height * maze.maze_size_scaling  # the top of the walls
            return render_rgbd(env.unwrapped.point_env, distance, height)
        return np.ascontiguousarray(env.render(), dtype=np.uint8)


def PointMaze(num_envs: int, cfg: PointMazeConfig | None = None) -> GymBatch:  # noqa: N802
    """`num_envs` batched PointMazes behind Monde's Env protocol."""
    cfg = cfg or PointMazeConfig()
    return GymBatch(num_envs, PointMazeTask(cfg), cfg.image_size, 4 if cfg.depth else 3)
