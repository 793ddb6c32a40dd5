"""Float precision by hardware: bf16 where the device computes it natively, fp32 elsewhere.

It knows nothing about models, training or planning: `resolve_precision(requested, device)`
turns a config's `train.precision` or `plan.precision` ("auto", "fp32" or "bf16") into the
precision a run computes in, and says why. Training and planning both call it (this module
imports nothing of monde.train); every results JSON records its answer. The thread count that
rule reads is set per run with `torch_threads(n)`, which restores the previous count after.

The rule for "auto" (measured by benchmarks/train_throughput.py, shown in docs/scaling.md):

- CUDA: bf16 when the GPU computes bf16 natively (compute capability ≥ 8.0), else fp32; for
  training and planning alike.
- CPU, training: bf16 when oneDNN (PyTorch's CPU library for convolutions and matrix products)
  reports bf16 support and the CPU computes bf16 natively: with AVX512-BF16 vector
  instructions and no AMX, at any thread count (a bf16 step was faster in every setting
  measured on such a machine); with AMX-BF16 tiles, when each process computes with one thread
  (torchrun sets OMP_NUM_THREADS=1; or train.threads=1), as with a team of threads in one
  process (`monde train`'s default on a multi-core CPU) the bf16 convolution backward ran
  several times slower than fp32 on the AMX machine. Without AVX-512, bf16 convolutions fall
  back to generic kernels and training is several times slower than fp32.
- CPU, planning: fp32. A planner's rollouts are small matrix products (latents of 32–64
  dims), where casting to bf16 costs more than the bf16 units save: one episode's replanning
  call was slower in bf16 on the AMX and the AVX512-BF16 CPU alike (the planning rows of the
  same page). A call that plans many episodes at once (`monde eval`'s batch) was faster in bf16
  on both; ask for `plan.precision=bf16` there, knowing that success rates then rest on bf16
  rollouts.

"bf16" means bfloat16 autocast of the forward pass (weights, optimizer and loss stay fp32).
An explicit "bf16" or "fp32" is always honoured; on hardware without native bf16 the reason
says that it will be slow.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch

from monde.runs import METRICS_FILE, read_metrics

Precision = Literal["auto", "fp32", "bf16"]
Workload = Literal["train", "plan"]
PRECISIONS: tuple[str, ...] = ("auto", "fp32", "bf16")


@dataclass(frozen=True)
class Bf16Support:
    """What a device offers for bf16: whether it computes bf16 natively, and what the probes saw."""

    native: bool
    """True when the device computes bf16 natively ("auto" may then pick it)"""
    detail: str
    """the probes' findings in words, e.g. "oneDNN bf16: yes, AMX-BF16: yes, AVX512-BF16: yes\""""
    tiles: bool = False
    """a CPU's AMX-BF16 matrix tiles (as opposed to AVX512-BF16 vector instructions alone)"""


def _cpu_capabilities() -> dict:
    """torch's view of the CPU's instruction sets ({} where this torch cannot say)."""
    get = getattr(torch.cpu, "get_capabilities", None)
    try:
        return dict(get()) if get is not None else {}
    except (RuntimeError, AttributeError):  # a torch built without cpuinfo
        return {}


def _onednn_bf16() -> bool:
    """Whether oneDNN (mkldnn) runs bf16 kernels on this CPU."""
    probe = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    try:
        return bool(probe()) if probe is not None else False
    except RuntimeError:
        return False


def _cuda_bf16(index: int) -> tuple[bool, str]:
    """(native bf16, the GPU's name and compute capability) of CUDA device `index`."""
    major, minor = torch.cuda.get_device_capability(index)
    name = torch.cuda.get_device_name(index)
    native = major >= 8 and torch.cuda.is_bf16_supported(including_emulation=False)
    return native, f"{name}, compute capability {major}.{minor}"


@functools.cache
def cpu_bf16_support() -> Bf16Support:
    """The CPU's bf16 support (probed once per process)."""
    caps = _cpu_capabilities()
    onednn, amx = _onednn_bf16(), bool(caps.get("amx_bf16"))
    avx512_bf16 = bool(caps.get("avx512_bf16"))
    yes = {True: "yes", False: "no"}
    detail = f"oneDNN bf16: {yes[onednn]}, AMX-BF16: {yes[amx]}, AVX512-BF16: {yes[avx512_bf16]}"
    return Bf16Support(onednn and (amx or avx512_bf16), detail, tiles=amx)


