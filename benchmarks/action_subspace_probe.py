"""What a planning cost with `plan.drop_action_variance` still sees: held-out probe R² of each
state column from the latent restricted to the kept directions, for several fractions.

The directions are measured as the planner measures them (monde.eval.memory.build_cost_basis:
the model's one-step action-driven covariance on training latents); the probes are linear,
fitted on training episodes' latents in those directions and scored on validation episodes'.
It also gives the share of the kept latent's variance that a linear map of each group of state
columns (`--groups`, name prefixes: PushT's pusher and block) explains, which is how much each
weighs in an L2 cost. A cost that keeps the block and leaves out the pusher shows a block share
that holds and a pusher share that falls:

    python benchmarks/action_subspace_probe.py RUN/model --data RUN/data \
        --out benchmarks/results/experiments/push_t_action_subspace_probe.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from monde.config import PlanConfig
from monde.data.splits import split_episodes
from monde.data.store import EpisodeStore
from monde.eval.memory import action_covariance_of, episode_latents
from monde.io import atomic_write_json
from monde.models.checkpoint import load_model
from monde.plan.action_subspace import cost_basis
from monde.probing import named_probe_r2, probe_targets
from monde.report import provenance

FRACTIONS = (0.0, 0.5, 0.7, 0.8, 0.9, 0.95)


def variance_explained(latents: torch.Tensor, targets: torch.Tensor) -> float:
    """Share of the latents' total variance (N, K) that a linear map of `targets` (N, T)
    explains, fitted by least squares on the same rows: how much of an L2 cost on these latents
    moves with those state columns."""
    z = latents.double() - latents.double().mean(0)
    x = targets.double() - targets.double().mean(0)
    x = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], dim=1)
    solution = torch.linalg.lstsq(x, z).solution  # (T + 1, K)
    residual = z - x @ solution
    return float(1 - residual.square().sum() / z.square().sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", type=Path, help="RUN/model (or a checkpoint folder)")
    parser.add_argument("--data", type=Path, required=True, help="the model's training store")
    parser.add_argument("--episodes", type=int, default=200, help="training episodes measured")
    parser.add_argument("--fractions", type=float, nargs="+", default=list(FRACTIONS))
    parser.add_argument("--val-fraction", type=float, default=0.1)
    parser.add_argument(
        "--groups", nargs="+", default=["pusher", "block"], help="state-column name prefixes"
    )
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    torch.set_num_threads(1)
    model = load_model(args.model)
    store = EpisodeStore(args.data)
    names = store.meta["info"].get("state_names")
    train_ids, val_ids = split_episodes(list(range(len(store))), args.val_fraction)
    train_ids, val_ids = store.usable(train_ids)[: args.episodes], store.usable(val_ids)
    z_train, s_train, _ = episode_latents(model, store, train_ids)
    z_val, s_val, _ = episode_latents(model, store, val_ids)
    s_train, s_val = torch.as_tensor(s_train), torch.as_tensor(s_val)
    # measured as the planner measures it (build_cost_basis), once for every fraction
    covariance = action_covariance_of(model, z_train, PlanConfig())
    groups = {  # state columns by the thing they place: the agent (what the action moves)…
        prefix: [n for n in names if n.startswith(prefix)] for prefix in args.groups
    }
    rows = []
    for fraction in args.fractions:
        basis, summary = cost_basis(covariance, fraction)
        probes = named_probe_r2(z_train @ basis, s_train, z_val @ basis, s_val, names)
        shares = {
            group: variance_explained(z_val @ basis, probe_targets(s_val[:, cols], picked)[0])
            for group, picked in groups.items()
            for cols in [[names.index(n) for n in picked]]
        }
        rows.append({"fraction": fraction, **summary, "probe_r2": probes, "variance_share": shares})
        shown = ", ".join(f"{k} {v:.2f}" for k, v in probes.items())
        share = ", ".join(f"{k} {v:.2f}" for k, v in shares.items())
        print(f"drop {fraction:.2f}: keep {summary['kept']:2d} of {model.latent_dim} — {shown}")
        print(f"           share of the kept latent's variance: {share}")
    atomic_write_json(
        args.out,
        {
            "model": str(args.model),
            "data": str(args.data),
            "train_episodes": len(train_ids),
            "val_episodes": len(val_ids),
            "rows": rows,
            "provenance": provenance(),
        },
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
