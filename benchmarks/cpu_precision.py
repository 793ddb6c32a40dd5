"""Is bf16 worth it on this CPU? Matmul GFLOP/s and training samples/s, fp32 vs bf16 autocast,
beside what `train.precision=auto` resolves to here (monde.precision) and why.

python benchmarks/cpu_precision.py     → benchmarks/results/cpu_precision.json

A quick look; benchmarks/train_throughput.py measures the same choice in more settings.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from monde.config import ModelConfig, TrainConfig
from monde.hardware import cpu_flags
from monde.io import atomic_write_json
from monde.models.world_model import WorldModel
from monde.precision import resolve_precision
from monde.report import provenance
from monde.train.objective import jepa_terms

OUT = Path(__file__).resolve().parent / "results" / "cpu_precision.json"


def matmul_gflops(dtype: torch.dtype, n: int = 1024, repeats: int = 3) -> float:
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return repeats * 2 * n**3 / (time.perf_counter() - start) / 1e9


def train_samples_per_s(bf16: bool, steps: int = 5, batch: int = 64) -> float:
    torch.manual_seed(0)
    model = WorldModel(ModelConfig())
    cfg = TrainConfig(precision="bf16" if bf16 else "fp32")
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    frames = torch.randint(0, 255, (batch, 5, 64, 64, 3), dtype=torch.uint8)
    actions = torch.randn(batch, 4, model.action_dim)
    times = []
    for _ in range(steps + 1):
        start = time.perf_counter()
        loss, _ = jepa_terms(model, frames, actions, cfg)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return batch / min(times[1:])


def main() -> None:
    auto, why = resolve_precision("auto", "cpu")
    result = {
        "cpu_flags": cpu_flags(("amx_bf16", "amx_tile", "avx512_bf16", "avx512f", "avx2")),
        "auto_precision": {"resolved": auto, "reason": why},
        "matmul_gflops": {
            "fp32": matmul_gflops(torch.float32),
            "bf16": matmul_gflops(torch.bfloat16),
        },
        "train_samples_per_s": {
            "fp32": train_samples_per_s(False),
            "bf16": train_samples_per_s(True),
        },
        "provenance": provenance(),
    }
    atomic_write_json(OUT, result)
    print(result)


if __name__ == "__main__":
    main()
