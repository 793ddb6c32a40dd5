"""Which episode store a run was trained on, recorded in the run folder.

Figures that claim "never seen in training" (scene novelty) read the training data through this
record instead of rebuilding it from a config.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from monde.data.store import EpisodeStore, is_store
from monde.io import atomic_write_json
from monde.runs import CHECKPOINTS

TRAINING_DATA_FILE = "training_data.json"
"""Written into a run folder by training: which store (and split) the model was trained on."""


def record_training_data(
    run_dir: str | Path, store: EpisodeStore, train_ids: Sequence[int]
) -> None:
    """Write run_dir/training_data.json: the store's path and the episode ids trained on."""
    ids = [int(i) for i in train_ids]
    atomic_write_json(
        Path(run_dir) / TRAINING_DATA_FILE,
        {"store": str(Path(store.path).resolve()), "episodes": len(store), "train_ids": ids},
    )


def training_data_of(model_dir: str | Path) -> tuple[Path, list[int] | None] | None:
    """The store a model was trained on and its training episode ids, from the run folder.

    Reads RUN/training_data.json (written by training) when `model_dir` is RUN/model or a
    checkpoint RUN/checkpoints/step-N; falls back to the RUN/data store of `monde demo` and
    `monde bench` runs (ids then unknown: None). None when neither exists.
    """
    run_dir = Path(model_dir).parent
    if run_dir.name == CHECKPOINTS:  # RUN/checkpoints/step-N: the run folder is one up
        run_dir = run_dir.parent
    record = run_dir / TRAINING_DATA_FILE
    if record.exists():
        info = json.loads(record.read_text())
        store = Path(info["store"])
        if is_store(store):
            return store, [int(i) for i in info["train_ids"]]
    if is_store(run_dir / "data"):
        return run_dir / "data", None
    return None
