"""Waypoint graph and subgoals on a U-shaped corridor whose ends are close but apart."""

import numpy as np
import pytest
import torch

from monde.config import PlanConfig
from monde.plan.mpc import MPCPlanner
from monde.plan.waypoints import UNREACHED, SubgoalSelector, WaypointGraph

# up the left arm, across the top, down the right arm: the ends (0, 0) and (2, 0) are 2 apart
# in a straight line but 10 steps apart along the corridor
U_PATH = [(0, y) for y in range(5)] + [(1, 4), (2, 4)] + [(2, y) for y in range(3, -1, -1)]


def u_graph(episodes: list[int] | None = None) -> WaypointGraph:
    ids = np.array(episodes if episodes is not None else [0] * len(U_PATH))
    return WaypointGraph(torch.tensor(U_PATH, dtype=torch.float32), ids)


def test_hops_follow_the_corridor_not_the_shortcut():
    graph = u_graph()
    assert graph.radius == 1.0  # the median consecutive-step distance
    assert graph.hops_to(len(U_PATH) - 1).tolist() == list(range(len(U_PATH) - 1, -1, -1))


def test_episodes_join_where_their_latents_meet():
    split = u_graph([0] * 5 + [1] * 6)  # (0, 4) and (1, 4) lie in different episodes
    assert split.hops_to(len(U_PATH) - 1).tolist() == u_graph().hops_to(len(U_PATH) - 1).tolist()
    apart = WaypointGraph(torch.tensor([[0.0, 0.0], [1.0, 0.0], [9.0, 0.0]]), np.array([0, 0, 1]))
    assert apart.hops_to(0).tolist() == [0, 1, UNREACHED]


def test_subgoal_leads_around_then_hands_over_the_goal():
    selector = SubgoalSelector(u_graph(), lookahead=2)
    goal = torch.tensor([[2.0, 0.0]])
    selector.reset(goal)
    assert selector.subgoals(torch.tensor([[0.0, 0.1]])).tolist() == [[0.0, 2.0]]
    assert selector.subgoals(torch.tensor([[1.1, 4.0]])).tolist() == [[2.0, 3.0]]
    assert selector.subgoals(torch.tensor([[2.0, 1.9]])).tolist() == [[2.0, 0.0]]  # 2 away


def test_bad_graph_input_is_named():
    with pytest.raises(ValueError, match="one episode id each"):
        WaypointGraph(torch.zeros(3, 2), np.zeros(2))
    with pytest.raises(ValueError, match="waypoint_lookahead"):
        SubgoalSelector(u_graph(), lookahead=0)


class PointModel:
    """Latent = the 2-D position stored in pixel (0, 0); each env action moves it by 0.05·a."""

    history, frameskip, action_dim = 1, 5, 10
    image_size, in_channels, latent_dim = 4, 3, 2
    proprio: tuple[str, ...] = ()
    proprio_indices: tuple[int, ...] = ()

    def encode(self, frames):
        return torch.as_tensor(np.asarray(frames))[..., 0, 0, :2].float() / 10.0  # (..., 2)

    def rollout(self, z_ctx, actions, a_ctx=None):
        steps = actions.reshape(*actions.shape[:2], 5, 2).sum(2) * 0.05  # (B, H, 2)
        return z_ctx[:, -1:] + steps.cumsum(1)


@pytest.mark.parametrize("solver", ["cem", "gradient"])
def test_planner_with_waypoints_heads_up_the_arm_not_at_the_goal(solver):
    frames = np.zeros((2, 4, 4, 3), np.uint8)
    frames[0, 0, 0, :2] = (0, 1)  # start (0, 0.1)
    frames[1, 0, 0, :2] = (20, 0)  # goal (2, 0): straight to the right
    cfg = PlanConfig(
        horizon=3, samples=200, iterations=8, topk=20, waypoint_lookahead=2, solver=solver
    )
    if solver == "gradient":
        cfg.iterations, cfg.lr = 50, 0.2
    planner = MPCPlanner(PointModel(), cfg, seed=0, waypoints=u_graph())
    planner.reset(frames[:1], frames[1:])
    first = planner.plan().actions[0, 0].reshape(5, 2).mean(0)  # mean env action, first block
    assert first[1] > 0.5 and abs(first[0]) < 0.5  # up the left arm, towards (0, 2)
