"""CLI startup: seconds from launch to exit of `monde --help` and `monde <verb> --help`.

    python benchmarks/cli_startup.py [--repeats 7]

Each command runs `--repeats` times in a fresh process (the `monde` console script beside this
Python, else `python -m monde.cli`); the JSON keeps every time and the median. For scale it
also times a bare `python -c pass` (the interpreter's own start) and `python -c "import
torch"` (what every verb paid before the CLI imported its libraries lazily). The machine, its
load average before and after, and the commit are recorded with the numbers, since a loaded
2-core machine starts everything slower.

Writes benchmarks/results/cli_startup.json.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "cli_startup.json"
LIMIT_S = 1.0  # the promise: every verb answers --help within this


def monde_command() -> list[str]:
    """The installed `monde` script next to this interpreter, else `python -m monde.cli`."""
    script = Path(sys.executable).with_name("monde")
    if script.exists():
        return [str(script)]
    found = shutil.which("monde")
    return [found] if found else [sys.executable, "-m", "monde.cli"]


def verbs() -> list[list[str]]:
    """`[]` (plain `monde --help`), every verb, and every `monde data` sub-verb."""
    from monde.cli import build_parser

    def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                return dict(action.choices)
        return {}

    out: list[list[str]] = [[]]
    for name, sub in subcommands(build_parser()).items():
        out.append([name])
        out.extend([name, inner] for inner in subcommands(sub))
    return out


def time_once(argv: list[str]) -> float:
    clock = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - clock


def measure(argv: list[str], repeats: int) -> dict:
    time_once(argv)  # warm the file cache: we measure imports, not the first disk read
    times = [time_once(argv) for _ in range(repeats)]
    return {"median_s": statistics.median(times), "times_s": [round(t, 4) for t in times]}


def machine() -> dict:
    info = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "cpu": platform.processor() or None,
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return info


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):  # not on Windows
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7, help="fresh processes per command")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()

    from monde.io import atomic_write_json
    from monde.report import provenance

    base = monde_command()
    load_before = load_average()
    reference = {
        "python -c pass": measure([sys.executable, "-c", "pass"], args.repeats),
        "python -c 'import torch'": measure([sys.executable, "-c", "import torch"], args.repeats),
    }
    commands = {}
    for verb in verbs():
        label = " ".join(["monde", *verb, "--help"])
        commands[label] = measure([*base, *verb, "--help"], args.repeats)
        print(f"{label:32s} {commands[label]['median_s']:.3f} s median")
    slowest = max(commands, key=lambda k: commands[k]["median_s"])
    payload = {
        "what": "seconds from launch to exit of `--help`, each in a fresh process",
        "command": f"python benchmarks/cli_startup.py --repeats {args.repeats}",
        "repeats": args.repeats,
        "limit_s": LIMIT_S,
        "all_under_limit": all(c["median_s"] < LIMIT_S for c in commands.values()),
        "slowest": {"command": slowest, "median_s": commands[slowest]["median_s"]},
        "commands": commands,
        "reference": reference,
        "machine": machine(),
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "provenance": provenance(),
    }
    atomic_write_json(args.out, payload)
    print(f"slowest: {slowest} {commands[slowest]['median_s']:.3f} s; wrote {args.out}")


if __name__ == "__main__":
    main()
