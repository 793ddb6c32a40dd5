"""Behavioural tests of the TwoRoom env, its registry and the DoorExplorer policy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from monde.envs import DoorExplorer, Env, TwoRoom, TwoRoomConfig, coverage, make_env
from monde.envs.two_room import move_agents

WALL, RED = (128, 128, 128), (255, 0, 0)


def _geometry(states: np.ndarray, cfg: TwoRoomConfig):
    """Wall faces and door edges (each (..., )) of states (..., 4), in float64."""
    s = states.astype(np.float64)
    half_t, half_door = cfg.wall_thickness / 2, cfg.door_width / 2
    return s[..., 2] - half_t, s[..., 2] + half_t, s[..., 3] - half_door, s[..., 3] + half_door


def _in_solid_wall(states: np.ndarray, cfg: TwoRoomConfig) -> np.ndarray:
    lo, hi, door_lo, door_hi = _geometry(states, cfg)
    x, y = states[..., 0].astype(np.float64), states[..., 1].astype(np.float64)
    return (x >= lo) & (x <= hi) & ((y < door_lo) | (y > door_hi))


def _pixel(cfg: TwoRoomConfig, x: float, y: float) -> tuple[int, int]:
    """(row, col) of the pixel containing arena point (x, y)."""
    size = cfg.image_size
    return min(int((1 - y) * size), size - 1), min(int(x * size), size - 1)


def _drive(env: TwoRoom, target_fn, steps: int) -> None:
    """Proportional controller toward target_fn(state) (B, 2) for `steps` steps."""
    for _ in range(steps):
        s = env.state()
        env.step(np.clip((target_fn(s) - s[:, :2]) / env.cfg.max_step, -1, 1))


# --- seeding and task sampling -------------------------------------------------------------------


@pytest.mark.parametrize("random_wall", [False, True])
def test_same_seed_same_episode(random_wall: bool) -> None:
    cfg = TwoRoomConfig(random_wall=random_wall)
    actions = np.random.default_rng(0).uniform(-1, 1, (20, 4, 2))
    actions[:, 3] = actions[:, 0]  # env 3 replays env 0 (same seed, same actions)
    runs = []
    for _ in range(2):
        env = TwoRoom(4, cfg)
        frames = [env.reset([3, 7, 11, 3])]
        frames += [env.step(a) for a in actions]
        runs.append((np.stack(frames), env.state(), env.goal_state(), env.goal_rgb()))
    for a, b in zip(runs[0], runs[1], strict=True):
        np.testing.assert_array_equal(a, b)
    frames, _, goal, _ = runs[0]
    np.testing.assert_array_equal(frames[:, 0], frames[:, 3])  # seed 3 twice in one batch
    np.testing.assert_array_equal(goal[0], goal[3])


def test_different_seeds_differ() -> None:
    env = TwoRoom(50, TwoRoomConfig(random_wall=True))
    env.reset(range(50))
    for arr in (env.state(), env.goal_state()):
        assert len(np.unique(arr[:, :2], axis=0)) == 50
    assert len(np.unique(env.state()[:, 2])) == 50  # wall x
    assert len(np.unique(env.state()[:, 3])) == 50  # door y


@pytest.mark.parametrize("random_wall", [False, True])
def test_start_and_goal_in_different_rooms(random_wall: bool) -> None:
    cfg = TwoRoomConfig(random_wall=random_wall)
    env = TwoRoom(500, cfg)
    env.reset(range(500))
    start, goal = env.state().astype(np.float64), env.goal_state().astype(np.float64)
    r, half_t = cfg.agent_radius, cfg.wall_thickness / 2
    start_left, goal_left = start[:, 0] < start[:, 2], goal[:, 0] < goal[:, 2]
    assert (start_left != goal_left).all()
    assert 0.35 < start_left.mean() < 0.65  # both rooms are used as start room
    np.testing.assert_array_equal(start[:, 2:], goal[:, 2:])  # same wall
    for s in (start, goal):
        assert (np.abs(s[:, 0] - s[:, 2]) >= half_t + r - 1e-6).all()  # r from the wall faces
        assert ((s[:, :2] >= r - 1e-6) & (s[:, :2] <= 1 - r + 1e-6)).all()  # r from the border
    assert (np.linalg.norm(goal[:, :2] - start[:, :2], axis=1) >= cfg.min_goal_distance).all()
    assert not env.is_success().any()


# --- walls and doors -----------------------------------------------------------------------------


@pytest.mark.parametrize("max_step", [0.01, 0.05, 0.3, 3.0])
@pytest.mark.parametrize("random_wall", [False, True])
def test_no_tunnelling(max_step: float, random_wall: bool) -> None:
    cfg = TwoRoomConfig(max_step=max_step, random_wall=random_wall)
    env = TwoRoom(200, cfg)
    env.reset(range(200))
    explorer = DoorExplorer(cfg, 200, seed=1)  # heads for the door, so crossings are frequent
    explorer.reset(env.state())
    rng = np.random.default_rng(int(max_step * 100))
    states = [env.state()]
    for _ in range(150):
        # Mix explorer, uniform and saturated (+-1 per axis) actions to hit faces, edges, corners.
        uniform = rng.uniform(-1, 1, (200, 2))
        choice = rng.integers(3, size=(200, 1))
        explore = explorer.act(states[-1])
        env.step(np.where(choice == 0, explore, np.where(choice == 1, uniform, np.sign(uniform))))
        states.append(env.state())
    states = np.stack(states, axis=1)  # (B, T+1, 4)

    assert not _in_solid_wall(states, cfg).any()
    x, y = states[..., 0].astype(np.float64), states[..., 1].astype(np.float64)
    left = x < states[..., 2]
    changed = left[:, 1:] != left[:, :-1]  # (B, T) side changes
    _, _, door_lo, door_hi = _geometry(states[:, :-1], cfg)
    y_prev = y[:, :-1]
    assert ((y_prev[changed] >= door_lo[changed]) & (y_prev[changed] <= door_hi[changed])).all()
    r = cfg.agent_radius
    assert ((x >= r - 1e-6) & (x <= 1 - r + 1e-6)).all()
    assert changed.any()  # the door is actually used, so the check above is not vacuous


def test_move_through_door_centre_crosses() -> None:
    cfg = TwoRoomConfig()
    start = np.array([[0.3, 0.5, 0.5, 0.5], [0.8, 0.5, 0.5, 0.5]], np.float32)
    s = start.copy()
    for _ in range(20):
        s[:, :2] = move_agents(s, np.array([[cfg.max_step, 0], [-cfg.max_step, 0]]), cfg)
    assert s[0, 0] > 0.53 and s[1, 0] < 0.47
    np.testing.assert_allclose(s[:, 1], 0.5)
    # One huge step also goes straight through the door, to the border.
    one = move_agents(start, np.array([[3.0, 0.0], [-3.0, 0.0]]), cfg)
    np.testing.assert_allclose(one[:, 0], [1 - cfg.agent_radius, cfg.agent_radius], atol=1e-6)


@pytest.mark.parametrize("y", [0.1, 0.39, 0.61, 0.9])
@pytest.mark.parametrize("step", [0.02, 0.05, 3.0])
def test_move_at_wall_away_from_door_never_crosses(y: float, step: float) -> None:
    cfg = TwoRoomConfig()
    s = np.array([[0.2, y, 0.5, 0.5], [0.8, y, 0.5, 0.5]], np.float32)
    for _ in range(30):
        s[:, :2] = move_agents(s, np.array([[step, 0.0], [-step, 0.0]]), cfg)
        assert s[0, 0] < 0.47 and s[1, 0] > 0.53
    np.testing.assert_allclose(s[:, 0], [0.47, 0.53], atol=1e-4)  # pressed against the faces
    np.testing.assert_allclose(s[:, 1], y)


def test_door_corridor_clamps_y() -> None:
    cfg = TwoRoomConfig()
    s = np.array([[0.5, 0.5, 0.5, 0.5]], np.float32)  # in the door, mid-slab
    for dy in (3.0, -3.0):
        out = move_agents(s, np.array([[0.0, dy]]), cfg)
        assert 0.4 <= out[0, 1] <= 0.6 and out[0, 0] == 0.5


def test_scripted_path_through_door_reaches_goal() -> None:
    cfg = TwoRoomConfig(random_wall=True)
    env = TwoRoom(16, cfg)
    env.reset(range(100, 116))
    goal = env.goal_state()[:, :2].astype(np.float64)
    side = np.sign(env.state()[:, 0] - env.state()[:, 2])  # -1 left, +1 right

    def door(offset: float):
        return lambda s: np.stack([s[:, 2] + side * offset, s[:, 3]], axis=1)

    _drive(env, door(0.1), 40)  # in front of the door, own side
    _drive(env, door(-0.1), 10)  # just past the door, other side
    assert (np.sign(env.state()[:, 0] - env.state()[:, 2]) == -side).all()
    _drive(env, lambda s: goal, 30)
    assert env.is_success().all()
    assert (env.distance_to_goal() < cfg.goal_radius).all()


# --- rendering -----------------------------------------------------------------------------------


@pytest.mark.parametrize("image_size", [32, 64])
def test_render_shapes_colours_and_consistency(image_size: int) -> None:
    cfg = TwoRoomConfig(image_size=image_size)
    env = TwoRoom(8, cfg)
    frames = env.reset(range(8))
    assert frames.shape == (8, image_size, image_size, 3) and frames.dtype == np.uint8
    assert env.goal_rgb().shape == frames.shape and env.goal_rgb().dtype == np.uint8
    np.testing.assert_array_equal(frames, env.render_states(env.state()))
    np.testing.assert_array_equal(env.goal_rgb(), env.render_states(env.goal_state()))
    for i, (x, y, wall_x, door_y) in enumerate(env.state()):
        assert tuple(frames[i][_pixel(cfg, x, y)]) == RED
        assert tuple(frames[i][_pixel(cfg, wall_x, 0.1)]) == WALL  # below the door
        assert tuple(frames[i][_pixel(cfg, wall_x, 0.9)]) == WALL  # above the door
        assert tuple(frames[i][_pixel(cfg, wall_x, door_y)]) == (0, 0, 0)  # the door is open
        gx, gy = env.goal_state()[i, :2]
        assert tuple(env.goal_rgb()[i][_pixel(cfg, gx, gy)]) == RED
        colours = {tuple(c) for c in frames[i].reshape(-1, 3)}
        assert colours == {(0, 0, 0), WALL, RED}
    # Agent disk area is about pi r^2 in pixels.
    red = (frames == RED).all(axis=-1).sum(axis=(1, 2))
    area = np.pi * (cfg.agent_radius * image_size) ** 2
    assert (np.abs(red - area) < 0.35 * area + 2).all()
    # render_states takes any N, including 0.
    assert env.render_states(np.zeros((0, 4), np.float32)).shape == (0, image_size, image_size, 3)
    assert env.render_states(env.state()[:3]).shape == (3, image_size, image_size, 3)


def test_random_wall_differs_and_goal_shows_same_wall() -> None:
    env = TwoRoom(6, TwoRoomConfig(random_wall=True))
    frames = env.reset(range(6))
    goal_rgb = env.goal_rgb()
    walls = (frames == WALL).all(axis=-1)  # (B, Hp, Wp)
    goal_walls = (goal_rgb == WALL).all(axis=-1)
    not_agent = ~(frames == RED).all(axis=-1) & ~(goal_rgb == RED).all(axis=-1)
    np.testing.assert_array_equal(walls & not_agent, goal_walls & not_agent)
    assert len({w.tobytes() for w in walls}) == 6  # different walls for different seeds


def test_background_cache_does_not_change_frames() -> None:
    cfg = TwoRoomConfig(random_wall=True, image_size=16)
    small = TwoRoom(12, cfg)
    small._bg_cache_size = 5  # force evictions
    small.reset(range(12))
    states = np.concatenate([small.state(), small.goal_state()])  # (24, 4), 12 distinct walls
    first, second = small.render_states(states), small.render_states(states[::-1])
    fresh = TwoRoom(1, cfg).render_states(states)
    np.testing.assert_array_equal(first, fresh)
    np.testing.assert_array_equal(second, fresh[::-1])
    assert len(small._bg_cache) <= 12


# --- errors --------------------------------------------------------------------------------------


def test_errors() -> None:
    env = TwoRoom(3)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="3 seeds"):
        env.reset([1, 2])
    env.reset([1, 2, 3])
    with pytest.raises(ValueError, match=r"\(3, 2\).*\(2, 2\)"):
        env.step(np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"\(3, 2\).*\(6,\)"):
        env.step(np.zeros(6))
    bad = np.zeros((3, 2))
    bad[1, 0] = np.nan
    before = env.state()
    with pytest.raises(ValueError, match="NaN"):
        env.step(bad)
    np.testing.assert_array_equal(env.state(), before)  # nothing moved
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        env.render_states(np.zeros((2, 3)))


def test_actions_are_clipped() -> None:
    env = TwoRoom(2)
    env.reset([5, 5])
    env.step(np.array([[100.0, -100.0], [1.0, -1.0]]))
    np.testing.assert_array_equal(env.state()[0], env.state()[1])


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="door"):
        TwoRoomConfig(door_y=0.05)
    with pytest.raises(ValueError, match="max_step"):
        TwoRoomConfig(max_step=0.0)
    assert TwoRoomConfig(wall_x_range=[0.4, 0.6]).wall_x_range == (0.4, 0.6)  # YAML lists


# --- registry and protocol -----------------------------------------------------------------------


def test_make_env_and_protocol() -> None:
    env = make_env("two_room", 3, random_wall=True, image_size=32)
    assert isinstance(env, TwoRoom) and isinstance(env, Env)
    assert env.cfg.random_wall and env.image_size == 32 and env.num_envs == 3
    assert (env.action_dim, env.state_dim) == (2, 4)
    assert env.reset([0, 1, 2]).shape == (3, 32, 32, 3)
    assert env.state().dtype == np.float32 and env.goal_state().dtype == np.float32
    assert env.is_success().dtype == bool and env.is_success().shape == (3,)


def test_make_env_errors() -> None:
    with pytest.raises(ValueError, match=r"'three_room'.*two_room"):
        make_env("three_room", 2)
    with pytest.raises(ValueError, match=r"door_wdth.*door_width"):
        make_env("two_room", 2, door_wdth=0.3)


def test_envs_package_does_not_import_torch() -> None:
    for path in (Path(__file__).parents[2] / "monde" / "envs").glob("*.py"):
        assert "import torch" not in path.read_text(), path


# --- exploration ---------------------------------------------------------------------------------


def _collect(policy: str, cfg: TwoRoomConfig, episodes: int, steps: int) -> np.ndarray:
    env = TwoRoom(episodes, cfg)
    env.reset(range(episodes))
    explorer = DoorExplorer(cfg, episodes, seed=0)
    explorer.reset(env.state())
    rng = np.random.default_rng(0)
    states = [env.state()]
    for _ in range(steps):
        if policy == "door":
            action = explorer.act(states[-1])
            assert action.dtype == np.float32 and action.shape == (episodes, 2)
            assert (np.abs(action) <= 1).all()
        else:
            action = rng.uniform(-1, 1, (episodes, 2))
        env.step(action)
        states.append(env.state())
    return np.stack(states, axis=1)  # (E, T+1, 4)


@pytest.mark.parametrize("random_wall", [False, True])
def test_door_explorer_crosses_far_more_than_random(random_wall: bool) -> None:
    cfg = TwoRoomConfig(random_wall=random_wall)
    door = coverage(_collect("door", cfg, 100, 100), cfg)
    rand = coverage(_collect("random", cfg, 100, 100), cfg)
    assert door["door_crossing_rate"] > 0.5
    assert door["door_crossing_rate"] > 3 * rand["door_crossing_rate"]
    assert door["both_rooms_rate"] > 0.5
    assert door["cell_coverage"] > 0.9


def test_door_explorer_is_deterministic() -> None:
    cfg = TwoRoomConfig()
    a, b = (_collect("door", cfg, 8, 30) for _ in range(2))
    np.testing.assert_array_equal(a, b)


def test_coverage_by_hand() -> None:
    cfg = TwoRoomConfig()
    cross = np.array([[0.2, 0.5, 0.5, 0.5], [0.5, 0.5, 0.5, 0.5], [0.8, 0.5, 0.5, 0.5]])
    stay = np.array([[0.2, 0.2, 0.5, 0.5], [0.3, 0.2, 0.5, 0.5], [0.2, 0.2, 0.5, 0.5]])
    stats = coverage(np.stack([cross, stay]), cfg)
    assert stats["door_crossing_rate"] == 0.5 and stats["both_rooms_rate"] == 0.5
    # Visited cells (ix, iy): (2,5) (5,5) (8,5) (2,2) (3,2); no cell is solid at t = 0.06.
    assert stats["cell_coverage"] == pytest.approx(5 / 100)
    thick = TwoRoomConfig(wall_thickness=0.25, door_width=0.18)  # slab [0.375, 0.625]
    # Solid cells: ix in {4, 5} and y entirely outside [0.41, 0.59]: iy in {0..3, 6..9} -> 16.
    assert coverage(np.stack([cross, stay]), thick)["cell_coverage"] == pytest.approx(5 / 84)
