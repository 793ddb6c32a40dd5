"""Data-collection policies and coverage statistics for TwoRoom.

`DoorExplorer` is a scripted, batched policy that reads the ground-truth state (fine: it only
collects training data, it is never evaluated as a planner) and goes through the door far more
often than uniform random actions do. `coverage` summarises how well a set of episodes covers the
arena. This module knows nothing about models or torch.
"""

from __future__ import annotations

import numpy as np

from monde.envs.two_room import TwoRoomConfig

# Waypoint phases of DoorExplorer.
_FREE, _DOOR_FRONT, _DOOR_EXIT, _OTHER_ROOM = 0, 1, 2, 3


class DoorExplorer:
    """Waypoint-following exploration of both rooms, through the door.

    Each env follows a waypoint. A new plan is drawn when the waypoint is reached or timed out:
    with probability `p_door` a door trip (a point in front of the door on the agent's side, a
    point just past it on the other side, then a random point in the other room), otherwise a
    random point anywhere. Actions are the unit direction to the waypoint times a per-waypoint
    speed in [0.2, 1], plus Gaussian noise; with probability `p_random` a uniform random action.
    Deterministic given `seed` and the sequence of calls (reset does not reseed).
    """

    def __init__(
        self,
        env_cfg: TwoRoomConfig,
        num_envs: int,
        seed: int,
        p_door: float = 0.5,
        p_random: float = 0.1,
        noise_std: float = 0.2,
        timeout: int = 30,
    ) -> None:
        self.cfg = env_cfg
        self.num_envs = int(num_envs)
        self.seed = int(seed)
        self.p_door, self.p_random, self.noise_std, self.timeout = (
            p_door,
            p_random,
            noise_std,
            timeout,
        )
        self.reach_tol = max(0.03, env_cfg.max_step)  # a waypoint closer than this is reached
        self.rng = np.random.default_rng(self.seed)
        self._waypoint = np.zeros((self.num_envs, 2))  # (B, 2)
        self._phase = np.zeros(self.num_envs, dtype=np.int64)  # (B,)
        self._speed = np.ones(self.num_envs)  # (B,)
        self._age = np.zeros(self.num_envs, dtype=np.int64)  # steps since the waypoint was set
        self._door_dy = np.zeros(self.num_envs)  # (B,) y offset of this door trip from door_y
        self._needs_reset = True

    def reset(self, states: np.ndarray) -> None:
        """Start new episodes from states (B, 4): forget the plans and draw fresh waypoints."""
        self._phase[:] = _FREE
        self._plan(np.asarray(states, dtype=np.float64), np.ones(self.num_envs, dtype=bool))
        self._needs_reset = False

    def act(self, states: np.ndarray) -> np.ndarray:
        """Actions (B, 2) float32 in [-1, 1] for the current states (B, 4)."""
        states = np.asarray(states, dtype=np.float64)
        if states.shape != (self.num_envs, 4):
            raise ValueError(f"states must have shape {(self.num_envs, 4)}, got {states.shape}")
        if self._needs_reset:
            self.reset(states)
        to_go = self._waypoint - states[:, :2]  # (B, 2)
        dist = np.linalg.norm(to_go, axis=1)
        self._age += 1
        replan = (dist < self.reach_tol) | (self._age > self.timeout)
        if replan.any():
            self._plan(states, replan)
            to_go = self._waypoint - states[:, :2]
            dist = np.linalg.norm(to_go, axis=1)

        direction = to_go / np.maximum(dist, 1e-8)[:, None]
        # Do not overshoot a near waypoint: the speed that lands on it in one step is dist/max_step.
        speed = np.minimum(self._speed, dist / self.cfg.max_step)
        actions = direction * speed[:, None] + self.rng.normal(
            0, self.noise_std, (self.num_envs, 2)
        )
        uniform = self.rng.uniform(-1, 1, (self.num_envs, 2))
        actions = np.where(
            (self.rng.random(self.num_envs) < self.p_random)[:, None], uniform, actions
        )
        return np.clip(actions, -1, 1).astype(np.float32)

    def _plan(self, states: np.ndarray, mask: np.ndarray) -> None:
        """Advance the waypoints of the envs in mask (B,): next leg of a door trip, or a new plan.

        All random draws have fixed sizes so that the stream does not depend on the mask pattern.
        """
        n, cfg = self.num_envs, self.cfg
        r, half_t, half_door = cfg.agent_radius, cfg.wall_thickness / 2, cfg.door_width / 2
        x, wall_x, door_y = states[:, 0], states[:, 2], states[:, 3]
        side = np.where(x < wall_x, -1.0, 1.0)  # -1 left room, +1 right room
        go_door = self.rng.random(n) < self.p_door
        door_dy = self.rng.uniform(-0.5, 0.5, n) * half_door
        speed = self.rng.uniform(0.2, 1.0, n)
        anywhere = self.rng.uniform(r, 1 - r, (n, 2))
        # A random point in the room the agent is in now (after the exit leg: the other room).
        room_lo = np.where(side < 0, r, wall_x + half_t + r)
        room_hi = np.where(side < 0, wall_x - half_t - r, 1 - r)
        room_point = np.stack(
            [room_lo + self.rng.random(n) * (room_hi - room_lo), anywhere[:, 1]], 1
        )

        phase = self._phase
        nxt = np.where(
            phase == _DOOR_FRONT, _DOOR_EXIT, np.where(phase == _DOOR_EXIT, _OTHER_ROOM, -1)
        )
        # Waypoints that timed out abandon the door trip; reached ones go on to the next leg.
        timed_out = self._age > self.timeout
        nxt = np.where(timed_out, -1, nxt)
        new_plan = np.where(go_door, _DOOR_FRONT, _FREE)
        phase_new = np.where(nxt >= 0, nxt, new_plan)

        standoff = half_t + 0.06  # door front / exit distance from the wall centre
        door_y_trip = np.where(phase_new == _DOOR_FRONT, door_y + door_dy, door_y + self._door_dy)
        wp = anywhere.copy()
        front = phase_new == _DOOR_FRONT
        wp[front] = np.stack([wall_x + side * standoff, door_y_trip], axis=1)[front]
        exit_ = phase_new == _DOOR_EXIT
        # The exit is on the side opposite to the front; `side` is still the agent's start side.
        wp[exit_] = np.stack([wall_x - side * standoff, door_y_trip], axis=1)[exit_]
        other = phase_new == _OTHER_ROOM
        wp[other] = room_point[other]
        wp = np.clip(wp, r, 1 - r)

        self._waypoint[mask] = wp[mask]
        self._phase[mask] = phase_new[mask]
        self._door_dy[mask & front] = door_dy[mask & front]
        self._speed[mask] = speed[mask]
        self._age[mask] = 0


