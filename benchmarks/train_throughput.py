"""Training throughput: windows/s and achieved FLOP/s as a fraction of the machine's peak, for
the default precision (`train.precision=auto`, resolved by monde.precision on this machine)
beside the alternative, eager vs torch.compile, 1 vs 2 processes; and a profile of the top ops
of a bf16 step beside an fp32 one (why bf16 is, or is not, faster here).

    python benchmarks/train_throughput.py [--quick] [--device auto|cpu|cuda]
        [--modes eager,compiled] [--processes 1,2 | 1x1,2x1] [--steps 20] [--warmup 5]
        [--repeats 1]

writes benchmarks/results/train_throughput.json (one entry per device kind and, on a CPU, per
instruction-set class: AVX2, AVX-512, AVX512-BF16, AMX; so runs on other machines add to it)
and regenerates the numbers section of docs/scaling.md from it (--render-only does just that).
Each entry records the CPU's flags, what `auto` resolved to and why, and the 1-minute load
average before and after every setting (other work on a shared machine). With --repeats R
every setting is measured R times, alternating the two precisions, and the best is kept
(wall clock and, separately, per CPU-second of the process: others' load stretches the first).

Every run is the training step monde.train.fit takes (monde.train.step:
DDP across processes, all-gathered regulariser, AdamW) on the default model and batch, on
synthetic windows, so data loading is not measured.

FLOPs per step are counted by torch.utils.flop_counter.FlopCounterMode on one eager fp32
forward + backward of the global batch: matmuls, convolutions and attention, not elementwise
ops or the optimizer. Peak is the measured fp32 matmul rate of this device with all its
threads (the denominator of `fraction_of_peak`); on a CPU the JSON also gives a theoretical
peak from cores × clock × FMA width, with the assumption spelled out.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from monde.config import ModelConfig, RunConfig, TrainConfig
from monde.config_io import load_config, to_dict
from monde.hardware import cpu_flags, cpu_model, isa_class
from monde.io import atomic_write_json, read_json, replace_section
from monde.models.world_model import WorldModel
from monde.plan.mpc import MPCPlanner
from monde.precision import resolve_precision
from monde.report import provenance
from monde.train.distributed import DistContext, resolve_device
from monde.train.objective import JEPAObjective
from monde.train.step import TrainStep

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "train_throughput.json"
DOC = ROOT / "docs" / "scaling.md"
BEGIN, END = "<!-- throughput:begin -->", "<!-- throughput:end -->"
COMMAND = "python benchmarks/train_throughput.py"
PLAN_PRESET = ROOT / "configs" / "two_room.yaml"  # the demo's model and planner


def entry_key(device: torch.device, flags: list[str]) -> str:
    """Where a run goes in the JSON: 'cuda', or 'cpu (AMX)' etc., so CPUs of each class stay."""
    return f"cpu ({isa_class(flags)})" if device.type == "cpu" else device.type


def _load() -> float | None:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def auto_precision(entry: dict) -> dict:
    """What `auto` resolved to on the machine of an entry (entries written before the field:
    the CPU rule applied to their recorded flags)."""
    if "auto_precision" in entry:
        return entry["auto_precision"]
    native = entry.get("onednn_bf16_supported") and "amx_bf16" in entry.get("cpu_flags", [])
    return {
        "resolved": "bf16" if native else "fp32",
        "reason": "auto by the CPU rule on the recorded flags "
        f"(oneDNN bf16: {'yes' if entry.get('onednn_bf16_supported') else 'no'}, "
        f"flags: {', '.join(entry.get('cpu_flags', [])) or 'none'})",
    }


def theoretical_cpu_peak() -> dict:
    """cores × clock × fp32 FLOP per cycle, from /proc/cpuinfo; the FMA units are assumed."""
    try:
        text = Path("/proc/cpuinfo").read_text()
        mhz = float(re.search(r"cpu MHz\s*:\s*([\d.]+)", text).group(1))
    except (OSError, AttributeError):
        return {"gflops": None, "assumption": "no /proc/cpuinfo clock"}
    flags = cpu_flags()
    lanes = 16 if "avx512f" in flags else 8 if "avx2" in flags else 4
    per_cycle = lanes * 2 * 2  # two FMA units, an FMA is two FLOPs
    cores = os.cpu_count() or 1
    return {
        "gflops": cores * mhz / 1000 * per_cycle,
        "assumption": f"{cores} cores × {mhz:.0f} MHz × {per_cycle} fp32 FLOP/cycle "
        f"({lanes}-lane {'AVX-512' if lanes == 16 else 'AVX2' if lanes == 8 else 'SSE'} FMA, "
        "two FMA units per core as in Zen 2 or Haswell and later)",
    }


def matmul_gflops(device: torch.device, dtype: torch.dtype, n: int, repeats: int) -> float:
    """Best of `repeats` n×n matmuls, GFLOP/s."""
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    best = float("inf")
    for _ in range(repeats + 1):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        a @ b
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def synthetic_batch(batch: int, device: torch.device, seed: int = 0):
    """Random windows of the default model: frames (B, L, 64, 64, 3) uint8, actions (B, L−1, A)."""
    model_cfg, train_cfg = ModelConfig(), TrainConfig()
    length = model_cfg.history + train_cfg.rollout_steps
    g = torch.Generator().manual_seed(seed)
    size = model_cfg.image_size
    frames = torch.randint(0, 256, (batch, length, size, size, 3), generator=g, dtype=torch.uint8)
    actions = torch.rand(batch, length - 1, model_cfg.action_dim, generator=g) * 2 - 1
    return frames.to(device), actions.to(device)


def flops_per_step(batch: int, device: torch.device) -> int:
    """Matmul/conv FLOPs of one fp32 forward + backward of the objective on `batch` windows."""
    from torch.utils.flop_counter import FlopCounterMode

    torch.manual_seed(0)
    objective = JEPAObjective(WorldModel(ModelConfig()).to(device), TrainConfig())
    frames, actions = synthetic_batch(batch, device)
    counter = FlopCounterMode(display=False)
    with counter:
        loss, _ = objective(frames, actions)
        loss.backward()
    return int(counter.get_total_flops())


def _step_loop(ctx: DistContext, bf16: bool, compiled: bool, batch: int, steps: int, warmup: int):
    """(seconds for `steps` steps after `warmup`, first-step seconds, CPU seconds of this process
    for the timed steps) on this rank."""
    torch.manual_seed(0)
    model = WorldModel(ModelConfig()).to(ctx.device)
    precision = "bf16" if bf16 else "fp32"
    cfg = TrainConfig(precision=precision, compile=compiled, batch_size=batch)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    step = TrainStep(model, optimizer, cfg, ctx)
    frames, actions = synthetic_batch(batch // ctx.world_size, ctx.device, seed=ctx.rank)

    def sync() -> None:
        if ctx.device.type == "cuda":
            torch.cuda.synchronize()
        if ctx.distributed:
            dist.barrier()

    start = time.perf_counter()
    for i in range(warmup):
        step(frames, actions, i)
        if i == 0:
            sync()
            first = time.perf_counter() - start
    sync()
    start, cpu = time.perf_counter(), time.process_time()
    for i in range(steps):
        step(frames, actions, warmup + i)
    sync()
    return time.perf_counter() - start, first, time.process_time() - cpu


def _worker(rank: int, world: int, init: str, out: str, threads: int, args: tuple) -> None:
    torch.set_num_threads(threads)
    dist.init_process_group("gloo", init_method=f"file://{init}", rank=rank, world_size=world)
    try:
        ctx = DistContext(rank, world, rank, torch.device("cpu"), True)
        seconds, first, cpu = _step_loop(ctx, *args)
        if rank == 0:
            result = {"seconds": seconds, "first_step_s": first, "cpu_seconds": cpu}
            Path(out).write_text(json.dumps(result))
    finally:
        dist.destroy_process_group()


def measure(
    device: torch.device,
    precision: str,
    mode: str,
    processes: int,
    batch: int,
    steps: int,
    warmup: int,
    threads: int | None = None,
) -> dict:
    """samples/s of one setting; processes > 1 runs gloo ranks on this CPU, each with `threads`
    (default: the cores split between them)."""
    cores = os.cpu_count() or 1
    args = (precision == "bf16", mode == "compiled", batch, steps, warmup)
    threads = threads or (max(1, cores // processes) if device.type == "cpu" else None)
    threads = threads or torch.get_num_threads()
    row = {"precision": precision, "mode": mode, "processes": processes, "threads": threads}
    row["load_average_before"] = _load()
    try:
        if processes == 1:
            previous = torch.get_num_threads()
            torch.set_num_threads(threads)
            try:
                seconds, first, cpu = _step_loop(DistContext(device=device), *args)
            finally:
                torch.set_num_threads(previous)
        else:
            if device.type != "cpu":
                raise ValueError("several processes are measured on CPU only (gloo)")
            with tempfile.TemporaryDirectory() as tmp:
                out, init = Path(tmp) / "result.json", str(Path(tmp) / "rendezvous")
                mp.spawn(
                    _worker,
                    args=(processes, init, str(out), threads, args),
                    nprocs=processes,
                    join=True,
                )
                result = json.loads(out.read_text())
            seconds, first, cpu = result["seconds"], result["first_step_s"], result["cpu_seconds"]
    except Exception as err:  # a setting that cannot run here is reported, not fatal
        return {**row, "error": f"{type(err).__name__}: {err}"[:500]}
    return {
        **row,
        "samples_per_s": batch * steps / seconds,
        "step_ms": 1000 * seconds / steps,
        "first_step_s": first,
        # CPU time of (rank 0's) process: others' work on a shared machine stretches the wall
        # clock but hardly this, so windows per CPU-second compare precisions more steadily
        "samples_per_cpu_s": batch * steps / cpu / processes if cpu > 0 else None,
        "load_average_after": _load(),
    }


def _best(rows: list[dict]) -> dict:
    """The fastest of several measurements of one setting (others' work only slows a run
    down); every attempt's windows/s (wall clock and per CPU-second) is kept."""
    ok = [r for r in rows if "samples_per_s" in r]
    best = max(ok, key=lambda r: r["samples_per_s"]) if ok else rows[-1]
    best = {**best, "attempts": [r.get("samples_per_s") for r in rows]}
    best["attempts_per_cpu_s"] = [r.get("samples_per_cpu_s") for r in rows]
    if ok and all(r.get("samples_per_cpu_s") for r in ok):
        best["samples_per_cpu_s"] = max(r["samples_per_cpu_s"] for r in ok)
    return best


