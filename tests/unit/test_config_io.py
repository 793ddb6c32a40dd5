"""Tests for monde.config_io on small nested dataclasses defined here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Optional

import pytest
import yaml

from monde.config_io import (
    ConfigError,
    apply_overrides,
    from_dict,
    load_config,
    save_config,
    to_dict,
)


@dataclass
class EncoderCfg:
    channels: tuple[int, ...] = (16, 32)  # conv channels per stage
    norm: Literal["batch", "layer", "none"] = "layer"  # normalisation layer


@dataclass
class ModelCfg:
    encoder: EncoderCfg = field(default_factory=EncoderCfg)  # pixel encoder
    predictor: str = "mlp"  # predictor kind
    latent_dim: int = 64  # latent size D
    dropout: float = 0.0  # dropout probability

    def __post_init__(self) -> None:
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"model.dropout must be in [0, 1), got {self.dropout}")


@dataclass
class TrainCfg:
    lr: float = 3e-4  # learning rate
    steps: int = 1000  # optimizer steps
    amp: bool = False  # mixed precision
    grad_clip: float | None = 1.0  # max grad norm, None disables
    seed: Optional[int] = None  # noqa: UP045 - Optional[...] must work too
    betas: tuple[float, float] = (0.9, 0.999)  # AdamW betas
    milestones: list[int] = field(default_factory=lambda: [500, 800])  # lr decay steps
    tags: list[str] = field(default_factory=list)  # free-form labels


@dataclass
class RunCfg:
    name: str = "default"  # run name
    model: ModelCfg = field(default_factory=ModelCfg)  # world model
    train: TrainCfg = field(default_factory=TrainCfg)  # optimisation
    probe: EncoderCfg | None = None  # optional extra section


def _write(path, text: str):
    path.write_text(text)
    return path


# ----------------------------------------------------------------------------- from_dict / to_dict


def test_defaults_and_partial_dict():
    cfg = from_dict(RunCfg, {"train": {"steps": 5}})
    assert cfg == RunCfg(train=TrainCfg(steps=5))
    assert from_dict(RunCfg, {}) == RunCfg()


def test_from_dict_converts_types():
    cfg = from_dict(
        RunCfg,
        {
            "model": {"encoder": {"channels": [8, 16, 32], "norm": "batch"}, "dropout": 0},
            "train": {"lr": 1e-3, "betas": [0.5, 1], "seed": 3, "grad_clip": None},
            "probe": {"channels": [4]},
        },
    )
    assert cfg.model.encoder.channels == (8, 16, 32)
    assert isinstance(cfg.model.dropout, float)
    assert cfg.train.lr == 1e-3 and cfg.train.betas == (0.5, 1.0)
    assert isinstance(cfg.train.betas[1], float)
    assert cfg.train.seed == 3 and cfg.train.grad_clip is None
    assert cfg.probe == EncoderCfg(channels=(4,))
    lr = from_dict(RunCfg, {"train": {"lr": 1}}).train.lr
    assert lr == 1.0 and isinstance(lr, float)  # ints accepted for floats


def test_to_dict_is_plain_and_ordered():
    d = to_dict(RunCfg())
    assert list(d) == ["name", "model", "train", "probe"]
    assert list(d["train"])[:3] == ["lr", "steps", "amp"]
    assert d["train"]["betas"] == [0.9, 0.999]
    assert d["model"]["encoder"]["channels"] == [16, 32]
    assert yaml.safe_load(yaml.safe_dump(d)) == d


def test_unknown_key_names_dotted_path_and_suggests():
    with pytest.raises(ConfigError) as exc:
        from_dict(RunCfg, {"model": {"encder": {}}}, source="cfg.yaml")
    msg = str(exc.value)
    assert "'model.encder'" in msg and "cfg.yaml" in msg
    assert "did you mean 'encoder'?" in msg
    assert "valid keys at 'model': encoder, predictor, latent_dim, dropout" in msg
    with pytest.raises(ConfigError, match="unknown key 'trian'.*did you mean 'train'"):
        from_dict(RunCfg, {"trian": {}})


def test_wrong_type_names_key_expected_and_got():
    with pytest.raises(ConfigError) as exc:
        from_dict(RunCfg, {"train": {"steps": "many"}}, source="x.yaml")
    msg = str(exc.value)
    assert "'train.steps'" in msg and "int" in msg and "'many'" in msg and "x.yaml" in msg
    with pytest.raises(ConfigError, match="'train.amp': .*boolean, got 1$"):
        from_dict(RunCfg, {"train": {"amp": 1}})
    with pytest.raises(ConfigError, match="'train.amp': .*boolean, got 'yes'$"):
        from_dict(RunCfg, {"train": {"amp": "yes"}})
    with pytest.raises(ConfigError, match="'train.steps': .*integer, got 1.5$"):
        from_dict(RunCfg, {"train": {"steps": 1.5}})
    with pytest.raises(ConfigError, match="'train.steps': .*integer, got '3000'$"):
        from_dict(RunCfg, {"train": {"steps": "3000"}})  # strict: no quoted numbers
    with pytest.raises(ConfigError, match="'train.lr': .*number, got '1e-3'$"):
        from_dict(RunCfg, {"train": {"lr": "1e-3"}})
    with pytest.raises(ConfigError, match=r"'train.betas\[1\]': .*got \[0.9\]$"):
        from_dict(RunCfg, {"train": {"betas": [0.9]}})
    with pytest.raises(ConfigError, match=r"'train.milestones\[1\]': .*integer, got 'x'$"):
        from_dict(RunCfg, {"train": {"milestones": [1, "x"]}})
    with pytest.raises(ConfigError, match="'model': .*object, got 3$"):
        from_dict(RunCfg, {"model": 3})


def test_literal_violation():
    with pytest.raises(
        ConfigError, match="'model.encoder.norm': .*'batch', 'layer' or 'none', got 'group'"
    ):
        from_dict(RunCfg, {"model": {"encoder": {"norm": "group"}}})


def test_post_init_error_is_prefixed_with_source():
    with pytest.raises(ConfigError, match=r"^run.yaml: .*dropout must be in \[0, 1\)"):
        from_dict(RunCfg, {"model": {"dropout": 1.5}}, source="run.yaml")


# ----------------------------------------------------------------------------- overrides


def test_overrides_of_every_kind():
    data = apply_overrides(
        {"train": {"steps": 1}},
        [
            "train.steps=20",
            "train.lr=1e-3",
            "train.amp=true",
            "name=123",
            "train.betas=[0.8, 0.99]",
            "train.grad_clip=none",
            "train.seed=7",
            "model.encoder.norm=batch",
            "model.encoder.channels=4,8",
            "train.tags=[a, b]",
        ],
        RunCfg,
    )
    cfg = from_dict(RunCfg, data)
    assert cfg.train.steps == 20
    assert cfg.train.lr == pytest.approx(1e-3) and isinstance(cfg.train.lr, float)
    assert cfg.train.amp is True
    assert cfg.name == "123"
    assert cfg.train.betas == (0.8, 0.99)
    assert cfg.train.grad_clip is None
    assert cfg.train.seed == 7
    assert cfg.model.encoder.norm == "batch"
    assert cfg.model.encoder.channels == (4, 8)
    assert cfg.train.tags == ["a", "b"]


def test_overrides_do_not_mutate_input_and_create_sections():
    data = {"train": {"steps": 1}}
    out = apply_overrides(data, ["probe.norm=none", "train.steps=2"], RunCfg)
    assert data == {"train": {"steps": 1}}
    cfg = from_dict(RunCfg, out)
    assert cfg.probe == EncoderCfg(norm="none")  # "none" is a Literal value here, not None
    assert cfg.train.steps == 2
    assert from_dict(RunCfg, apply_overrides({}, ["probe=null"], RunCfg)).probe is None


def test_override_errors():
    with pytest.raises(ConfigError, match="unknown key 'train.lrr'.*did you mean 'lr'"):
        apply_overrides({}, ["train.lrr=1"], RunCfg)
    with pytest.raises(ConfigError, match="command line: 'train.lr': .*number, got {'x': 1}"):
        apply_overrides({}, ["train.lr.x=1"], RunCfg)
    with pytest.raises(ConfigError, match="malformed override 'train.steps'"):
        apply_overrides({}, ["train.steps"], RunCfg)
    with pytest.raises(ConfigError, match="command line: 'train.steps': .*integer, got 'lots'"):
        apply_overrides({}, ["train.steps=lots"], RunCfg)
    with pytest.raises(ConfigError, match="'model.encoder.norm': .*got 'group'"):
        apply_overrides({}, ["model.encoder.norm=group"], RunCfg)
    with pytest.raises(ConfigError, match="'train.steps': .*integer, got None"):
        apply_overrides({}, ["train.steps=none"], RunCfg)


# ----------------------------------------------------------------------------- files


def test_save_load_round_trip(tmp_path):
    cfg = RunCfg(
        name="yes",  # YAML 1.1 would read a bare yes as a bool
        model=ModelCfg(encoder=EncoderCfg(channels=(3,), norm="none"), dropout=0.25),
        train=TrainCfg(lr=1e-5, betas=(0.5, 0.75), seed=0, grad_clip=None, tags=["a"]),
        probe=EncoderCfg(),
    )
    path = tmp_path / "out" / "config.yaml"
    save_config(cfg, path)
    assert load_config(RunCfg, path) == cfg
    text = path.read_text()
    assert text.index("name:") < text.index("model:") < text.index("train:")
    assert [p.name for p in path.parent.iterdir()] == ["config.yaml"]


def test_load_with_overrides_and_defaults(tmp_path):
    path = _write(tmp_path / "c.yaml", "train:\n  lr: 1e-3\n  steps: 10\n")
    cfg = load_config(RunCfg, path, ["train.steps=30"])
    assert cfg.train.lr == pytest.approx(1e-3) and cfg.train.steps == 30
    assert load_config(RunCfg, None, ["model.latent_dim=8"]).model.latent_dim == 8
    assert load_config(RunCfg, _write(tmp_path / "empty.yaml", "")) == RunCfg()


def test_load_unknown_key_names_file_and_suggests(tmp_path):
    path = _write(tmp_path / "typo.yaml", "model:\n  encder:\n    norm: batch\n")
    with pytest.raises(ConfigError) as exc:
        load_config(RunCfg, path)
    msg = str(exc.value)
    assert "'model.encder'" in msg and "typo.yaml" in msg and "did you mean 'encoder'?" in msg


def test_load_errors(tmp_path):
    with pytest.raises(ConfigError, match="not found: .*missing.yaml"):
        load_config(RunCfg, tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="list.yaml must contain a mapping"):
        load_config(RunCfg, _write(tmp_path / "list.yaml", "- 1\n- 2\n"))
    with pytest.raises(ConfigError, match="broken.yaml is not valid YAML"):
        load_config(RunCfg, _write(tmp_path / "broken.yaml", "train: [1, 2\n"))
    with pytest.raises(ConfigError, match=r"bad.yaml: model.dropout must be in"):
        load_config(RunCfg, _write(tmp_path / "bad.yaml", "model:\n  dropout: 2\n"))


def test_base_inheritance(tmp_path):
    _write(tmp_path / "default.yaml", "name: base\ntrain:\n  lr: 1e-3\n  steps: 10\n")
    presets = tmp_path / "presets"
    presets.mkdir()
    _write(presets / "mid.yaml", "base: ../default.yaml\ntrain:\n  steps: 20\n  amp: true\n")
    child = _write(presets / "child.yaml", "base: mid.yaml\nname: child\ntrain:\n  steps: 30\n")
    cfg = load_config(RunCfg, child, ["train.amp=false"])
    assert cfg.name == "child"
    assert cfg.train.lr == pytest.approx(1e-3)  # from default.yaml
    assert cfg.train.steps == 30  # child wins
    assert cfg.train.amp is False  # override wins over mid.yaml
    with pytest.raises(ConfigError, match="base config file not found: .*nope.yaml"):
        load_config(RunCfg, _write(tmp_path / "orphan.yaml", "base: nope.yaml\n"))


def test_base_cycle_is_reported(tmp_path):
    _write(tmp_path / "a.yaml", "base: b.yaml\n")
    _write(tmp_path / "b.yaml", "base: a.yaml\n")
    with pytest.raises(ConfigError, match="cycle"):
        load_config(RunCfg, tmp_path / "a.yaml")


def test_load_is_strict_and_reads_exponents_as_floats(tmp_path):
    path = _write(tmp_path / "strict.yaml", "train:\n  lr: 5e-4\n  steps: '3000'\n")
    with pytest.raises(ConfigError, match=r"strict.yaml: 'train.steps': .*integer, got '3000'$"):
        load_config(RunCfg, path)  # a quoted number is not an int
    lr = load_config(RunCfg, path, ["train.steps=3000"]).train.lr
    assert lr == 5e-4 and isinstance(lr, float)  # YAML 1.1 would read 5e-4 as a string
    path = _write(tmp_path / "bool.yaml", "train:\n  amp: 1\n")
    with pytest.raises(ConfigError, match=r"bool.yaml: 'train.amp': .*boolean, got 1$"):
        load_config(RunCfg, path)
