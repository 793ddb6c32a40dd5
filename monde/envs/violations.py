"""Paired TwoRoom clips for violation-of-expectation tests: one obeys the physics, one breaks it.

Both clips of a pair share the start, the actions and every frame before the event step `e`;
from frame `e` on the impossible clip shows something the motion rule of `monde.envs.two_room`
cannot produce:

    teleport      the agent jumps to another point of its room, then moves on under the actions
    vanish        the agent is no longer drawn
    stop          the agent freezes although the actions still move it
    reverse       the agent moves against its actions
    through_wall  the agent walks through the solid wall, away from the door

Trajectories come from `DoorExplorer` on fresh seeds (for through_wall: a straight walk at the
wall away from the door, which the physical clip stops at). Clips are built from states and
rendered with `TwoRoom.render_states`, so they look exactly like recorded episodes.
This module knows nothing about models or torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from monde.envs.exploration import DoorExplorer
from monde.envs.two_room import TwoRoom, TwoRoomConfig, move_agents, sample_task

VIOLATION_KINDS = ("teleport", "vanish", "stop", "reverse", "through_wall")
OFFSCREEN = -10.0  # an agent x far left of the frame: render_states draws no pixel of it


@dataclass
class ClipPairs:
    """`n` pairs of clips of T+1 frames; the pair differs from frame `event[i]` on."""

    kind: str
    physical: np.ndarray  # (n, T+1, Hp, Wp, 3) uint8
    impossible: np.ndarray  # (n, T+1, Hp, Wp, 3) uint8
    actions: np.ndarray  # (n, T, 2) float32, the same for both clips
    event: np.ndarray  # (n,) int: first frame that differs
    physical_states: np.ndarray  # (n, T+1, 4) float32
    impossible_states: np.ndarray  # (n, T+1, 4) float32; agent_x = OFFSCREEN when vanished


def _simulate(start: np.ndarray, actions: np.ndarray, cfg: TwoRoomConfig) -> np.ndarray:
    """States (B, T+1, 4) from start states (B, 4) under env actions (B, T, 2)."""
    states = [start.astype(np.float32)]
    for t in range(actions.shape[1]):
        s = states[-1].copy()
        s[:, :2] = move_agents(s, np.clip(actions[:, t], -1, 1) * cfg.max_step, cfg)
        states.append(s)
    return np.stack(states, axis=1)


def _explorer_episodes(
    n: int, steps: int, cfg: TwoRoomConfig, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """DoorExplorer episodes on seeds seed..seed+n−1 → states (n, T+1, 4), actions (n, T, 2)."""
    starts = np.stack([sample_task(seed + i, cfg)[0] for i in range(n)])  # (n, 4)
    policy = DoorExplorer(cfg, n, seed)
    policy.reset(starts)
    states, actions = [starts], []
    for _ in range(steps):
        a = policy.act(states[-1])  # (n, 2)
        s = states[-1].copy()
        s[:, :2] = move_agents(s, np.clip(a, -1, 1) * cfg.max_step, cfg)
        actions.append(a)
        states.append(s)
    return np.stack(states, axis=1), np.stack(actions, axis=1).astype(np.float32)


def _room_point(state: np.ndarray, cfg: TwoRoomConfig, rng: np.random.Generator) -> np.ndarray:
    """A point (2,) in the agent's room, at least 0.25 from the agent (else the farthest tried)."""
    r, half_t = cfg.agent_radius, cfg.wall_thickness / 2
    x, y, wall_x = float(state[0]), float(state[1]), float(state[2])
    lo, hi = (r, wall_x - half_t - r) if x < wall_x else (wall_x + half_t + r, 1 - r)
    cand = np.stack([rng.uniform(lo, hi, 64), rng.uniform(r, 1 - r, 64)], axis=1)  # (64, 2)
    dist = np.linalg.norm(cand - [x, y], axis=1)
    ok = np.flatnonzero(dist >= 0.25)
    return cand[ok[0]] if len(ok) else cand[np.argmax(dist)]


