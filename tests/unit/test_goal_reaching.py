"""Goal-reaching bookkeeping: episodes at their goal before any action are counted, not scored."""

from __future__ import annotations

import numpy as np
import pytest

from monde.eval.goal_reaching import RandomActions, run_episodes, summarise


class LineEnv:
    """Points on a line that move by their action; goal i lies `gaps[i]` away (success: < 0.5)."""

    def __init__(self, gaps: list[float]) -> None:
        self.num_envs, self.action_dim = len(gaps), 1
        self.gaps = np.asarray(gaps, dtype=np.float64)

    def reset(self, seeds) -> np.ndarray:
        self.x = np.zeros(self.num_envs)
        return np.zeros((self.num_envs, 4, 4, 3), np.uint8)

    def step(self, actions: np.ndarray) -> np.ndarray:
        self.x += 0.4 * actions[:, 0]
        return np.zeros((self.num_envs, 4, 4, 3), np.uint8)

    def state(self) -> np.ndarray:
        return self.x[:, None].astype(np.float32)

    def is_success(self) -> np.ndarray:
        return np.abs(self.x - self.gaps) < 0.5


class Forward:
    """Always +1: reaches a goal 1.0 away in two steps."""

    plan_times: list[float] = []

    def start(self, env, frames) -> None:
        self.b = env.num_envs

    def choose(self, m: int, active=None) -> np.ndarray:
        assert active is None or not active[0], "an episode solved at t = 0 was planned for"
        return np.ones((self.b, 1), np.float32)

    def observe(self, frame, block, states) -> None:
        pass


def test_episodes_at_their_goal_at_the_start_are_counted_and_left_out():
    env = LineEnv([0.0, 1.0, 100.0])  # at the goal, two steps away, out of reach
    success, steps = run_episodes(env, [0, 1, 2], Forward(), frameskip=1, max_steps=4)
    np.testing.assert_array_equal(success, [True, True, False])
    np.testing.assert_array_equal(steps, [0, 2, 4])
    row = summarise(success, steps, [])
    assert row["solved_at_start"] == 1
    assert (row["episodes"], row["successes"], row["success_rate"]) == (2, 1, 0.5)
    assert row["mean_steps_to_goal"] == 2.0


def test_on_step_sees_the_frames_after_the_reset_and_every_model_step():
    env = LineEnv([0.0, 1.0, 100.0])
    seen = []
    forward = Forward()
    forward.choose = lambda m, active=None: np.ones((3, 2), np.float32)  # 2 env actions per step
    success, steps = run_episodes(
        env, [0, 1, 2], forward, frameskip=2, max_steps=5,
        on_step=lambda frames, ok: seen.append((frames.shape, ok, env.x.copy())),
    )  # fmt: skip
    np.testing.assert_array_equal(steps, [0, 2, 5])  # run_episodes unchanged by the watcher
    assert [shape for shape, _, _ in seen] == [(3, 4, 4, 3)] * 4  # reset + 3 model steps
    np.testing.assert_array_equal([ok for _, ok, _ in seen], [[1, 0, 0], [1, 1, 0], [1, 1, 0],
                                                              [1, 1, 0]])  # fmt: skip
    # 2 + 2 + 1 env steps of +0.4: the last model step is cut short by max_steps
    np.testing.assert_allclose([x[2] for _, _, x in seen], [0.0, 0.8, 1.6, 2.0])
    seen[0][1][:] = False  # each call gets its own copy of the success so far
    assert success[0]


def test_every_episode_solved_at_the_start_scores_nothing():
    env = LineEnv([0.0, 0.1])
    success, steps = run_episodes(env, [0, 1], RandomActions(1, seed=0), 1, 10)
    row = summarise(success, steps, [])
    assert row["solved_at_start"] == 2
    assert (row["episodes"], row["successes"], row["success_rate"]) == (0, 0, 0.0)
    assert row["ci95"] == [0.0, 1.0] and row["mean_steps_to_goal"] is None


def test_summarise_exact_values_without_start_successes():
    row = summarise(np.array([True, False, True, True]), np.array([3, 10, 5, 1]), [0.5, 1.5])
    assert (row["episodes"], row["successes"], row["solved_at_start"]) == (4, 3, 0)
    assert row["success_rate"] == 0.75 and row["mean_steps_to_goal"] == 3.0
    assert row["plan_ms_median"] == pytest.approx(1000.0)


def test_summarise_lists_the_seeds_it_scored_and_those_that_succeeded():
    success, steps = np.array([True, True, False, True]), np.array([0, 4, 10, 2])
    row = summarise(success, steps, [], seeds=[7, 8, 9, 10])
    assert row["episode_seeds"] == [8, 9, 10]  # seed 7 was at its goal at the start
    assert row["succeeded_seeds"] == [8, 10]
    assert "episode_seeds" not in summarise(success, steps, [])
    with pytest.raises(ValueError, match="3 seeds for 4 episodes"):
        summarise(success, steps, [], seeds=[1, 2, 3])
