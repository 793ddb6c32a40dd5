"""PushT: how far does the block move in a store's episodes, step by step at the model's rate?

The baseline a world model's block rollout error stands beside: a model that predicts "the
block stays where it is" errs by exactly the block's displacement. Over every window of each
episode viewed at the model's rate (every `frameskip`-th state), it writes the per-axis RMS of
the block's displacement h model steps ahead (px, h = 1 … H), the RMS angle change (rad), and
the share of windows whose block moved more than 5 px.

    python benchmarks/push_t_block_motion.py --data runs/bench/push_t_large/data \
        --out benchmarks/results/experiments/push_t_large_block_motion.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from monde.data.store import EpisodeStore
from monde.envs.push_t import angle_gap
from monde.io import atomic_write_json
from monde.report import provenance

MOVED_PX = 5.0  # a block displaced further than this has moved


def block_motion(states: list[np.ndarray], frameskip: int, horizon: int) -> dict:
    """States (T, 5) per episode, rows [pusher_x, pusher_y, block_x, block_y, block_angle] →
    per h = 1 … horizon: RMS displacement of block x and y, RMS angle change, share moved."""
    rows = {"block_x": [], "block_y": [], "block_angle": [], "moved": [], "windows": []}
    at_model_rate = [s[::frameskip] for s in states]  # (M+1, 5) per episode
    for h in range(1, horizon + 1):
        shifts, turns = [], []
        for b in at_model_rate:
            if len(b) > h:
                shifts.append(b[h:, 2:4] - b[:-h, 2:4])  # (M+1−h, 2)
                turns.append(angle_gap(b[h:, 4], b[:-h, 4]))
        if not shifts:
            raise ValueError(
                f"no episode has more than {h} model steps of frameskip {frameskip}: "
                "lower --horizon"
            )
        shift, turn = np.concatenate(shifts), np.concatenate(turns)
        rms = np.sqrt(np.mean(np.square(shift), axis=0))
        rows["block_x"].append(float(rms[0]))
        rows["block_y"].append(float(rms[1]))
        rows["block_angle"].append(float(np.sqrt(np.mean(np.square(turn)))))
        rows["moved"].append(float(np.mean(np.linalg.norm(shift, axis=1) > MOVED_PX)))
        rows["windows"].append(len(shift))
    return {"steps": list(range(1, horizon + 1)), **rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="a push_t episode store")
    parser.add_argument("--episodes", type=int, default=200, help="first N episodes")
    parser.add_argument("--frameskip", type=int, default=5)
    parser.add_argument("--horizon", type=int, default=10)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    store = EpisodeStore(args.data)
    n = min(len(store), args.episodes)
    states = [store[i].states for i in range(n)]
    result = {
        "command": f"python benchmarks/push_t_block_motion.py --data {args.data} --episodes "
        f"{args.episodes} --frameskip {args.frameskip} --horizon {args.horizon} --out {args.out}",
        "data": str(args.data),
        "episodes": n,
        "moved_px": MOVED_PX,
        **block_motion(states, args.frameskip, args.horizon),
        "provenance": provenance(),
    }
    atomic_write_json(args.out, result)
    print(
        f"block RMS displacement at {args.horizon} steps: x {result['block_x'][-1]:.1f} px, "
        f"y {result['block_y'][-1]:.1f} px; moved in {result['moved'][-1]:.0%} of windows"
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