def coverage(states: np.ndarray, cfg: TwoRoomConfig, grid: int = 10) -> dict[str, float]:
    """Coverage statistics of episodes states (E, T+1, 4).

    Returns door_crossing_rate (fraction of episodes whose room changes at least once; points in
    the door corridor belong to no room), both_rooms_rate (fraction visiting both rooms) and
    cell_coverage (fraction of a grid x grid partition of the arena visited by any episode,
    excluding cells lying entirely inside the solid wall of every episode).
    """
    states = np.asarray(states, dtype=np.float64)
    if states.ndim != 3 or states.shape[2] != 4:
        raise ValueError(f"states must be (E, T+1, 4), got {states.shape}")
    x, wall_x = states[..., 0], states[..., 2]  # (E, T+1) each
    half_t, half_door = cfg.wall_thickness / 2, cfg.door_width / 2
    room = np.where(x < wall_x - half_t, -1, np.where(x > wall_x + half_t, 1, 0))  # (E, T+1)
    visits_left, visits_right = (room == -1).any(axis=1), (room == 1).any(axis=1)
    crossed = np.zeros(len(states), dtype=bool)
    for e in range(len(states)):  # room changes, ignoring the corridor
        in_room = room[e][room[e] != 0]
        crossed[e] = bool((in_room[1:] != in_room[:-1]).any())

    cell = np.clip((states[..., :2] * grid).astype(np.int64), 0, grid - 1)  # (E, T+1, 2)
    visited = np.zeros((grid, grid), dtype=bool)  # [ix, iy]
    visited[cell[..., 0].ravel(), cell[..., 1].ravel()] = True
    # A cell is solid if inside the slab in x and entirely above or below the door in y.
    lo_edge, hi_edge = np.arange(grid) / grid, np.arange(1, grid + 1) / grid  # (grid,) each
    solid = np.ones((grid, grid), dtype=bool)
    for wx, dy in np.unique(states[:, 0, 2:4], axis=0):
        in_slab = (lo_edge >= wx - half_t) & (hi_edge <= wx + half_t)
        off_door = (lo_edge >= dy + half_door) | (hi_edge <= dy - half_door)
        solid &= in_slab[:, None] & off_door[None, :]
    free = ~solid
    return {
        "door_crossing_rate": float(crossed.mean()),
        "cell_coverage": float(visited[free].mean()),
        "both_rooms_rate": float((visits_left & visits_right).mean()),
    }
