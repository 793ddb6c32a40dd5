"""Precision by hardware: resolve_precision's rule with mocked capability probes (exact on every
CPU), the deprecated `bf16` flag of older configs, and where training and planning apply it."""

import json

import numpy as np
import pytest
import torch

import monde.precision as precision
from monde.config import ModelConfig, PlanConfig, RunConfig, TrainConfig
from monde.config_io import ConfigError, from_dict, load_config
from monde.models.world_model import WorldModel
from monde.plan.mpc import MPCPlanner
from monde.precision import Bf16Support, logged_precisions, resolve_precision, results_precision
from monde.train.objective import jepa_terms

REAL_BF16_SUPPORT = precision.bf16_support  # before tests/conftest.py swaps it per test

AMX = {"avx2": True, "avx512_f": True, "avx512_bf16": True, "amx_tile": True, "amx_bf16": True}
AVX512_BF16 = {"avx2": True, "avx512_f": True, "avx512_bf16": True}
AVX2 = {"avx2": True}


@pytest.fixture
def machine(monkeypatch):
    """machine(cpu_caps, onednn_bf16, cuda=(native, name), threads=1): mock every probe of the
    hardware, and the threads this process computes with."""

    def mock(
        caps: dict, onednn: bool, cuda: tuple[bool, str] = (False, "no GPU"), threads: int = 1
    ) -> None:
        monkeypatch.setattr(precision, "bf16_support", REAL_BF16_SUPPORT)
        monkeypatch.setattr(precision, "_threads", lambda: threads)
        monkeypatch.setattr(precision, "_cpu_capabilities", lambda: dict(caps))
        monkeypatch.setattr(precision, "_onednn_bf16", lambda: onednn)
        monkeypatch.setattr(precision, "_cuda_bf16", lambda index: cuda)
        precision.cpu_bf16_support.cache_clear()
        precision.cuda_bf16_support.cache_clear()

    yield mock
    precision.cpu_bf16_support.cache_clear()  # the next caller probes the real machine
    precision.cuda_bf16_support.cache_clear()


def test_auto_is_bf16_on_an_amx_cpu_and_fp32_elsewhere(machine):
    machine(AMX, onednn=True)  # one thread per process, as under torchrun
    assert resolve_precision("auto", "cpu") == (
        "bf16",
        "auto: CPU computes bf16 natively (oneDNN bf16: yes, AMX-BF16: yes, AVX512-BF16: yes)",
    )
    machine(AVX2, onednn=False)  # bf16 emulated: ~10× slower than fp32
    assert resolve_precision("auto", "cpu") == (
        "fp32",
        "auto: CPU lacks native bf16 (oneDNN bf16: no, AMX-BF16: no, AVX512-BF16: no)",
    )
    machine(AVX512_BF16, onednn=True)  # no AMX, bf16 vector instructions: faster at 1 thread
    assert resolve_precision("auto", "cpu") == (
        "bf16",
        "auto: CPU computes bf16 natively (oneDNN bf16: yes, AMX-BF16: no, AVX512-BF16: yes)",
    )
    machine({"avx2": True, "avx512_f": True}, onednn=True)  # AVX-512 without bf16 instructions
    assert resolve_precision("auto", "cpu")[0] == "fp32"
    machine(AMX, onednn=False)  # oneDNN would not run it: generic kernels
    assert resolve_precision("auto", "cpu")[0] == "fp32"


def test_training_on_amx_with_a_thread_team_stays_fp32(machine):
    """With two threads in one process bf16 training ran slower than fp32 on the AMX CPU (and
    faster on the AVX512-BF16 one, where auto keeps bf16)."""
    machine(AMX, onednn=True, threads=2)
    got, why = resolve_precision("auto", "cpu")
    assert got == "fp32" and "with 2 threads in one process bf16 training ran slower" in why
    assert why.endswith(
        "than fp32 on AMX; bf16 is picked at one thread per process (torchrun, train.threads=1)"
    )
    assert resolve_precision("auto", "cpu", threads=1)[0] == "bf16"  # as asked, not probed
    assert resolve_precision("bf16", "cpu")[0] == "bf16"
    machine(AVX512_BF16, onednn=True, threads=2)  # without AMX bf16 was faster here too
    assert resolve_precision("auto", "cpu") == (
        "bf16",
        "auto: CPU computes bf16 natively (oneDNN bf16: yes, AMX-BF16: no, AVX512-BF16: yes)",
    )
    machine(AMX, onednn=True, cuda=(True, "NVIDIA H200, compute capability 9.0"), threads=16)
    assert resolve_precision("auto", "cuda:0")[0] == "bf16"  # CPU threads: no matter on a GPU


def test_planning_on_a_cpu_stays_fp32(machine):
    """Small rollouts ran slower in bf16 even with AMX: "auto" plans in fp32 on every CPU."""
    for caps in (AMX, AVX512_BF16):
        machine(caps, onednn=True)
        got, why = resolve_precision("auto", "cpu", "plan")
        assert got == "fp32" and why.startswith("auto: planning on a CPU stays fp32")
    assert resolve_precision("bf16", "cpu", "plan")[0] == "bf16"  # asked for: honoured
    with pytest.raises(ValueError, match="workload must be 'train' or 'plan'"):
        resolve_precision("auto", "cpu", "eval")


def test_an_explicit_precision_is_always_honoured(machine):
    machine(AMX, onednn=True)
    assert resolve_precision("fp32", "cpu") == ("fp32", "asked for fp32")
    machine(AVX2, onednn=False)
    got, why = resolve_precision("bf16", "cpu")
    assert got == "bf16" and why.startswith("asked for bf16, although CPU lacks native bf16")
    assert why.endswith("expect it to be slower than fp32")
    with pytest.raises(ValueError, match=r"precision must be one of \['auto', 'fp32', 'bf16'\]"):
        resolve_precision("fp16", "cpu")


