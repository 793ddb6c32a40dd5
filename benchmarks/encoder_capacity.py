"""Can the world model's encoder hold a state at all? Train it on the state with labels.

A diagnostic beside the probes: when a held-out probe cannot read a state (PushT's block angle)
from a trained world model's latent, either the encoder cannot represent it (too small, too
coarse an input) or the self-supervised loss does not ask for it. This script trains a fresh
encoder of the run's architecture (`model.encoder_*`, `model.image_size`) directly on the state
labels of the run's training episodes (an angle as cos, sin; targets standardised; MSE) and
reports the held-out R² by training step. High R² here and low R² from the world model's probes:
the objective, not the encoder, is what drops the state.

    python benchmarks/encoder_capacity.py --run runs/bench/push_t_quick
writes benchmarks/results/experiments/push_t_encoder_capacity.json.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from monde.config import RunConfig
from monde.config_io import load_config
from monde.data.splits import split_episodes
from monde.data.store import EpisodeStore
from monde.io import atomic_write_json
from monde.models.preprocess import frames_to_input
from monde.models.world_model import build_encoder
from monde.probing import is_angle, probe_targets, r2_score
from monde.progress import tqdm
from monde.report import provenance


def labelled_frames(
    store: EpisodeStore, ids: list[int], names: list[str], stride: int
) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Every `stride`-th frame of the episodes → (inputs (N, C, Hp, Wp), targets (N, K), names)."""
    all_names = list(store.meta["info"]["state_names"])
    cols = [all_names.index(n) for n in names]
    frames, targets = [], []
    for i in store.usable(ids):
        episode = store[i]
        frames.append(episode.frames[::stride])  # (T', Hp, Wp, C)
        states = torch.from_numpy(episode.states[::stride, cols]).double()
        targets.append(probe_targets(states, names)[0])  # an angle → two targets (cos, sin)
    if not frames:
        raise ValueError(f"{store.path}: no usable episodes among {len(ids)} asked for")
    target_names = [
        part for n in names for part in ((f"{n}_cos", f"{n}_sin") if is_angle(n) else (n,))
    ]
    return torch.from_numpy(np.concatenate(frames)), torch.cat(targets).float(), target_names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", type=Path, default=Path("runs/bench/push_t_quick"))
    parser.add_argument("--data", type=Path, default=None, help="its episodes (RUN/data)")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--stride", type=int, default=2, help="keep every stride-th frame")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("benchmarks/results/experiments/push_t_encoder_capacity.json"),
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = load_config(RunConfig, args.run / "config.yaml")
    store = EpisodeStore(args.data or args.run / "data")
    names = list(store.meta["info"]["state_names"])
    train_ids, val_ids = split_episodes(list(range(len(store))), cfg.data.val_fraction)
    f_train, y_train, target_names = labelled_frames(store, train_ids, names, args.stride)
    f_val, y_val, _ = labelled_frames(store, val_ids, names, args.stride)
    m = cfg.model
    x_train = frames_to_input(f_train, m.image_size, m.in_channels)  # (N, C, Hp, Wp)
    x_val = frames_to_input(f_val, m.image_size, m.in_channels)
    mean, std = y_train.mean(0), y_train.std(0).clamp_min(1e-6)
    # the run's encoder (model.encoder and its settings), its output the standardised targets
    head = replace(m, latent_dim=len(target_names), proprio=[], proprio_indices=[])
    encoder = build_encoder(head)
    optimizer = torch.optim.AdamW(encoder.parameters(), lr=1e-3)

    @torch.no_grad()
    def held_out_r2() -> dict[str, float]:
        pred = torch.cat([encoder(x_val[i : i + 512]) for i in range(0, len(x_val), 512)])
        r2 = r2_score(y_val.double(), (pred * std + mean).double())
        return dict(zip(target_names, r2.tolist(), strict=True))

    curve, start = [], time.perf_counter()
    for step in tqdm(range(1, args.steps + 1), desc="supervised encoder"):
        batch = torch.randint(0, len(x_train), (cfg.train.batch_size,))
        loss = (encoder(x_train[batch]) - (y_train[batch] - mean) / std).square().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 500 == 0 or step == args.steps:
            curve.append({"step": step, **held_out_r2()})
    atomic_write_json(
        args.out,
        {
            "command": f"python benchmarks/encoder_capacity.py --run {args.run} --steps "
            f"{args.steps} --stride {args.stride}"
            + (f" --data {args.data}" if args.data else "")
            + (f" --threads {args.threads}" if args.threads else ""),
            "run": str(args.run),
            "frames": {"train": len(x_train), "held_out": len(x_val)},
            "encoder": {
                "kind": m.encoder,
                **({"keypoints": m.keypoints} if m.encoder == "cnn_keypoints" else {}),
                "image_size": m.image_size,
                "patch": m.encoder_patch,
                "channels": list(m.encoder_channels),
            },
            "held_out_r2_curve": curve,
            "seconds": time.perf_counter() - start,
            "provenance": provenance(),
        },
    )
    print(f"held-out R² at step {args.steps}: {curve[-1]}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