def _wall_walks(
    n: int, steps: int, event: int, cfg: TwoRoomConfig, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Straight walks at the wall, away from the door, meeting it by step `event`.

    The walk starts `event` steps of its speed from the wall face, or at the room's far border
    when the room is narrower, so it meets the wall at step `event` or sooner.

    → physical states (n, T+1, 4), through-the-wall states (n, T+1, 4), actions (n, T, 2).
    """
    rng = np.random.default_rng(seed)
    r, half_t, half_door = cfg.agent_radius, cfg.wall_thickness / 2, cfg.door_width / 2
    starts, actions = [], []
    for i in range(n):
        start = sample_task(seed + i, cfg)[0].astype(np.float64)
        wall_x, door_y = start[2], start[3]
        # y at least 0.1 beyond the door edge, on whichever side has room
        below = (r, door_y - half_door - 0.1)
        above = (door_y + half_door + 0.1, 1 - r)
        spans = [s for s in (below, above) if s[1] - s[0] > 0.02]
        span = spans[int(rng.integers(len(spans)))]
        y = rng.uniform(*span)
        side = -1.0 if rng.random() < 0.5 else 1.0  # −1: left room, walking right
        speed = rng.uniform(0.5, 1.0)
        gap = speed * cfg.max_step * (event - 0.5)  # distance to the wall face at step 0
        face = wall_x - half_t if side < 0 else wall_x + half_t
        x = np.clip(face + side * gap, r, 1 - r)
        a = np.zeros((steps, 2))
        a[:, 0] = -side * speed
        a[:, 1] = rng.normal(0, 0.05, steps)  # a little sideways jitter, far from the door
        starts.append([x, y, wall_x, door_y])
        actions.append(a)
    starts_a = np.asarray(starts, dtype=np.float32)  # (n, 4)
    actions_a = np.asarray(actions, dtype=np.float32)  # (n, T, 2)
    physical = _simulate(starts_a, actions_a, cfg)
    through = [starts_a]
    for t in range(steps):  # the same rule without the wall: clamp to the border only
        s = through[-1].copy()
        s[:, :2] = np.clip(s[:, :2] + np.clip(actions_a[:, t], -1, 1) * cfg.max_step, r, 1 - r)
        through.append(s)
    return physical, np.stack(through, axis=1), actions_a


def make_clip_pairs(
    kind: str, n: int, cfg: TwoRoomConfig, steps: int = 50, event: int = 25, seed: int = 0
) -> ClipPairs:
    """`n` pairs of clips of `steps` env steps whose impossible event happens at step `event`.

    For through_wall the event is the first step at which the walk enters the wall (at `event`
    or sooner, see `_wall_walks`). Deterministic given the arguments.
    """
    if kind not in VIOLATION_KINDS:
        raise ValueError(f"unknown violation kind {kind!r}; valid: {', '.join(VIOLATION_KINDS)}")
    if not 1 <= event <= steps:
        raise ValueError(f"event must be in [1, steps={steps}], got {event}")
    rng = np.random.default_rng([seed, VIOLATION_KINDS.index(kind)])
    if kind == "through_wall":
        physical, impossible, actions = _wall_walks(n, steps, event, cfg, seed)
    else:
        physical, actions = _explorer_episodes(n, steps, cfg, seed)
        impossible = physical.copy()
        if kind == "teleport":
            jumped = physical[:, event].copy()
            for i in range(n):
                jumped[i, :2] = _room_point(physical[i, event], cfg, rng)
            impossible[:, event:] = _simulate(jumped, actions[:, event:], cfg)
        elif kind == "vanish":
            impossible[:, event:, 0] = OFFSCREEN
        elif kind == "stop":
            impossible[:, event:, :2] = physical[:, event - 1 : event, :2]
        elif kind == "reverse":
            impossible[:, event - 1 :] = _simulate(
                physical[:, event - 1], -actions[:, event - 1 :], cfg
            )
    differs = np.abs(impossible[..., :2] - physical[..., :2]).max(axis=2) > 1e-6  # (n, T+1)
    first = np.where(differs.any(axis=1), differs.argmax(axis=1), steps + 1)
    env = TwoRoom(1, cfg)
    shape = physical.shape[:2]
    render = lambda s: env.render_states(s.reshape(-1, 4)).reshape(*shape, *_frame(cfg))  # noqa: E731
    return ClipPairs(
        kind=kind,
        physical=render(physical),
        impossible=render(impossible),
        actions=actions,
        event=first.astype(np.int64),
        physical_states=physical,
        impossible_states=impossible,
    )


def _frame(cfg: TwoRoomConfig) -> tuple[int, int, int]:
    return cfg.image_size, cfg.image_size, 3
