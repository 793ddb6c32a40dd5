"""The machine a number was measured on, in words: the CPU's model and its instruction-set class.

Results JSONs record it (monde.report.provenance → `cpu`) and the benchmark table shows it, so
rows measured on different machines (this project's CI and sessions run on AVX2, AVX512-BF16
and AMX CPUs) say so. Read from /proc/cpuinfo; elsewhere (macOS, Windows) the answers are what
`platform` knows and 'other'. Which precision a CPU computes in is monde.precision's rule.
"""

from __future__ import annotations

import platform
import re
from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")
FLAGS_OF_INTEREST = ("amx_bf16", "amx_tile", "avx512_bf16", "avx512f", "avx2", "fma")


def _cpuinfo() -> str:
    try:
        return CPUINFO.read_text()
    except OSError:
        return ""


def cpu_flags(wanted: tuple[str, ...] = FLAGS_OF_INTEREST) -> list[str]:
    """Which of `wanted` the CPU's /proc/cpuinfo flags list, in `wanted`'s order."""
    line = re.search(r"^flags\s*:(.*)$", _cpuinfo(), re.MULTILINE)
    listed = set(line.group(1).split()) if line else set()
    return [flag for flag in wanted if flag in listed]


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, else what `platform` knows."""
    found = re.search(r"^model name\s*:\s*(.+)$", _cpuinfo(), re.MULTILINE)
    return found.group(1).strip() if found else (platform.processor() or platform.machine())


def isa_class(flags: list[str]) -> str:
    """The CPU's class for bf16, from its flags: AMX, AVX512-BF16, AVX-512, AVX2 (or other)."""
    for flag, name in (("amx_bf16", "AMX"), ("avx512_bf16", "AVX512-BF16"), ("avx512f", "AVX-512")):
        if flag in flags:
            return name
    return "AVX2" if "avx2" in flags else "other"


def cpu_description() -> str:
    """e.g. 'AMD EPYC (AVX512-BF16)': the model name and the instruction-set class."""
    return f"{cpu_model()} ({isa_class(cpu_flags())})"
