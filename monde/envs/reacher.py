"""Reacher: Gymnasium's two-link arm (`Reacher-v5`, MuJoCo) as a Monde goal-reaching task.

The goal is an arm pose: both joint angles drawn at random, the arm rendered there from above.
The environment's target marker is moved to the goal's fingertip, so it shows in the start and
the goal frames alike. Success: the fingertip within `success_distance` of the goal fingertip
with both joints slower than `success_speed` (an arm swinging through the goal has not reached
it). State: [joint0 (wrapped to (−π, π]), joint1, joint0_vel, joint1_vel, target_x, target_y,
tip_x, tip_y]; the fingertip columns are forward kinematics of the joints, the proprioception a
robot arm reports (`PROPRIO`).
Needs the `mujoco` extra. Knows nothing about models or torch.
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

LINK0, LINK1 = 0.1, 0.11  # arm link lengths (m) in Reacher-v5's model


@dataclass
class ReacherConfig:
    image_size: int = 64
    """rendered frames are image_size x image_size RGB"""
    success_distance: float = 0.02
    """success if the fingertip is closer than this (m) to the goal fingertip …"""
    success_speed: float = 1.0
    """… and both joints turn slower than this (rad/s)"""
    min_goal_distance: float = 0.1
    """goal fingertips are drawn at least this far (m) from the start fingertip"""
    camera_distance: float = 0.55
    """distance (m) of the top-down camera; the arm reaches 0.21 m"""
    link_radius: float = 0.02
    """drawn radius (m) of the arm links (0.01 in the model; thicker reads better at 64 px)"""
    depth: bool = False
    """render RGB-D frames: a fourth channel of height above the floor (0 to 5 cm)"""


def fingertip(joints: np.ndarray) -> np.ndarray:
    """(…, 2) joint angles → (…, 2) fingertip position (forward kinematics)."""
    a0, a01 = joints[..., 0], joints[..., 0] + joints[..., 1]
    return np.stack(
        [LINK0 * np.cos(a0) + LINK1 * np.cos(a01), LINK0 * np.sin(a0) + LINK1 * np.sin(a01)], -1
    )


PROPRIO = ("tip_x", "tip_y", "joint1", "joint0_vel", "joint1_vel")
"""the state columns a real arm senses: fingertip (forward kinematics), elbow angle, joint speeds"""


class ReacherTask:
    state_names = (
        *("joint0", "joint1", "joint0_vel", "joint1_vel"),
        *("target_x", "target_y", "tip_x", "tip_y"),
    )
    action_dim = 2

    def __init__(self, cfg: ReacherConfig) -> None:
        self.cfg = cfg

    def make(self) -> Any:
        prepare_headless()
        gym = require("gymnasium", "mujoco")
        require("mujoco", "mujoco")
        env = gym.make(
            "Reacher-v5",
            render_mode="rgb_array",
            width=self.cfg.image_size,
            height=self.cfg.image_size,
            default_camera_config=top_down_camera(self.cfg.camera_distance),
        )
        model = env.unwrapped.model
        fast_render(model)
        for name in ("link0", "link1"):  # visual only: Reacher's geoms do not collide
            model.geom(name).size[0] = self.cfg.link_radius
        return env

    def get_state(self, env: Any) -> np.ndarray:
        data = env.unwrapped.data
        joints = data.qpos[:2].astype(np.float64)
        joints[0] = np.pi - (np.pi - joints[0]) % (2 * np.pi)  # the free shoulder, in (−π, π]
        return np.concatenate([joints, data.qvel[:2], data.qpos[2:4], fingertip(joints)])

    def set_state(self, env: Any, state: np.ndarray) -> None:
        qpos = np.concatenate([state[0:2], state[4:6]])
        qvel = np.concatenate([state[2:4], np.zeros(2)])
        env.unwrapped.set_state(qpos, qvel)

    def make_goal(self, env: Any, seed: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(seed)
        start = self.get_state(env)
        for _ in range(1000):
            joints = np.array([rng.uniform(-np.pi, np.pi), rng.uniform(-2.6, 2.6)])
            tip = fingertip(joints)
            if np.linalg.norm(tip - fingertip(start[:2])) >= self.cfg.min_goal_distance:
                break
        start[4:6] = tip  # the target marker shows the goal fingertip in every frame
        self.set_state(env, start)
        return goal_by_setting_state(self, env, np.concatenate([joints, [0.0, 0.0], tip, tip]))

    def is_success(self, state: np.ndarray, goal: np.ndarray) -> bool:
        gap = np.linalg.norm(fingertip(state[:2]) - fingertip(goal[:2]))
        still = np.abs(state[2:4]).max() < self.cfg.success_speed
        return bool(gap < self.cfg.success_distance and still)

    def env_action(self, env: Any, action: np.ndarray) -> np.ndarray:
        return action.astype(np.float32)  # joint torques, already in [−1, 1]

    def render(self, env: Any) -> np.ndarray:
        if self.cfg.depth:
            return render_rgbd(env.unwrapped, self.cfg.camera_distance, height=0.05)
        return np.ascontiguousarray(env.render(), dtype=np.uint8)


def Reacher(num_envs: int, cfg: ReacherConfig | None = None) -> GymBatch:  # noqa: N802
    """`num_envs` batched Reacher arms behind Monde's Env protocol."""
    cfg = cfg or ReacherConfig()
    return GymBatch(num_envs, ReacherTask(cfg), cfg.image_size, 4 if cfg.depth else 3)
