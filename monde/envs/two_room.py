"""TwoRoom: a point agent in two rooms joined by a door, batched in numpy, rendered to RGB.

The arena is the unit square [0, 1]^2 (x right, y up) split by a vertical wall slab
[wall_x - t/2, wall_x + t/2] with one door opening [door_y - w/2, door_y + w/2]
(t = wall_thickness, w = door_width). The state per env is [agent_x, agent_y, wall_x, door_y].
Each reset samples a start in one room and a goal in the other.

Motion rule (exact, tunnel-free at any step size; see `move_agents`): the displacement
clip(action, -1, 1) * max_step is applied along x first, then along y.
  1. x move: clamp to the border [r, 1 - r]. If the agent's y is outside the door opening, the
     move stops a tiny `EPS` short of the wall face on the agent's side.
  2. y move: clamp to the border. If the agent's new x lies in the wall slab (the door corridor),
     y is clamped to the door opening (shrunk by `EPS`).
The agent is a point for the wall (the opening is not shrunk by its radius); `agent_radius` only
sets the drawn disk and the margin from the outer border. Why no tunnelling: x (the only move that
can change side) moves freely only along a horizontal segment at a y inside the opening, i.e.
through the door; the y move happens at fixed x and, inside the slab, stays inside the opening.
Hence the L-shaped path of every step avoids the solid wall, and by induction the agent is never
inside it (positions are stored as float32 and re-rounded after each axis, EPS >> float32 ulp).

This module knows nothing about models, training or torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

EPS = 1e-5  # how far short of a wall face / door edge a blocked agent stops
WALL_RGB = np.array([128, 128, 128], dtype=np.uint8)
AGENT_RGB = np.array([255, 0, 0], dtype=np.uint8)
BG_CACHE_BYTES = 32 * 2**20  # memory bound of the per-wall background cache of a TwoRoom


@dataclass
class TwoRoomConfig:
    image_size: int = 64
    """rendered frames are image_size x image_size RGB"""
    max_step: float = 0.05
    """displacement per env step = clip(action, -1, 1) * max_step per component"""
    wall_x: float = 0.5
    """x of the wall centre (when random_wall is False)"""
    door_y: float = 0.5
    """y of the door centre (when random_wall is False)"""
    wall_thickness: float = 0.06
    """width of the wall slab"""
    door_width: float = 0.2
    """height of the door opening"""
    random_wall: bool = False
    """sample wall_x and door_y per episode from wall_x_range and door_y_range"""
    wall_x_range: tuple[float, float] = (0.35, 0.65)
    """uniform range of wall_x when random_wall"""
    door_y_range: tuple[float, float] = (0.25, 0.75)
    """uniform range of door_y when random_wall"""
    agent_radius: float = 0.035
    """radius of the drawn agent disk and its keep-away margin from the outer border"""
    goal_radius: float = 0.08
    """success if the agent is closer than this to the goal"""
    min_goal_distance: float = 0.3
    """the goal is sampled at least this far from the start"""
    scene_split: str = "all"
    """with random_wall: 'all' scenes, or the 'train' / 'heldout' cells of a checkerboard (set by
    env.heldout_scenes: collection on 'train', evaluation on 'heldout')"""
    split_cells: int = 4
    """checkerboard cells per axis over (wall_x_range × door_y_range) for scene_split"""

    def __post_init__(self) -> None:
        self.wall_x_range = tuple(float(v) for v in self.wall_x_range)  # YAML gives lists
        self.door_y_range = tuple(float(v) for v in self.door_y_range)
        if len(self.wall_x_range) != 2 or len(self.door_y_range) != 2:
            raise ValueError("wall_x_range and door_y_range must be (low, high) pairs")
        if self.scene_split not in ("all", "train", "heldout"):
            raise ValueError(
                f"scene_split must be 'all', 'train' or 'heldout', got {self.scene_split!r}"
            )
        if self.scene_split != "all" and not self.random_wall:
            raise ValueError(
                "held-out scenes (env.heldout_scenes) need env.options.random_wall: true: with a "
                "fixed wall every scene is the same"
            )
        if self.split_cells < 1:
            raise ValueError(f"split_cells must be >= 1, got {self.split_cells}")
        if self.image_size < 8:
            raise ValueError(f"image_size must be >= 8, got {self.image_size}")
        for name in ("max_step", "wall_thickness", "door_width", "agent_radius", "goal_radius"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        r, t, h = self.agent_radius, self.wall_thickness, self.door_width / 2
        walls = self.wall_x_range if self.random_wall else (self.wall_x, self.wall_x)
        doors = self.door_y_range if self.random_wall else (self.door_y, self.door_y)
        if not (walls[0] <= walls[1] and doors[0] <= doors[1]):
            raise ValueError(f"ranges must be (low, high), got {walls} and {doors}")
        # Both rooms must hold a start at distance r from the border and the wall face.
        if walls[0] - t / 2 - 2 * r <= 0 or walls[1] + t / 2 + 2 * r >= 1:
            raise ValueError(f"wall x {walls} leaves no room for the agent on one side")
        if doors[0] - h < r or doors[1] + h > 1 - r:
            raise ValueError(f"door y {doors} +- {h} must lie within [{r}, {1 - r}]")


def sample_task(seed: int, cfg: TwoRoomConfig) -> tuple[np.ndarray, np.ndarray]:
    """Start and goal states (4,) float32 from one seed: start in a random room, goal in the other.

    Draw order (fixed, so the same seed gives the same task): wall, door (only if random_wall;
    redrawn until they fall in a cell of the wanted colour when scene_split is 'train' or
    'heldout'), room side, then start and goal by rejection until ||goal - start|| >=
    min_goal_distance. 'train' and 'heldout' scenes never share a checkerboard cell, so a model
    trained on one split is evaluated on wall and door positions at least a cell edge away from
    any it saw.
    """
    rng = np.random.default_rng(int(seed))
    wall_x, door_y = cfg.wall_x, cfg.door_y
    if cfg.random_wall:
        while True:
            u, v = rng.random(2)  # position within the wall and door ranges, in [0, 1)
            colour = (int(u * cfg.split_cells) + int(v * cfg.split_cells)) % 2
            if cfg.scene_split == "all" or colour == (cfg.scene_split == "heldout"):
                break
        (w0, w1), (d0, d1) = cfg.wall_x_range, cfg.door_y_range
        wall_x, door_y = float(w0 + u * (w1 - w0)), float(d0 + v * (d1 - d0))
    wall_x, door_y = float(np.float32(wall_x)), float(np.float32(door_y))  # as stored
    r, t = cfg.agent_radius, cfg.wall_thickness
    rooms = ((r, wall_x - t / 2 - r), (wall_x + t / 2 + r, 1 - r))  # x ranges: left, right
    start_room = int(rng.random() < 0.5)
    for _ in range(10_000):
        start = np.array([rng.uniform(*rooms[start_room]), rng.uniform(r, 1 - r)])
        goal = np.array([rng.uniform(*rooms[1 - start_room]), rng.uniform(r, 1 - r)])
        if np.linalg.norm(goal - start) >= cfg.min_goal_distance:
            break
    else:
        raise ValueError(f"cannot place a goal {cfg.min_goal_distance} from the start: {cfg}")
    make = lambda xy: np.array([xy[0], xy[1], wall_x, door_y], dtype=np.float32)  # noqa: E731
    return make(start), make(goal)


def move_agents(states: np.ndarray, delta: np.ndarray, cfg: TwoRoomConfig) -> np.ndarray:
    """New agent positions (B, 2) float32 after displacing states (B, 4) by delta (B, 2).

    Implements the axis-separated motion rule of the module docstring.
    """
    s = states.astype(np.float64)
    x, y, wall_x, door_y = s.T
    r, half_t, half_door = cfg.agent_radius, cfg.wall_thickness / 2, cfg.door_width / 2
    lo, hi = wall_x - half_t, wall_x + half_t  # wall faces
    in_door = np.abs(y - door_y) <= half_door

    # 1. x move; blocked at the face of the agent's side unless y is in the door opening.
    new_x = np.clip(x + delta[:, 0], r, 1 - r)
    left = x < wall_x
    blocked_x = np.where(left, np.minimum(new_x, lo - EPS), np.maximum(new_x, hi + EPS))
    new_x = np.where(in_door, new_x, blocked_x)
    new_x = new_x.astype(np.float32).astype(np.float64)  # round as stored before the y move

    # 2. y move; inside the wall slab (door corridor) y stays in the door opening.
    new_y = np.clip(y + delta[:, 1], r, 1 - r)
    in_slab = (new_x >= lo) & (new_x <= hi)
    door_lo, door_hi = door_y - half_door + EPS, door_y + half_door - EPS
    new_y = np.where(in_slab, np.clip(new_y, door_lo, door_hi), new_y)
    return np.stack([new_x, new_y], axis=1).astype(np.float32)


class TwoRoom:
    """`num_envs` TwoRoom episodes stepped together; satisfies `monde.envs.base.Env`."""

    action_dim = 2
    state_dim = 4
    state_names = ("agent_x", "agent_y", "wall_x", "door_y")

    def __init__(self, num_envs: int, cfg: TwoRoomConfig | None = None) -> None:
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        self.num_envs = int(num_envs)
        self.cfg = cfg if cfg is not None else TwoRoomConfig()
        self.image_size = self.cfg.image_size
        self.channels = 3
        self._state: np.ndarray | None = None  # (B, 4) float32
        self._goal: np.ndarray | None = None  # (B, 4) float32
        self._goal_rgb: np.ndarray | None = None  # (B, Hp, Wp, 3) uint8
        # Pixel-centre coordinates: column j has x = (j + .5) / S, row i has y = 1 - (i + .5) / S.
        size = self.image_size
        centres = (np.arange(size) + 0.5) / size
        self._px, self._py = centres, 1.0 - centres
        # Agent window: offsets around the nearest pixel that cover the disk.
        radius_px = self.cfg.agent_radius * size
        reach = int(np.ceil(radius_px)) + 1
        self._offsets = np.arange(-reach, reach + 1)  # (K,)
        self._radius_px2 = radius_px**2
        self._bg_cache: dict[int, np.ndarray] = {}  # wall bits -> (Hp, Wp, 3) wall-only frame
        self._bg_cache_size = max(64, BG_CACHE_BYTES // (size * size * 3))  # entries

    # --- episode control -------------------------------------------------------------------------

    def reset(self, seeds: Sequence[int]) -> np.ndarray:
        """Sample a task per env from seeds (len num_envs); returns start frames (B, Hp, Wp, 3)."""
        seeds = list(seeds)
        if len(seeds) != self.num_envs:
            raise ValueError(f"reset needs {self.num_envs} seeds (one per env), got {len(seeds)}")
        starts, goals = zip(*[sample_task(seed, self.cfg) for seed in seeds], strict=True)
        self._state, self._goal = np.stack(starts), np.stack(goals)
        self._goal_rgb = self.render_states(self._goal)
        return self.render_states(self._state)

    def reset_at(self, indices: Sequence[int], seeds: Sequence[int]) -> np.ndarray:
        """Re-sample the tasks of some envs only; returns their start frames (len(indices), ...)."""
        self._check_reset()
        idx = np.asarray(indices, dtype=np.int64)
        if len(idx) != len(seeds):
            raise ValueError(f"reset_at needs one seed per index, got {len(seeds)} for {len(idx)}")
        if len(idx) == 0:
            return np.zeros((0, self.image_size, self.image_size, 3), np.uint8)
        starts, goals = zip(*[sample_task(seed, self.cfg) for seed in seeds], strict=True)
        self._state[idx], self._goal[idx] = np.stack(starts), np.stack(goals)
        self._goal_rgb[idx] = self.render_states(self._goal[idx])
        return self.render_states(self._state[idx])

    def step(self, actions: np.ndarray) -> np.ndarray:
        """Move every agent by clip(actions, -1, 1) * max_step; returns frames (B, Hp, Wp, 3)."""
        self._check_reset()
        actions = np.asarray(actions, dtype=np.float64)
        expected = (self.num_envs, self.action_dim)
        if actions.shape != expected:
            raise ValueError(f"actions must have shape {expected}, got {actions.shape}")
        nan_rows = np.flatnonzero(np.isnan(actions).any(axis=1))
        if len(nan_rows):
            raise ValueError(f"actions contain NaN (env rows {nan_rows.tolist()})")
        delta = np.clip(actions, -1.0, 1.0) * self.cfg.max_step
        self._state[:, :2] = move_agents(self._state, delta, self.cfg)
        return self.render_states(self._state)

    def _check_reset(self) -> None:
        if self._state is None:
            raise RuntimeError("TwoRoom: call reset(seeds) before step(), state() or the goal")

    # --- queries ---------------------------------------------------------------------------------

    def state(self) -> np.ndarray:
        self._check_reset()
        return self._state.copy()

    def goal_state(self) -> np.ndarray:
        self._check_reset()
        return self._goal.copy()

    def goal_rgb(self) -> np.ndarray:
        self._check_reset()
        return self._goal_rgb.copy()

    def is_success(self) -> np.ndarray:
        self._check_reset()
        return self.reaches(self._state, self._goal)

    def reaches(self, states: np.ndarray, goals: np.ndarray) -> np.ndarray:
        """(B,) bool: whether each agent of states (B, 4) is within goal_radius of goals'."""
        gap = np.linalg.norm(np.asarray(states)[:, :2] - np.asarray(goals)[:, :2], axis=1)
        return gap < self.cfg.goal_radius

    def distance_to_goal(self) -> np.ndarray:
        """(B,) float32 Euclidean distance of each agent to its goal."""
        self._check_reset()
        return np.linalg.norm(self._state[:, :2] - self._goal[:, :2], axis=1)

    # --- rendering -------------------------------------------------------------------------------

    def render_states(self, states: np.ndarray) -> np.ndarray:
        """Render states (N, 4) to (N, Hp, Wp, 3) uint8: black floor, grey wall, red agent disk.

        A pixel is wall if its centre is in the slab and outside the door opening; it is agent
        (drawn on top) if its centre is within agent_radius of the agent.
        """
        states = np.asarray(states, dtype=np.float64)
        if states.ndim != 2 or states.shape[1] != self.state_dim:
            raise ValueError(f"states must be (N, {self.state_dim}), got {states.shape}")
        size = self.image_size
        if len(states) == 0:
            return np.zeros((0, size, size, 3), dtype=np.uint8)
        x, y = states[:, 0], states[:, 1]
        frames = self._backgrounds(states[:, 2:4])  # (N, Hp, Wp, 3) uint8, walls drawn

        # Agent: test only a small window of pixels around the nearest pixel, not the full frame.
        col_c, row_c = x * size - 0.5, (1.0 - y) * size - 0.5  # continuous pixel coords (N,)
        rows = np.rint(row_c).astype(np.int64)[:, None] + self._offsets  # (N, K)
        cols = np.rint(col_c).astype(np.int64)[:, None] + self._offsets  # (N, K)
        d2 = (rows - row_c[:, None])[:, :, None] ** 2 + (cols - col_c[:, None])[:, None, :] ** 2
        inside = d2 <= self._radius_px2  # (N, K, K)
        inside &= ((rows >= 0) & (rows < size))[:, :, None] & ((cols >= 0) & (cols < size))[:, None]
        n, ki, kj = np.nonzero(inside)
        frames[n, rows[n, ki], cols[n, kj]] = AGENT_RGB
        return frames

    def _backgrounds(self, walls: np.ndarray) -> np.ndarray:
        """Wall-only frames (N, Hp, Wp, 3) for walls (N, 2) = [wall_x, door_y], cached per wall."""
        keys = np.ascontiguousarray(walls, dtype=np.float32).view(np.uint64)[:, 0]  # (N,) bits
        uniq, inverse = np.unique(keys, return_inverse=True)
        missing = [k for k in uniq.tolist() if k not in self._bg_cache]
        if missing:
            if len(self._bg_cache) + len(missing) > self._bg_cache_size:
                self._bg_cache.clear()
            pairs = np.array(missing, dtype=np.uint64).view(np.float32).reshape(-1, 2)  # (M, 2)
            wall_x, door_y = pairs.astype(np.float64).T  # (M,) each
            cfg = self.cfg
            in_slab = np.abs(self._px[None] - wall_x[:, None]) <= cfg.wall_thickness / 2  # (M, Wp)
            solid = np.abs(self._py[None] - door_y[:, None]) > cfg.door_width / 2  # (M, Hp)
            wall = (solid[:, :, None] & in_slab[:, None, :]).view(np.uint8)  # (M, Hp, Wp)
            rgb = np.stack([wall * c for c in WALL_RGB], axis=-1)  # (M, Hp, Wp, 3)
            self._bg_cache.update(zip(missing, rgb, strict=True))
        stack = np.stack([self._bg_cache[k] for k in uniq.tolist()])  # (U, Hp, Wp, 3)
        return stack[inverse.reshape(-1)]
