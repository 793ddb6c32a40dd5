"""An ensemble of world models: its cost is the members' mean cost, and its folder format
round-trips and refuses what it should."""

import json

import numpy as np
import pytest
import torch

from monde.cli import main
from monde.config import ModelConfig
from monde.models.checkpoint import (
    load_model,
    save_ensemble,
    save_model,
    saved_model_record,
    weights_digest,
)
from monde.models.ensemble import WorldModelEnsemble
from monde.models.world_model import WorldModel
from monde.plan.cost import goal_cost

TINY = dict(image_size=16, encoder_channels=(8, 8), latent_dim=8, predictor_dim=16, frameskip=2)


def _member(seed: int, **changes) -> WorldModel:
    torch.manual_seed(seed)
    return WorldModel(ModelConfig(**{**TINY, **changes})).eval()


def _frames(n: int = 3, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 1, 16, 16, 3), dtype=np.uint8)  # (B, T=1, Hp, Wp, C)


@pytest.mark.parametrize("metric", ["l2", "l1"])
def test_cost_is_the_mean_of_member_costs(metric):
    members = [_member(0), _member(1), _member(2)]
    ensemble = WorldModelEnsemble(members)
    assert ensemble.latent_dim == 3 * 8
    frames, goals = _frames(seed=0), _frames(seed=1)[:, 0]  # goals (B, Hp, Wp, C)
    actions = torch.randn(3, 5, 4, ensemble.action_dim, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        pred = ensemble.rollout_samples(ensemble.encode(frames), actions)  # (B, S, H, 3·D)
        cost = goal_cost(pred, ensemble.encode(goals)[:, None], metric)  # (B, S)
        each = [
            goal_cost(
                m.rollout_samples(m.encode(frames), actions), m.encode(goals)[:, None], metric
            )
            for m in members
        ]
    torch.testing.assert_close(cost, torch.stack(each).mean(0))


def test_rollout_and_predict_are_each_members():
    members = [_member(0), _member(1)]
    ensemble = WorldModelEnsemble(members)
    z = ensemble.encode(_frames())  # (B, 1, 2·D)
    actions = torch.randn(3, 4, ensemble.action_dim)
    with torch.no_grad():
        rolled = ensemble.rollout(z, actions)  # (B, H, 2·D)
        taught = ensemble.predict(z, actions[:, :1])  # (B, 1, 2·D)
        for i, m in enumerate(members):
            part = slice(8 * i, 8 * (i + 1))
            torch.testing.assert_close(rolled[..., part], m.rollout(z[..., part], actions))
            torch.testing.assert_close(taught[..., part], m.predict(z[..., part], actions[:, :1]))
    with pytest.raises(ValueError, match="latents have 8 dims; this ensemble.s are 16"):
        ensemble.rollout(z[..., :8], actions)


def test_members_of_other_configs_are_refused():
    with pytest.raises(ValueError, match="second: its model config differs"):
        WorldModelEnsemble([_member(0), _member(1, latent_dim=6)], ["first", "second"])
    with pytest.raises(ValueError, match="at least 2 members"):
        WorldModelEnsemble([_member(0)])


def test_saved_ensemble_loads_and_plans_as_saved(tmp_path):
    for i in range(2):
        save_model(_member(i), tmp_path / f"m{i}", train_step=40)
    save_ensemble([tmp_path / "m0", tmp_path / "m1"], tmp_path / "ens")
    loaded = load_model(tmp_path / "ens")
    assert isinstance(loaded, WorldModelEnsemble) and len(loaded.members) == 2
    frames = _frames()
    with torch.no_grad():
        expected = torch.cat([load_model(tmp_path / f"m{i}").encode(frames) for i in range(2)], -1)
        torch.testing.assert_close(loaded.encode(frames), expected)
    record = saved_model_record(tmp_path / "ens")
    assert record["train_step"] == 40
    assert [m["train_step"] for m in record["members"]] == [40, 40]
    assert sorted(p.name for p in (tmp_path / "ens").iterdir()) == [
        "config.json",
        "member-0",
        "member-1",
    ]


def test_ensemble_config_that_points_outside_is_refused(tmp_path):
    for i in range(2):
        save_model(_member(i), tmp_path / f"m{i}")
    save_ensemble([tmp_path / "m0", tmp_path / "m1"], tmp_path / "ens")
    config = tmp_path / "ens" / "config.json"
    meta = json.loads(config.read_text())
    meta["members"] = ["member-0", "../m1"]
    config.write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=r"config.json: field 'members'"):
        load_model(tmp_path / "ens")


def test_members_of_another_model_are_refused_naming_the_folder(tmp_path):
    save_model(_member(0), tmp_path / "a")
    save_model(_member(1, predictor_dim=32), tmp_path / "b")
    with pytest.raises(ValueError, match=r"b: its model config differs"):
        save_ensemble([tmp_path / "a", tmp_path / "b"], tmp_path / "ens")
    assert not (tmp_path / "ens").exists()


def test_monde_ensemble_joins_saved_models(tmp_path, capsys):
    for i in range(2):
        save_model(_member(i), tmp_path / f"m{i}")
    main(["ensemble", str(tmp_path / "m0"), str(tmp_path / "m1"), "--out", str(tmp_path / "e")])
    assert isinstance(load_model(tmp_path / "e"), WorldModelEnsemble)
    with pytest.raises(SystemExit, match="is not a model folder"):
        main(["ensemble", str(tmp_path / "m0"), str(tmp_path / "no"), "--out", str(tmp_path / "f")])


def test_weights_digest_names_the_weights(tmp_path):
    import hashlib

    for i in range(3):
        save_model(_member(i), tmp_path / f"m{i}")
    single = hashlib.sha256((tmp_path / "m0" / "model.safetensors").read_bytes()).hexdigest()
    assert weights_digest(tmp_path / "m0") == single  # decoders saved before ensembles still fit
    save_ensemble([tmp_path / "m0", tmp_path / "m1"], tmp_path / "a")
    save_ensemble([tmp_path / "m0", tmp_path / "m2"], tmp_path / "b")
    save_ensemble([tmp_path / "m0", tmp_path / "m1"], tmp_path / "c")
    assert weights_digest(tmp_path / "a") == weights_digest(tmp_path / "c")
    assert weights_digest(tmp_path / "a") != weights_digest(tmp_path / "b")


def test_an_ensemble_under_torchrun_is_refused_before_any_work(tmp_path, monkeypatch):
    from monde.config import RunConfig, TrainConfig
    from monde.train.run import train_run

    monkeypatch.setenv("WORLD_SIZE", "2")
    cfg = RunConfig(train=TrainConfig(ensemble=2))
    with pytest.raises(ValueError, match="join their models with `monde ensemble`"):
        train_run(cfg, tmp_path / "data", tmp_path / "run")
    assert not (tmp_path / "run").exists()
    with pytest.raises(ValueError, match="train.ensemble must be ≥ 1"):
        TrainConfig(ensemble=0)
