"""How much a token encoder's output moves when the agent moves, against when the scene changes.

For `--frames` episodes of a store, frame t and frame t+1 of one episode differ by what moved
(TwoRoom: the agent, a few pixels), frame t of one episode and of the next by the scene (walls,
door and agent). For each encoder — a random one from the config, and each pretrained one given
(`monde pretrain`'s RUN/encoder) — the mean L2 distance between the tokens (N, T, E) of each
pair, their ratio, and the tokens' spread across frames:

    python benchmarks/token_sensitivity.py \\
        --config configs/pretrain/two_room_random_wall_conv.yaml --data DATA \\
        RUN_A/encoder RUN_B/encoder --out benchmarks/results/experiments/….json

A pretraining that makes the tokens follow the scene and not the agent shows as a falling ratio:
a world model fine-tuned from such an encoder starts from tokens in which the agent is faint.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monde.config import RunConfig  # noqa: E402
from monde.config_io import load_config  # noqa: E402
from monde.io import atomic_write_json  # noqa: E402


def sensitivity(
    tokens: Callable[[Tensor], Tensor], now: Tensor, moved: Tensor, other: Tensor
) -> dict:
    """`tokens` maps frames (N, C, H, W) → (N, T, E). → the mean distance of each frame's tokens
    to those of its moved frame and of another scene's frame, their ratio, and the mean over
    token dims of the tokens' standard deviation across frames."""
    with torch.no_grad():
        a, b, c = tokens(now), tokens(moved), tokens(other)
    move = float((a - b).flatten(1).norm(dim=1).mean())
    scene = float((a - c).flatten(1).norm(dim=1).mean())
    return {
        "agent_move": move,
        "scene_change": scene,
        "ratio": move / scene if scene > 0 else float("nan"),
        "token_std_across_frames": float(a.flatten(1).std(0).mean()),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("encoders", nargs="*", type=Path, help="pretrained encoder folders")
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--frames", type=int, default=200, help="episodes (one pair each)")
    parser.add_argument("--step", type=int, default=10, help="which frame of each episode")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)

    from monde.data.store import EpisodeStore
    from monde.models.encoder_checkpoint import load_encoder_into
    from monde.models.preprocess import frames_to_input
    from monde.models.world_model import build_encoder
    from monde.report import provenance

    cfg = load_config(RunConfig, args.config, [])
    store = EpisodeStore(args.data)
    first, length = store.index[: args.frames].T  # (N,) each
    if (length < args.step + 2).any():
        raise SystemExit(f"{args.data}: an episode is shorter than --step {args.step} + 2 frames")
    rows = first + args.step
    size, channels = cfg.model.image_size, cfg.model.in_channels
    now, moved, other = (
        frames_to_input(store.read("frames", r), size, channels)
        for r in (rows, rows + 1, np.roll(rows, 1))
    )
    results = {}
    for name, folder in [("random", None), *((str(e), e) for e in args.encoders)]:
        torch.manual_seed(cfg.train.seed)
        encoder = build_encoder(cfg.model).eval()
        if folder is not None:
            load_encoder_into(encoder, cfg.model, folder)
        results[name] = sensitivity(encoder.tokens, now, moved, other)
        row = results[name]
        print(f"{name}: agent move {row['agent_move']:.3f}, scene change "
              f"{row['scene_change']:.3f}, ratio {row['ratio']:.3f}")  # fmt: skip
    command = "python benchmarks/token_sensitivity.py " + " ".join(sys.argv[1:])
    atomic_write_json(
        args.out,
        {"command": command, "pairs": len(rows), "encoders": results, "provenance": provenance()},
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
