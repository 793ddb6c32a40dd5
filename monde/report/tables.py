"""Result rows → a Markdown table, and the provenance stamped on every results JSON."""

from __future__ import annotations

import platform
import subprocess
from pathlib import Path

import torch

from monde._version import __version__
from monde.hardware import cpu_description


def _git(*args: str) -> str:
    root = Path(__file__).resolve().parents[2]
    return subprocess.run(
        ["git", *args], capture_output=True, text=True, check=True, cwd=root
    ).stdout.strip()


def provenance() -> dict:
    """Commit, versions and machine facts, so a number can be traced to what produced it.

    The commit gets a "-dirty" suffix when the code or configs had uncommitted changes (results
    files themselves do not count).
    """
    try:
        commit = _git("rev-parse", "--short", "HEAD")
        if _git("status", "--porcelain", "--untracked-files=no", "--", "monde", "configs"):
            commit += "-dirty"
    except (OSError, subprocess.CalledProcessError):
        commit = None
    return {
        "commit": commit,
        "monde": __version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu": cpu_description(),  # e.g. "AMD EPYC (AVX512-BF16)": CPUs differ in speed and bf16
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "threads": torch.get_num_threads(),
    }


def _pct(x: float) -> str:
    return f"{100 * x:.0f} %"


def success_with_ci(row: dict) -> str:
    """A summarise() row → "97 % (92 % – 99 %)": success rate and its 95 % interval."""
    return f"{_pct(row['success_rate'])} ({_pct(row['ci95'][0])} – {_pct(row['ci95'][1])})"


def success_table(results: dict) -> str:
    """results: {policy: summarise() row} → Markdown table."""
    lines = [
        "| policy | success | 95 % CI | mean steps to goal "
        "| ms per batched plan call (median / p95) |",
        "|---|---|---|---|---|",
    ]
    for name, row in results.items():
        steps = row["mean_steps_to_goal"]
        timing = (
            f"{row['plan_ms_median']:.1f} / {row['plan_ms_p95']:.1f}"
            if "plan_ms_median" in row
            else "–"
        )
        lines.append(
            f"| {name} | {_pct(row['success_rate'])} ({row['successes']}/{row['episodes']}) "
            f"| {_pct(row['ci95'][0])} – {_pct(row['ci95'][1])} "
            f"| {'–' if steps is None else f'{steps:.1f}'} | {timing} |"
        )
    return "\n".join(lines)