def test_auto_on_cuda_follows_the_gpu(machine):
    machine(AVX2, onednn=False, cuda=(True, "NVIDIA H200, compute capability 9.0"))
    assert resolve_precision("auto", "cuda:0") == (
        "bf16",
        "auto: CUDA computes bf16 natively (NVIDIA H200, compute capability 9.0)",
    )
    assert resolve_precision("auto", "cuda:0", "plan")[0] == "bf16"  # planning too
    assert resolve_precision("auto", "cpu")[0] == "fp32"  # the CPU of the same machine
    machine(AMX, onednn=True, cuda=(False, "Tesla T4, compute capability 7.5"))
    assert resolve_precision("auto", "cuda:0") == (
        "fp32",
        "auto: CUDA lacks native bf16 (Tesla T4, compute capability 7.5)",
    )
    assert resolve_precision("auto", "meta")[0] == "fp32"  # no rule for other devices


def test_the_real_probe_agrees_with_torchs_flags():
    """Unmocked: whatever this CPU is, the rule reads torch's own answers."""
    precision.cpu_bf16_support.cache_clear()
    support = precision.cpu_bf16_support()
    caps = torch.cpu.get_capabilities()
    onednn = torch.ops.mkldnn._is_mkldnn_bf16_supported()
    native = bool(caps.get("amx_bf16")) or bool(caps.get("avx512_bf16"))
    assert support.native == (onednn and native)
    assert support.tiles == bool(caps.get("amx_bf16"))


def test_configs_default_to_auto_and_read_the_old_bf16_flag(tmp_path):
    assert TrainConfig().precision == PlanConfig().precision == "auto"
    assert TrainConfig(bf16=True).precision == "bf16"
    assert TrainConfig(bf16=False).precision == "fp32"
    assert PlanConfig(bf16=True).precision == "bf16"
    assert TrainConfig(bf16=True).bf16 is None  # cleared: saved configs hold only precision
    assert TrainConfig(precision="fp32", bf16=True).precision == "fp32"  # precision wins
    old = tmp_path / "config.yaml"  # a run folder's config.yaml from before `precision`
    old.write_text("train:\n  bf16: false\nplan:\n  bf16: true\n")
    cfg = load_config(RunConfig, old, ["plan.precision=auto"])
    assert (cfg.train.precision, cfg.plan.precision) == ("fp32", "bf16")
    assert load_config(RunConfig, old, ["train.precision=bf16"]).train.precision == "bf16"
    with pytest.raises(ConfigError, match="train.precision"):
        from_dict(RunConfig, {"train": {"precision": "fp16"}})


def test_training_and_planning_autocast_as_resolved(monkeypatch):
    """Training's 'auto' follows the probe: bf16 where it reports native bf16, fp32 where
    not; planning on a CPU rolls out in fp32 unless asked for bf16."""
    cfg = ModelConfig(image_size=16, encoder_channels=(8, 8), latent_dim=8, predictor_dim=16)
    torch.manual_seed(0)
    model = WorldModel(cfg)
    seen: list[torch.dtype] = []
    model.encoder.register_forward_hook(lambda mod, args, out: seen.append(out.dtype))
    frames = torch.randint(0, 256, (2, 3, 16, 16, 3), dtype=torch.uint8)
    actions = torch.rand(2, 2, cfg.action_dim)
    obs = np.zeros((1, 16, 16, 3), np.uint8)
    plan_cfg = PlanConfig(horizon=2, samples=4, iterations=1, topk=2)
    rolled: list[torch.dtype] = []
    model.predictor.output.register_forward_hook(lambda mod, args, out: rolled.append(out.dtype))
    monkeypatch.setattr(precision, "_threads", lambda: 1)  # one thread per process
    for native, dtype in ((False, torch.float32), (True, torch.bfloat16)):
        support = Bf16Support(native, "mocked")
        monkeypatch.setattr(precision, "bf16_support", lambda device, s=support: s)
        seen.clear(), rolled.clear()
        loss, _ = jepa_terms(model, frames, actions, TrainConfig(rollout_steps=1))
        assert loss.dtype == torch.float32 and seen == [dtype]  # the loss stays fp32
        for plan_precision, want in (("auto", torch.float32), ("bf16", torch.bfloat16)):
            plan_cfg.precision = plan_precision
            planner = MPCPlanner(model, plan_cfg, seed=0)
            planner.reset(obs, obs)
            rolled.clear()
            planner.plan()
            assert rolled and set(rolled) == {want}, (native, plan_precision)


def test_results_record_what_training_logged(tmp_path):
    rows = [{"step": 1, "precision": "bf16"}, {"step": 2, "precision": "fp32"}, {"step": 3}]
    text = "".join(json.dumps(r) + "\n" for r in rows) + '{"step": 4, "prec'  # a torn last line
    (tmp_path / "metrics.jsonl").write_text(text)
    assert logged_precisions(tmp_path) == ["bf16", "fp32"]  # resumed on another machine
    assert logged_precisions(tmp_path / "missing") == []
    record = results_precision("fp32", "cpu", "auto", "cpu", tmp_path)
    assert record["train"] == {
        "requested": "fp32",
        "resolved": "fp32",
        "reason": "asked for fp32",
        "device": "cpu",
        "logged": ["bf16", "fp32"],
    }
    assert record["plan"]["requested"] == "auto" and record["plan"]["resolved"] == "fp32"
    assert (
        record["plan"]["reason"]
        == "auto: CPU lacks native bf16 (tests: auto means fp32 on every machine)"
    )
