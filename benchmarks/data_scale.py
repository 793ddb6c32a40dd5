"""The 10,000-episode acceptance run: collect, verify and train from a large TwoRoom dataset.

    python benchmarks/data_scale.py                       # collects runs/data10k if missing
    python benchmarks/data_scale.py --episodes 200 --steps 20 --data runs/data_small  # quick

Records the dataset's size on disk (allocated bytes, as `du` counts them), what the same frames
would take decoded in RAM, the time of `monde data verify`, and the peak resident memory of the
training process (its own rusage from wait4, so nothing else on the machine counts), into
benchmarks/results/data_scale.json.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monde.data.store import EpisodeStore, is_store  # noqa: E402
from monde.data.verify import verify  # noqa: E402
from monde.io import atomic_write_json  # noqa: E402
from monde.report import provenance  # noqa: E402

MONDE = [sys.executable, "-m", "monde.cli"]


def disk_usage(path: Path) -> dict:
    """Allocated bytes (like `du -s`), apparent bytes and file count under `path`."""
    allocated = apparent = files = 0
    for folder, _, names in os.walk(path):
        for name in names:
            st = os.lstat(os.path.join(folder, name))
            allocated += st.st_blocks * 512
            apparent += st.st_size
            files += 1
    return {"allocated_bytes": allocated, "apparent_bytes": apparent, "files": files}


def run_measured(cmd: list[str], env: dict | None = None) -> dict:
    """Run `cmd`; its wall time and peak RSS (this child's own rusage)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed with exit code {proc.returncode}")
    return {
        "seconds": time.perf_counter() - start,
        "peak_rss_bytes": usage.ru_maxrss * 1024,  # Linux reports kilobytes
        "command": " ".join(cmd[2:] if cmd[:2] == MONDE[:2] else cmd).replace(f"{ROOT}/", ""),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / "runs" / "data10k")
    parser.add_argument("--run", type=Path, default=None, help="training run folder")
    parser.add_argument("--episodes", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=1500, help="training steps")
    parser.add_argument("--threads", type=int, default=1, help="train.threads")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/data_scale.json")
    args = parser.parse_args()
    run = args.run or args.data.with_name(args.data.name + "_train")
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    config = "configs/two_room.yaml"
    result: dict = {"episodes": args.episodes}
    if not is_store(args.data):
        result["collect"] = run_measured(
            MONDE
            + [
                "collect",
                "--config",
                config,
                f"data.episodes={args.episodes}",
                "data.num_envs=100",
                "--out",
                str(args.data),
                "--quiet",
            ],
            env,
        )
    store = EpisodeStore(args.data)
    if len(store) != args.episodes:
        raise SystemExit(f"{args.data} holds {len(store)} episodes, not {args.episodes}")
    start = time.perf_counter()
    report = verify(store, progress=True)
    result["verify"] = {
        "seconds": time.perf_counter() - start,
        "problems": len(report["problems"]),
        "episodes_ok": report["ok"],
    }
    frames = int(store.meta["num_frames"])
    shape = store.meta["features"]["frames"]["shape"]
    result["dataset"] = {
        "frames": frames,
        "frame_shape": shape,
        **disk_usage(args.data),
        "decoded_frame_bytes": frames * shape[0] * shape[1] * shape[2],
    }
    result["train"] = run_measured(
        MONDE
        + [
            "train",
            "--config",
            config,
            "--data",
            str(args.data),
            "--run",
            str(run),
            f"train.steps={args.steps}",
            f"train.threads={args.threads}",
            "--quiet",
        ],
        env,
    )
    result["train"]["steps"] = args.steps
    result["provenance"] = provenance()
    atomic_write_json(args.out, result)
    print(result)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
