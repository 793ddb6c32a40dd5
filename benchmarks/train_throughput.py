"""Training throughput: windows/s and achieved FLOP/s as a fraction of the machine's peak, for
fp32 vs bf16 autocast, eager vs torch.compile, 1 vs 2 processes; and a profile of the top ops
of a bf16 step beside an fp32 one (why bf16 is, or is not, faster here).

    python benchmarks/train_throughput.py [--quick] [--device auto|cpu|cuda]

writes benchmarks/results/train_throughput.json (one entry per device kind, so a GPU run adds
to a CPU run) and regenerates the numbers section of docs/scaling.md from it (--render-only
does just that). Every run is the training step monde.train.fit takes (monde.train.step:
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
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from monde.config import ModelConfig, TrainConfig
from monde.config_io import to_dict
from monde.io import atomic_write_json, atomic_write_text, read_json
from monde.models.world_model import WorldModel
from monde.report import provenance
from monde.train.distributed import DistContext, resolve_device
from monde.train.objective import JEPAObjective
from monde.train.step import TrainStep

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "train_throughput.json"
DOC = ROOT / "docs" / "scaling.md"
BEGIN, END = "<!-- throughput:begin -->", "<!-- throughput:end -->"
COMMAND = "python benchmarks/train_throughput.py"


def cpu_flags() -> list[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    wanted = ("amx_bf16", "amx_tile", "avx512_bf16", "avx512f", "avx2", "fma")
    return [f for f in wanted if f" {f}" in text]


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
    """(seconds for `steps` steps after `warmup`, first-step seconds) on this rank."""
    torch.manual_seed(0)
    model = WorldModel(ModelConfig()).to(ctx.device)
    cfg = TrainConfig(bf16=bf16, compile=compiled, batch_size=batch)
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
    start = time.perf_counter()
    for i in range(steps):
        step(frames, actions, warmup + i)
    sync()
    return time.perf_counter() - start, first


def _worker(rank: int, world: int, init: str, out: str, threads: int, args: tuple) -> None:
    torch.set_num_threads(threads)
    dist.init_process_group("gloo", init_method=f"file://{init}", rank=rank, world_size=world)
    try:
        ctx = DistContext(rank, world, rank, torch.device("cpu"), True)
        seconds, first = _step_loop(ctx, *args)
        if rank == 0:
            Path(out).write_text(json.dumps({"seconds": seconds, "first_step_s": first}))
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
) -> dict:
    """samples/s of one setting; processes > 1 runs gloo ranks on this CPU (cores split)."""
    cores = os.cpu_count() or 1
    args = (precision == "bf16", mode == "compiled", batch, steps, warmup)
    threads = max(1, cores // processes) if device.type == "cpu" else torch.get_num_threads()
    row = {"precision": precision, "mode": mode, "processes": processes, "threads": threads}
    try:
        if processes == 1:
            previous = torch.get_num_threads()
            torch.set_num_threads(threads)
            try:
                seconds, first = _step_loop(DistContext(device=device), *args)
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
            seconds, first = result["seconds"], result["first_step_s"]
    except Exception as err:  # a setting that cannot run here is reported, not fatal
        return {**row, "error": f"{type(err).__name__}: {err}"[:500]}
    return {
        **row,
        "samples_per_s": batch * steps / seconds,
        "step_ms": 1000 * seconds / steps,
        "first_step_s": first,
    }


def profile_step(device: torch.device, bf16: bool, batch: int, steps: int, top: int = 12) -> dict:
    """torch.profiler over `steps` eager one-process steps: the ops with most self time."""
    from torch.profiler import ProfilerActivity, profile

    ctx = DistContext(device=device)
    torch.manual_seed(0)
    model = WorldModel(ModelConfig()).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    step = TrainStep(model, optimizer, TrainConfig(bf16=bf16, batch_size=batch), ctx)
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


def run(device: torch.device, quick: bool) -> dict:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None  # other work on the machine
    batch = TrainConfig().batch_size
    steps, warmup = (3, 2) if quick else (20, 5)
    cores = os.cpu_count() or 1
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
    counts = [1, 2] if device.type == "cpu" else [1]
    runs = []
    for processes in counts:
        for mode in ("eager", "compiled"):
            for precision in ("fp32", "bf16"):
                row = measure(device, precision, mode, processes, batch, steps, warmup)
                if "samples_per_s" in row:
                    achieved = flops * row["samples_per_s"] / batch / 1e9
                    row["achieved_gflops"] = achieved
                    row["fraction_of_peak"] = achieved / peak["measured_fp32_matmul_gflops"]
                print(json.dumps(row), flush=True)
                runs.append(row)
    profiled = 2 if quick else 5
    profile = {p: profile_step(device, p == "bf16", batch, profiled) for p in ("fp32", "bf16")}
    fp32, bf16 = (_speed({"runs": runs}, p, "eager", 1) for p in ("fp32", "bf16"))
    return {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "cpu_flags": cpu_flags(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "onednn_bf16_supported": bool(torch.ops.mkldnn._is_mkldnn_bf16_supported()),
        "cores": cores,
        "load_average_at_start": load,
        "quick": quick,
        "batch_size": batch,
        "measured_steps": steps,
        "warmup_steps": warmup,
        "model": to_dict(ModelConfig()),
        "flops_per_step": flops,
        "peak": peak,
        "runs": runs,
        "bf16_over_fp32_eager_one_process": bf16 / fp32 if fp32 and bf16 else None,
        "profile": profile,
        "provenance": provenance(),
    }


def _speed(entry: dict, precision: str, mode: str, processes: int) -> float | None:
    for r in entry["runs"]:
        if (r["precision"], r["mode"], r["processes"]) == (precision, mode, processes):
            return r.get("samples_per_s")
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


def render(data: dict) -> str:
    """The generated numbers section of docs/scaling.md."""
    lines = [
        BEGIN,
        f"<!-- generated by `{COMMAND}` from benchmarks/results/train_throughput.json; "
        "do not edit -->",
    ]
    for kind, entry in data.items():
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
        lines += [
            "",
            "| processes × threads | mode | precision | windows/s | step ms | GFLOP/s | of peak |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in entry["runs"]:
            head = f"| {r['processes']} × {r['threads']} | {r['mode']} | {r['precision']} |"
            if "error" in r:
                lines.append(f"{head} failed: {r['error'][:80]} | | | |")
            else:
                lines.append(
                    f"{head} {r['samples_per_s']:.0f} | {r['step_ms']:.1f} | "
                    f"{r['achieved_gflops']:.1f} | {100 * r['fraction_of_peak']:.1f} % |"
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
    lines.append(END)
    return "\n".join(lines)


def render_doc(data: dict) -> None:
    text = DOC.read_text()
    if BEGIN not in text or END not in text:
        raise ValueError(f"{DOC}: the markers {BEGIN} … {END} are missing")
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    atomic_write_text(DOC, head + render(data) + tail)
    print(f"wrote {DOC}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few steps: checks the script runs")
    parser.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--out", type=Path, default=OUT, help="results JSON")
    parser.add_argument("--render-only", action="store_true", help="only regenerate the doc")
    args = parser.parse_args()
    data = read_json(args.out) if args.out.exists() else {}
    if not args.render_only:
        device = resolve_device(args.device)
        data[device.type] = run(device, args.quick)
        atomic_write_json(args.out, data)
        print(f"wrote {args.out}")
    if args.out == OUT:
        render_doc(data)


if __name__ == "__main__":
    main()