def plan_calls(device: torch.device, episodes: tuple[int, ...], calls: int) -> dict:
    """Best wall time (and CPU time) of one replanning call of the demo preset's planner on its
    model, fp32 vs bf16, per number of episodes planned together (random weights: the time does
    not depend on them). The precisions alternate call by call, so other work on the machine
    hits both; on a CPU one thread plans, so that others' load cannot stall a thread team."""
    previous = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(1)
    try:
        return _plan_calls(device, episodes, calls)
    finally:
        torch.set_num_threads(previous)


def _plan_calls(device: torch.device, episodes: tuple[int, ...], calls: int) -> dict:
    cfg = load_config(RunConfig, PLAN_PRESET)
    torch.manual_seed(0)
    model = WorldModel(cfg.model).to(device).eval()
    size, rows = cfg.model.image_size, []
    for count in episodes:
        rng = np.random.default_rng(0)
        frames = rng.integers(0, 256, (2, count, size, size, cfg.model.in_channels), np.uint8)
        planners = {}
        for precision in ("fp32", "bf16"):
            planner = MPCPlanner(model, replace(cfg.plan, precision=precision), seed=0)
            planner.reset(frames[0], frames[1])
            planner.plan()  # warm-up
            planners[precision] = planner
        best = dict.fromkeys(planners, float("inf"))
        best_cpu = dict.fromkeys(planners, float("inf"))
        for _ in range(calls):
            for precision, planner in planners.items():
                if device.type == "cuda":
                    torch.cuda.synchronize()
                start, cpu = time.perf_counter(), time.process_time()
                planner.plan()
                if device.type == "cuda":
                    torch.cuda.synchronize()
                best[precision] = min(best[precision], time.perf_counter() - start)
                best_cpu[precision] = min(best_cpu[precision], time.process_time() - cpu)
        rows.append(
            {
                "episodes": count,
                **{f"{p}_ms": 1000 * t for p, t in best.items()},
                **{f"{p}_cpu_ms": 1000 * t for p, t in best_cpu.items()},
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    plan = cfg.plan
    auto, why = resolve_precision("auto", device, "plan")
    return {
        "preset": str(PLAN_PRESET.relative_to(ROOT)),
        "planner": f"{plan.solver} {plan.samples}×{plan.iterations}, horizon {plan.horizon}",
        "calls": calls,
        "threads": torch.get_num_threads(),
        "auto": {"resolved": auto, "reason": why},
        "rows": rows,
    }


def profile_step(device: torch.device, bf16: bool, batch: int, steps: int, top: int = 12) -> dict:
    """torch.profiler over `steps` eager one-process steps: the ops with most self time."""
    from torch.profiler import ProfilerActivity, profile

    ctx = DistContext(device=device)
    torch.manual_seed(0)
    model = WorldModel(ModelConfig()).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    cfg = TrainConfig(precision="bf16" if bf16 else "fp32", batch_size=batch)
    step = TrainStep(model, optimizer, cfg, ctx)
    frames, actions = synthetic_batch(batch, device)
    step(frames, actions, 0)  # warm-up outside the profile
    activities = [ProfilerActivity.CPU]
    if device.type == "cuda":
        activities.append(ProfilerActivity.CUDA)
    with profile(activities=activities) as prof:
        for i in range(steps):
            step(frames, actions, 1 + i)
        if device.type == "cuda":
            torch.cuda.synchronize()
    key = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    events = sorted(prof.key_averages(), key=lambda e: getattr(e, key, 0.0), reverse=True)
    total = sum(getattr(e, key, 0.0) for e in events) or 1.0
    rows = [
        {
            "op": e.key,
            "calls": e.count,
            "self_ms_per_step": getattr(e, key, 0.0) / 1000 / steps,
            "share_of_self_time": getattr(e, key, 0.0) / total,
        }
        for e in events[:top]
    ]
    return {
        "steps": steps,
        "self_ms_per_step": total / 1000 / steps,
        "top_ops": rows,
        "table": prof.key_averages().table(sort_by=key, row_limit=top),
    }


def run(
    device: torch.device,
    quick: bool,
    modes: tuple[str, ...] = ("eager", "compiled"),
    processes: tuple[tuple[int, int | None], ...] = ((1, None), (2, None)),
    steps: int | None = None,
    warmup: int | None = None,
    repeats: int = 1,
) -> dict:
    load = _load()  # other work on the machine
    batch = TrainConfig().batch_size
    steps, warmup = steps or (3 if quick else 20), warmup or (2 if quick else 5)
    cores = os.cpu_count() or 1
    default, why = resolve_precision("auto", device)
    alternative = "fp32" if default == "bf16" else "bf16"
    print(f"auto precision here: {default} ({why}); the alternative: {alternative}", flush=True)
    n = 1024 if quick else 2048
    peak = {
        "measured_fp32_matmul_gflops": matmul_gflops(device, torch.float32, n, 3),
        "measured_bf16_matmul_gflops": matmul_gflops(device, torch.bfloat16, n, 3),
        "matmul_size": n,
        "denominator": "measured_fp32_matmul_gflops",
    }
    if device.type == "cpu":
        peak["theoretical_fp32"] = theoretical_cpu_peak()
    flops = flops_per_step(batch, device)
    counts = list(processes) if device.type == "cpu" else [(1, None)]
    runs = []
    for count, threads in counts:
        team = threads or (max(1, cores // count) if device.type == "cpu" else None)
        picked = resolve_precision("auto", device, "train", team)[0]  # with these threads
        for mode in modes:
            args = (mode, count, batch, steps, warmup, threads)
            tries: dict[str, list[dict]] = {default: [], alternative: []}
            for _ in range(repeats):  # alternating, so drift in others' load hits both
                for precision, rows in tries.items():
                    rows.append(measure(device, precision, *args))
            for precision, rows in tries.items():
                row = {**_best(rows), "auto": precision == picked}
                if "samples_per_s" in row:
                    achieved = flops * row["samples_per_s"] / batch / 1e9
                    row["achieved_gflops"] = achieved
                    row["fraction_of_peak"] = achieved / peak["measured_fp32_matmul_gflops"]
                print(json.dumps(row), flush=True)
                runs.append(row)
    planning = plan_calls(device, (1, 8) if quick else (1, 100), 2 if quick else 5)
    profiled = 2 if quick else 5
    profile = {p: profile_step(device, p == "bf16", batch, profiled) for p in ("fp32", "bf16")}
    fp32, bf16 = (_speed({"runs": runs}, p, "eager", 1) for p in ("fp32", "bf16"))
    caps = torch.cpu.get_capabilities() if hasattr(torch.cpu, "get_capabilities") else {}
    wanted = ("avx2", "avx512_f", "avx512_bf16", "amx_tile", "amx_bf16")
    return {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_model(),
        "cpu_flags": cpu_flags(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu_capabilities": {k: bool(caps.get(k)) for k in wanted},  # torch's own view
        "onednn_bf16_supported": bool(torch.ops.mkldnn._is_mkldnn_bf16_supported()),
        "auto_precision": {"resolved": default, "reason": why, "alternative": alternative},
        "cores": cores,
        "load_average_at_start": load,
        "load_average_at_end": _load(),
        "repeats": repeats,
        "quick": quick,
        "batch_size": batch,
        "measured_steps": steps,
        "warmup_steps": warmup,
        "model": to_dict(ModelConfig()),
        "flops_per_step": flops,
        "peak": peak,
        "runs": runs,
        "bf16_over_fp32_eager_one_process": bf16 / fp32 if fp32 and bf16 else None,
        "planning": planning,
        "profile": profile,
        "provenance": provenance(),
    }


def _speed(
    entry: dict,
    precision: str,
    mode: str,
    processes: int,
    key: str = "samples_per_s",
    threads: int | None = None,
) -> float | None:
    """`key` of the first run of this setting (any thread count unless `threads` is given)."""
    for r in entry["runs"]:
        if (r["precision"], r["mode"], r["processes"]) == (precision, mode, processes):
            if threads is None or r["threads"] == threads:
                return r.get(key)
    return None


def _why_bf16(entry: dict) -> list[str]:
    """What the profiles show about bf16 convolutions, read from the op names in the JSON."""
    ops = {p: {o["op"]: o for o in entry["profile"][p]["top_ops"]} for p in ("fp32", "bf16")}
    slow = [o for name, o in ops["bf16"].items() if "slow_conv" in name]
    if not slow or not any("mkldnn_convolution" in name for name in ops["fp32"]):
        return []
    share = sum(o["share_of_self_time"] for o in slow)
    lacking = entry.get("onednn_bf16_supported") is False
    return [
        "",
        "Why: in fp32 the convolutions run in oneDNN (`aten::mkldnn_convolution`); in bf16 they "
        "fall back to PyTorch's generic `aten::_slow_conv2d_*` kernels, "
        f"{100 * share:.0f} % of the bf16 step's op time"
        + (
            ". PyTorch hands bf16 work to oneDNN only on CPUs with AVX-512 (BW, VL, DQ; fast "
            "bf16 needs AVX512-BF16 or AMX): `torch.ops.mkldnn._is_mkldnn_bf16_supported()` is "
            f"False on this one (vector capability {entry.get('cpu_capability')}), and its bf16 "
            "matmul rate above shows that matrix products are slow in bf16 too."
            if lacking
            else "."
        ),
    ]


def _picked(entry: dict, processes: int, threads: int, mode: str) -> str:
    """The precision `auto` picks for one setting (its thread count can change the choice)."""
    for r in entry["runs"]:
        if (r["processes"], r["threads"], r["mode"]) == (processes, threads, mode) and r.get(
            "auto"
        ):
            return r["precision"]
    return auto_precision(entry)["resolved"]


def _side_by_side(entry: dict) -> list[str]:
    """The default precision (what `auto` picks, setting by setting) beside the alternative,
    and whether the measurements bear the choice out."""
    auto = auto_precision(entry)
    lines = [
        "",
        f"`train.precision=auto` here, in the benchmark's own process: **{auto['resolved']}** "
        f"({auto['reason']}). Setting by setting:",
        "",
        "| processes × threads | mode | auto picks | its windows/s | the other's windows/s "
        "| default / alternative | the same per CPU-second |",
        "|---|---|---|---|---|---|---|",
    ]
    ratios, cpu_ratios = [], []
    settings = dict.fromkeys((r["processes"], r["threads"], r["mode"]) for r in entry["runs"])
    for processes, threads, mode in settings:
        default = _picked(entry, processes, threads, mode)
        other = "fp32" if default == "bf16" else "bf16"
        a, b = (_speed(entry, p, mode, processes, threads=threads) for p in (default, other))
        ratio = a / b if a and b else None
        if ratio is not None:
            ratios.append(ratio)
        key = "samples_per_cpu_s"
        a_cpu, b_cpu = (_speed(entry, p, mode, processes, key, threads) for p in (default, other))
        if a_cpu and b_cpu:
            cpu_ratios.append(a_cpu / b_cpu)
        shown = [f"{x:.0f}" if x else "failed" for x in (a, b)]
        lines.append(
            f"| {processes} × {threads} | {mode} | {default} | {shown[0]} | {shown[1]} | "
            + (f"{ratio:.2f}× |" if ratio is not None else "— |")
            + (f" {a_cpu / b_cpu:.2f}× |" if a_cpu and b_cpu else " — |")
        )
    if ratios:
        judged = cpu_ratios or ratios  # per CPU-second where measured: steadier under load
        verdict = (
            "the default is the faster in every setting measured"
            if min(judged) >= 1
            else f"the alternative is faster in {sum(r < 1 for r in judged)} of "
            f"{len(judged)} settings"
        )
        span = f"{min(ratios):.2f}× to {max(ratios):.2f}× in wall-clock windows/s"
        if cpu_ratios:
            span += f", {min(cpu_ratios):.2f}× to {max(cpu_ratios):.2f}× per CPU-second"
        lines += ["", f"Default / alternative: {span}: {verdict}."]
    return lines


def _planning_lines(entry: dict) -> list[str]:
    """One replanning call in fp32 and bf16, and what `plan.precision=auto` picks here."""
    planning = entry.get("planning")
    if not planning:
        return []
    auto = planning["auto"]
    lines = [
        "",
        f"Planning ({planning['preset']}: {planning['planner']}, the preset's model; best of "
        f"{planning['calls']} calls, {planning['threads']} thread(s)). Default "
        f"`plan.precision` here: **{auto['resolved']}** ({auto['reason']}).",
        "",
        "| episodes planned together | fp32 ms per call | bf16 ms per call | bf16 / fp32 time "
        "| the same in CPU time |",
        "|---|---|---|---|---|",
    ]
    for r in planning["rows"]:
        cpu = r.get("bf16_cpu_ms", 0) / r["fp32_cpu_ms"] if r.get("fp32_cpu_ms") else None
        lines.append(
            f"| {r['episodes']} | {r['fp32_ms']:.1f} | {r['bf16_ms']:.1f} | "
            f"{r['bf16_ms'] / r['fp32_ms']:.2f} | " + (f"{cpu:.2f} |" if cpu else "— |")
        )
    return lines


def _pretraining_lines(entry: dict) -> list[str]:
    """`monde pretrain`'s step (benchmarks/pretrain_throughput.py): frames/s, share of peak."""
    pre = entry.get("pretraining")
    if not pre:
        return []
    lines = [
        "",
        f"Pretraining (`{pre['command']}`; commit {pre['provenance']['commit']}): one "
        "`monde pretrain` step on synthetic frames (masks, forward + backward, AdamW, EMA), "
        f"fastest timed step. Peak = measured fp32 matmul (every thread) "
        f"{pre['peak_fp32_matmul_gflops']:.1f} GFLOP/s.",
        "",
        "| preset | anti-collapse | tokens | batch | threads | frames/s | step ms | GFLOP/s "
        "| of peak | load before → after |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in pre["rows"]:
        lines.append(
            f"| {r['preset']} | {r['anti_collapse']} | {r['tokens']} | {r['batch_size']} | "
            f"{r['threads'] or '—'} | {r['frames_per_s']:.0f} | {r['step_ms']:.0f} | "
            f"{r['achieved_gflops']:.1f} | {100 * r['fraction_of_peak']:.1f} % | "
            f"{r['load_average_before']:.1f} → {r['load_average_after']:.1f} |"
        )
    return lines


def render(data: dict) -> str:
    """The generated numbers section of docs/scaling.md."""
    lines = [
        BEGIN,
        f"<!-- generated by `{COMMAND}` from benchmarks/results/train_throughput.json; "
        "do not edit -->",
    ]
    for kind, entry in data.items():
        if "runs" not in entry:  # only pretraining measured on this device so far
            lines += ["", f"### {kind}: {entry['pretraining']['device']}"]
            lines += _pretraining_lines(entry)
            continue
        prov, peak = entry["provenance"], entry["peak"]
        lines += [
            "",
            f"### {kind}: {entry['device']}" + (" (quick run)" if entry["quick"] else ""),
            "",
            f"Default model, global batch {entry['batch_size']}, synthetic windows; "
            f"{entry['measured_steps']} timed steps after {entry['warmup_steps']} warm-up. "
            f"Commit {prov['commit']}, torch {prov['torch']}"
            + (
                f"; 1-minute load average {entry['load_average_at_start']:.1f} on "
                f"{entry['cores']} cores at the start. "
                if entry.get("load_average_at_start") is not None
                else ". "
            )
            + f"{entry['flops_per_step'] / 1e9:.2f} GFLOP per step (matmul/conv, forward + "
            f"backward). Peak = measured fp32 matmul ({peak['matmul_size']}²): "
            f"{peak['measured_fp32_matmul_gflops']:.1f} GFLOP/s; bf16 matmul "
            f"{peak['measured_bf16_matmul_gflops']:.1f} GFLOP/s.",
        ]
        theory = peak.get("theoretical_fp32")
        if theory and theory.get("gflops"):
            lines += [
                "",
                f"Theoretical fp32 peak {theory['gflops']:.1f} GFLOP/s: {theory['assumption']}.",
            ]
        if entry["cpu_flags"]:
            lines += ["", f"CPU flags seen: {', '.join(entry['cpu_flags'])}."]
        lines += _side_by_side(entry)
        lines += [
            "",
            "| processes × threads | mode | precision | windows/s | step ms | GFLOP/s | of peak "
            "| load before → after |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in entry["runs"]:
            head = f"| {r['processes']} × {r['threads']} | {r['mode']} | {r['precision']} |"
            before, after = r.get("load_average_before"), r.get("load_average_after")
            load = f"{before:.1f} → {after:.1f}" if before is not None and after else "—"
            if "error" in r:
                lines.append(f"{head} failed: {r['error'][:80]} | | | | |")
            else:
                lines.append(
                    f"{head} {r['samples_per_s']:.0f} | {r['step_ms']:.1f} | "
                    f"{r['achieved_gflops']:.1f} | {100 * r['fraction_of_peak']:.1f} % | {load} |"
                )
        fp32, bf16 = _speed(entry, "fp32", "eager", 1), _speed(entry, "bf16", "eager", 1)
        if fp32 and bf16:
            top = entry["profile"]["bf16"]["top_ops"][:3]
            ops = ", ".join(f"`{o['op']}` {100 * o['share_of_self_time']:.0f} %" for o in top)
            lines += [
                "",
                f"bf16 / fp32 (eager, one process): {bf16 / fp32:.2f}×. Profile of a bf16 step "
                f"({entry['profile']['bf16']['self_ms_per_step']:.0f} ms of op self time, vs "
                f"{entry['profile']['fp32']['self_ms_per_step']:.0f} ms in fp32); the top ops: "
                f"{ops}. The full tables are under `profile` in the JSON.",
            ]
            lines += _why_bf16(entry)
        lines += _planning_lines(entry)
        lines += _pretraining_lines(entry)
    lines.append(END)
    return "\n".join(lines)


def render_doc(data: dict) -> None:
    replace_section(DOC, BEGIN, END, render(data))
    print(f"wrote {DOC}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few steps: checks the script runs")
    parser.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--out", type=Path, default=OUT, help="results JSON")
    parser.add_argument("--render-only", action="store_true", help="only regenerate the doc")
    parser.add_argument("--modes", default="eager,compiled", help="eager and/or compiled")
    parser.add_argument(
        "--processes", default="1,2", help="process counts (CPU), each P or PxT (T threads each)"
    )
    parser.add_argument("--steps", type=int, default=None, help="timed steps (default 20)")
    parser.add_argument("--warmup", type=int, default=None, help="warm-up steps (default 5)")
    parser.add_argument("--repeats", type=int, default=1, help="tries per setting; best kept")
    args = parser.parse_args()
    data = read_json(args.out) if args.out.exists() else {}
    if "cpu" in data:  # written before entries were keyed by CPU class
        legacy = data.pop("cpu")
        data.setdefault(entry_key(torch.device("cpu"), legacy.get("cpu_flags", [])), legacy)
    if not args.render_only:
        device = resolve_device(args.device)
        modes = tuple(m for m in args.modes.split(",") if m)
        if not modes or set(modes) - {"eager", "compiled"}:
            parser.error(f"--modes takes eager and/or compiled, got {args.modes!r}")
        try:
            counts = tuple(
                (int(c.split("x")[0]), int(c.split("x")[1]) if "x" in c else None)
                for c in args.processes.split(",")
                if c
            )
        except (ValueError, IndexError):
            parser.error(f"--processes takes P or PxT items, e.g. 1x1,2x1; got {args.processes!r}")
        entry = run(device, args.quick, modes, counts, args.steps, args.warmup, args.repeats)
        key = entry_key(device, entry["cpu_flags"])
        if "pretraining" in data.get(key, {}):  # benchmarks/pretrain_throughput.py measures it
            entry["pretraining"] = data[key]["pretraining"]
        data[key] = entry
        atomic_write_json(args.out, data)
        print(f"wrote {args.out}")
    if args.out == OUT:
        render_doc(data)


if __name__ == "__main__":
    main()
