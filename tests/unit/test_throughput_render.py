"""benchmarks/train_throughput.py: entries keyed by CPU class, the default precision beside the
alternative, and the verdict the page prints (pure functions of the JSON)."""

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "train_throughput.py"
spec = importlib.util.spec_from_file_location("train_throughput", SCRIPT)
tt = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tt)


def _row(precision, processes, threads, wall, cpu):
    return {
        "precision": precision,
        "mode": "eager",
        "processes": processes,
        "threads": threads,
        "samples_per_s": wall,
        "samples_per_cpu_s": cpu,
    }


def test_cpu_classes_and_the_rule_on_entries_written_before_it():
    assert tt.isa_class(["avx2", "fma"]) == "AVX2"
    assert tt.isa_class(["avx512f", "avx2"]) == "AVX-512"
    assert tt.isa_class(["avx512_bf16", "avx512f"]) == "AVX512-BF16"
    assert tt.isa_class(["amx_bf16", "amx_tile", "avx512_bf16", "avx512f"]) == "AMX"
    legacy = {"cpu_flags": ["avx2", "fma"], "onednn_bf16_supported": False}
    assert tt.auto_precision(legacy)["resolved"] == "fp32"
    amx = {"cpu_flags": ["amx_bf16", "avx512f"], "onednn_bf16_supported": True}
    assert tt.auto_precision(amx)["resolved"] == "bf16"


def test_side_by_side_judges_per_cpu_second_and_matches_thread_counts():
    entry = {
        "auto_precision": {"resolved": "bf16", "reason": "auto: mocked"},
        "runs": [
            _row("bf16", 1, 1, 120.0, 750.0),
            _row("fp32", 1, 1, 100.0, 500.0),
            _row("bf16", 1, 2, 50.0, 150.0),  # same process count, other threads
            _row("fp32", 1, 2, 60.0, 200.0),
        ],
    }
    lines = tt._side_by_side(entry)
    assert "| 1 × 1 | eager | 120 | 100 | 1.20× | 1.50× |" in lines
    assert "| 1 × 2 | eager | 50 | 60 | 0.83× | 0.75× |" in lines
    assert lines[-1] == (
        "Default / alternative: 0.83× to 1.20× in wall-clock windows/s, 0.75× to 1.50× per "
        "CPU-second: the alternative is faster in 1 of 2 settings."
    )
