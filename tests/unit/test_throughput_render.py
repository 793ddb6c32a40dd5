"""benchmarks/train_throughput.py: entries keyed by CPU class, the default precision beside the
alternative, and the verdict the page prints (pure functions of the JSON)."""

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "train_throughput.py"
spec = importlib.util.spec_from_file_location("train_throughput", SCRIPT)
tt = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tt)


def _row(precision, processes, threads, wall, cpu, auto):
    return {
        "precision": precision,
        "mode": "eager",
        "processes": processes,
        "threads": threads,
        "samples_per_s": wall,
        "samples_per_cpu_s": cpu,
        "auto": auto,
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


def test_side_by_side_shows_what_auto_picks_per_setting_and_judges_per_cpu_second():
    entry = {
        "auto_precision": {"resolved": "fp32", "reason": "auto: mocked"},
        "runs": [
            _row("bf16", 1, 1, 120.0, 750.0, auto=True),
            _row("fp32", 1, 1, 100.0, 500.0, auto=False),
            _row("bf16", 1, 2, 50.0, 150.0, auto=False),  # same process count, other threads
            _row("fp32", 1, 2, 60.0, 200.0, auto=True),
        ],
    }
    lines = tt._side_by_side(entry)
    assert "| 1 × 1 | eager | bf16 | 120 | 100 | 1.20× | 1.50× |" in lines
    assert "| 1 × 2 | eager | fp32 | 60 | 50 | 1.20× | 1.33× |" in lines
    assert lines[-1] == (
        "Default / alternative: 1.20× to 1.20× in wall-clock windows/s, 1.33× to 1.50× per "
        "CPU-second: the default is the faster in every setting measured."
    )
    entry["runs"][3]["samples_per_cpu_s"] = 100.0  # now bf16 would have been the faster
    assert tt._side_by_side(entry)[-1].endswith("the alternative is faster in 1 of 2 settings.")