@functools.cache
def cuda_bf16_support(index: int = 0) -> Bf16Support:
    """CUDA device `index`'s bf16 support (probed once per process and device)."""
    native, detail = _cuda_bf16(index)
    return Bf16Support(native, detail)


def bf16_support(device: torch.device | str) -> Bf16Support:
    """bf16 support of `device` (cpu, cuda[:i]); other device types: none known."""
    device = torch.device(device)
    if device.type == "cpu":
        return cpu_bf16_support()
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return cuda_bf16_support(index)
    return Bf16Support(False, f"no bf16 rule for {device.type} devices")


def _threads() -> int:
    """Threads this process computes with (torch's intra-op pool)."""
    return torch.get_num_threads()


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Compute with `threads` torch intra-op threads inside the block (None or 0: leave as is);
    the previous count is restored when the block returns or raises, so one in-process run
    (a test, a notebook) does not leave every later one on its count."""
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def resolve_precision(
    requested: str,
    device: torch.device | str,
    workload: Workload = "train",
    threads: int | None = None,
) -> tuple[Literal["fp32", "bf16"], str]:
    """The precision to compute in for `requested` ("auto", "fp32", "bf16") on `device` for a
    `workload` ("train" or "plan") with `threads` CPU threads (default: this process's), and
    why."""
    if requested not in PRECISIONS:
        raise ValueError(f"precision must be one of {list(PRECISIONS)}, got {requested!r}")
    if workload not in ("train", "plan"):
        raise ValueError(f"workload must be 'train' or 'plan', got {workload!r}")
    device = torch.device(device)
    where = "CUDA" if device.type == "cuda" else device.type.upper()
    if requested == "fp32":
        return "fp32", "asked for fp32"
    support = bf16_support(device)
    if requested == "bf16":
        if support.native:
            return "bf16", f"asked for bf16 ({where}: {support.detail})"
        slow = f"asked for bf16, although {where} lacks native bf16 ({support.detail})"
        return "bf16", f"{slow}: expect it to be slower than fp32"
    if support.native and workload == "plan" and device.type == "cpu":
        return "fp32", (
            f"auto: planning on a CPU stays fp32, native bf16 or not ({support.detail}): its "
            "small rollouts ran slower in bf16"
        )
    threads = _threads() if threads is None else threads
    if support.native and support.tiles and device.type == "cpu" and threads > 1:
        return "fp32", (
            f"auto: CPU computes bf16 natively ({support.detail}), but with {threads} threads "
            "in one process bf16 training ran slower than fp32 on AMX; bf16 is picked at one "
            "thread per process (torchrun, train.threads=1)"
        )
    if support.native:
        return "bf16", f"auto: {where} computes bf16 natively ({support.detail})"
    return "fp32", f"auto: {where} lacks native bf16 ({support.detail})"


def precision_record(
    requested: str, device: torch.device | str, workload: Workload = "train"
) -> dict:
    """What a results JSON records: the precision asked for, the one used on `device`, why."""
    resolved, reason = resolve_precision(requested, device, workload)
    return {
        "requested": requested,
        "resolved": resolved,
        "reason": reason,
        "device": str(torch.device(device)),
    }


def logged_precisions(run_dir: str | Path) -> list[str]:
    """The precisions a run's metrics.jsonl rows say training used (every resume included;
    [] for runs logged before the field or without metrics)."""
    rows = read_metrics(Path(run_dir) / METRICS_FILE)
    seen = {row["precision"] for row in rows if isinstance(row.get("precision"), str)}
    return sorted(seen)


def results_precision(
    train: str,
    train_device: torch.device | str,
    plan: str,
    plan_device: torch.device | str,
    run_dir: str | Path,
) -> dict:
    """The `precision` entry of a results JSON: training's (as resolved on this machine, and as
    logged by the run in `run_dir`) and planning's."""
    return {
        "train": {**precision_record(train, train_device), "logged": logged_precisions(run_dir)},
        "plan": precision_record(plan, plan_device, "plan"),
    }
