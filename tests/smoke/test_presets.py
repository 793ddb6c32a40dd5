"""Every run preset in configs/ loads and runs: collection with its env and policy, and goal
reaching with its model and planner (an untrained model, a shrunken budget), so a preset that
names an option, a policy, a solver setting or a model shape that no longer exists fails here."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from monde.config import RunConfig
from monde.config_io import load_config, to_dict

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
PRESETS = sorted(
    p
    for p in CONFIGS.rglob("*.yaml")
    if "env:" in p.read_text() or "base:" in p.read_text()  # run configs, not other tools'
)


def _what_runs(path: Path) -> str:
    """What the shrunken run below exercises of a preset: presets that differ only in budgets
    (steps, episodes, samples) run once."""
    try:
        cfg = load_config(RunConfig, path)
    except Exception:  # noqa: BLE001 - the load test below names the error
        return str(path)
    plan = to_dict(cfg.plan)
    kept = {k: plan[k] for k in ("solver", "solver_options", "horizon", "repeat_actions")}
    parts = [to_dict(cfg.env), cfg.data.policy, to_dict(cfg.model), kept, cfg.eval.protocol]
    return json.dumps(parts, sort_keys=True)


DISTINCT = list({_what_runs(p): p for p in PRESETS}.values())


@pytest.mark.parametrize("path", PRESETS, ids=lambda p: str(p.relative_to(CONFIGS)))
def test_every_preset_loads(path: Path) -> None:
    assert isinstance(load_config(RunConfig, path), RunConfig)


@pytest.mark.parametrize("path", DISTINCT, ids=lambda p: str(p.relative_to(CONFIGS)))
def test_every_preset_collects_and_plans(path: Path, tmp_path: Path) -> None:
    from monde.data.collect import collect
    from monde.data.store import EpisodeStore
    from monde.eval.goal_reaching import evaluate_goal_reaching
    from monde.models.world_model import WorldModel

    cfg = load_config(RunConfig, path)
    collect(cfg.env, replace(cfg.data, episodes=1, steps_per_episode=3, num_envs=1),
            tmp_path / "data", progress=False)  # fmt: skip
    store = EpisodeStore(tmp_path / "data")
    assert len(store) == 1 and store.meta["complete"] is True
    cfg.model.resolve_proprio(store.meta["features"]["states"]["names"], str(path))
    model = WorldModel(cfg.model).eval()
    plan = replace(cfg.plan, samples=4, iterations=1, topk=2, waypoints=0, chunk=0)
    budget = replace(cfg.eval, episodes=1, batch=1, max_steps=cfg.model.frameskip,
                     random_baseline=False)  # fmt: skip
    results = evaluate_goal_reaching(
        model, cfg.env, plan, budget, progress=False, collection_policy=cfg.data.policy
    )
    assert results["planner"]["episodes"] + results["planner"].get("solved_at_start", 0) == 1
