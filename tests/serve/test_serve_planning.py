"""Served planning is MPCPlanner's: one batched call for many sessions gives the actions the
in-process planner gives for the same episodes; concurrent act calls share one solver call."""

from __future__ import annotations

import threading
import time

import numpy as np
import torch
from serve_helpers import PLAN, TOKEN, RunningServer, create_app, frame, serve_config, tiny_model

from monde.client import MondeClient
from monde.plan.mpc import MPCPlanner
from monde.serve.planning import ActCall, ServedPlanner


def test_batched_sessions_plan_as_mpcplanner_does_for_a_batch_of_episodes():
    model = tiny_model()
    goals = np.stack([frame(1), frame(2), frame(3)])
    steps = [np.stack([frame(10 * t + i) for i in range(3)]) for t in range(3)]  # (3, H, W, C)
    reference = MPCPlanner(model, PLAN, seed=7)
    reference.reset(steps[0], goals)
    served = ServedPlanner("m", model, PLAN, seed=7)
    sessions = [served.start(g, None) for g in goals]
    expected = np.zeros(0)
    for t, obs in enumerate(steps):
        if t:
            reference.observe(obs, torch.from_numpy(expected[:, 0]))
        expected = reference.plan().actions.numpy()  # (3, H, A)
        outcomes = served.act(
            [ActCall(s, o, None, None) for s, o in zip(sessions, obs, strict=True)]
        )
        got = np.stack([o.plan for o in outcomes])
        np.testing.assert_allclose(got, expected, atol=1e-5)
        assert [o.batch_size for o in outcomes] == [3, 3, 3]
        assert [o.step for o in outcomes] == [t + 1] * 3


def test_receding_plans_every_k_steps_and_executed_overrides():
    plan = PLAN.__class__(**{**PLAN.__dict__, "receding": 2})
    served = ServedPlanner("m", tiny_model(), plan, seed=0)
    session = served.start(frame(1), None)
    first = served.act([ActCall(session, frame(2), None, None)])[0]
    second = served.act([ActCall(session, frame(3), None, np.zeros(4, np.float32))])[0]
    assert first.replanned and not second.replanned
    np.testing.assert_array_equal(second.action, first.plan[1])
    np.testing.assert_array_equal(session.a_hist.numpy(), np.zeros((0, 4)))  # history 1


def planning_once_all_in_flight(planner: ServedPlanner, timeout_s: float = 30.0) -> None:
    """`planner`'s solver calls wait (at most `timeout_s`) until every session it started has
    an act call queued or planned: the server marks a session busy as it queues its call, so
    the calls overlap however slowly a loaded machine sends them (the batcher waits only for
    sessions used within the last second; a slow start of the sessions left that behind)."""
    started: list = []
    planned: set[int] = set()
    start, act = planner.start, planner.act

    def recording_start(goal, goal_proprio):
        session = start(goal, goal_proprio)
        started.append(session)
        return session

    def gated_act(calls):
        deadline = time.monotonic() + timeout_s
        while not all(s.busy or id(s) in planned for s in started):
            if time.monotonic() > deadline:
                break  # the assertion on batch sizes says what happened
            time.sleep(0.005)
        planned.update(id(c.session) for c in calls)
        return act(calls)

    planner.start, planner.act = recording_start, gated_act


def test_concurrent_act_calls_share_a_solver_call(planners):
    planning_once_all_in_flight(planners["pix"])
    app = create_app(serve_config(batch_window_ms=200.0), planners, TOKEN)
    server = RunningServer(app)
    try:
        clients = [MondeClient(server.url, token=TOKEN) for _ in range(4)]
        sessions = [c.start("pix", frame(i)) for i, c in enumerate(clients)]
        sizes = [0] * 4
        barrier = threading.Barrier(4)

        def act(i: int) -> None:
            barrier.wait()
            sizes[i] = sessions[i].act(frame(20 + i)).timing["batch_size"]

        threads = [threading.Thread(target=act, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
        assert max(sizes) > 1, sizes  # four calls in flight at once: planned together
        text = clients[0].request("GET", "/metrics")
    except Exception:
        raise
    finally:
        server.stop()
    assert text is not None


def test_unbatched_server_plans_one_call_at_a_time(planners):
    server = RunningServer(create_app(serve_config(batch=False), planners, TOKEN))
    try:
        clients = [MondeClient(server.url, token=TOKEN) for _ in range(3)]
        sessions = [c.start("pix", frame(i)) for i, c in enumerate(clients)]
        sizes = []
        threads = [
            threading.Thread(target=lambda s=s: sizes.append(s.act(frame(3)).timing["batch_size"]))
            for s in sessions
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
        assert sizes == [1, 1, 1]
    finally:
        server.stop()


def test_a_served_ensemble_plans_as_mpcplanner_does(tmp_path):
    from monde.models.checkpoint import save_ensemble, save_model
    from monde.models.ensemble import WorldModelEnsemble
    from monde.serve.config import ServedModel
    from monde.serve.server import load_planner

    second = tiny_model()
    torch.nn.init.normal_(second.predictor.output.weight, std=0.1)  # another member's weights
    save_model(tiny_model(), tmp_path / "a")
    save_model(second, tmp_path / "b")
    save_ensemble([tmp_path / "a", tmp_path / "b"], tmp_path / "ens")
    served = load_planner(
        "ens", ServedModel(str(tmp_path / "ens"), overrides=_plan_overrides()), serve_config()
    )
    assert isinstance(served.model, WorldModelEnsemble) and served.model.latent_dim == 16
    reference = MPCPlanner(served.model, PLAN, seed=0)
    reference.reset(frame(5)[None], frame(1)[None])
    session = served.start(frame(1), None)
    (outcome,) = served.act([ActCall(session, frame(5), None, None)])
    np.testing.assert_allclose(outcome.plan, reference.plan().actions.numpy()[0], atol=1e-5)


def _plan_overrides() -> list[str]:
    return [f"plan.{k}={getattr(PLAN, k)}" for k in ("horizon", "samples", "iterations", "topk")]
