"""Train an ensemble: `train.ensemble` world models on one dataset, differing only in seed.

Member i is an ordinary run in RUN/members/<i> (its own config.yaml with seed `train.seed + i`,
metrics.jsonl, checkpoints and model), trained one after another; a killed ensemble resumes
member by member. RUN/model is the ensemble folder (monde.models.checkpoint.save_ensemble), and
RUN/config.yaml the ensemble's config, so `monde eval RUN/model`, `monde serve` and the
benchmark read it as they read one model.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from monde.config import RunConfig
from monde.config_io import save_config
from monde.data.lineage import TRAINING_DATA_FILE
from monde.io import atomic_write_json, read_json
from monde.models.checkpoint import save_ensemble
from monde.models.ensemble import WorldModelEnsemble
from monde.runs import locked_run, member_dir
from monde.train.run import train_run


def member_config(cfg: RunConfig, index: int) -> RunConfig:
    """Member `index`'s config: the ensemble's, with seed `train.seed + index`, one model."""
    return replace(cfg, train=replace(cfg.train, seed=cfg.train.seed + index, ensemble=1))


def train_ensemble(
    cfg: RunConfig,
    data_dir: str | Path,
    run_dir: str | Path,
    resume: bool = False,
    progress: bool = True,
    stop_after: int | None = None,
    allow_incomplete_data: bool = False,
    position: Sequence[str] = (),
) -> tuple[WorldModelEnsemble | None, dict]:
    """Train each member (monde.train.run.train_run), then write RUN/model as their ensemble →
    (the ensemble, member 0's final metrics with every member's under "members").

    With `stop_after` every member stops at that step and no ensemble is written (None).
    Under torchrun it stops with a ValueError: train the members as separate runs and join
    them with `monde ensemble`.
    """
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ValueError(
            "train.ensemble > 1 trains its members in one process; under torchrun train each "
            "member as its own run (train.seed=…) and join their models with `monde ensemble`"
        )
    run_dir = Path(run_dir)
    with locked_run(run_dir):
        save_config(cfg, run_dir / "config.yaml")
        metrics = []
        for i in range(cfg.train.ensemble):
            if progress:
                print(f"ensemble member {i + 1} of {cfg.train.ensemble}: {member_dir(run_dir, i)}")
            _, member_metrics = train_run(
                member_config(cfg, i),
                data_dir,
                member_dir(run_dir, i),
                resume=resume,
                progress=progress,
                stop_after=stop_after,
                allow_incomplete_data=allow_incomplete_data,
                position=position,
            )
            metrics.append(member_metrics)
        if stop_after is not None:
            return None, {**metrics[0], "members": metrics}
        # the episodes the members trained on (all the same): novelty and waypoints read them
        record = read_json(member_dir(run_dir, 0) / TRAINING_DATA_FILE)
        atomic_write_json(run_dir / TRAINING_DATA_FILE, record)
        members = [member_dir(run_dir, i) / "model" for i in range(cfg.train.ensemble)]
        ensemble = save_ensemble(members, run_dir / "model")
    return ensemble, {**metrics[0], "members": metrics}
