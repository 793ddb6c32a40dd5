"""Success by training step: goal reaching of every checkpoint a run kept.

A row that misses its target is read with this curve beside the training curves: a success
rate still climbing at the last checkpoint says more steps would pay; a flat one says they
would not. Checkpoints are kept by `train.keep_checkpoints` (every `train.checkpoint_every`).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from monde.config import RunConfig
from monde.data.lineage import training_data_of
from monde.eval.goal_reaching import evaluate_goal_reaching
from monde.models.checkpoint import load_model
from monde.runs import CHECKPOINTS, checkpoint_step, list_checkpoints


def success_curve(
    run_dir: str | Path,
    cfg: RunConfig,
    episodes: int,
    progress: bool = False,
    stage_steps: int | None = None,
) -> list[dict]:
    """Evaluate each checkpoint under run_dir/checkpoints on the first `episodes` evaluation
    seeds of cfg.eval (planner only) → [{step, episodes, successes, success_rate, ci95}],
    oldest first. `stage_steps`: the steps run_dir trained (default cfg.train.steps; a
    post-training stage's are post_train.steps), which set how many checkpoints to expect."""
    if episodes < 1:
        raise ValueError(f"success curve: episodes must be ≥ 1, got {episodes}")
    run_dir = Path(run_dir)
    checkpoints = list_checkpoints(run_dir / CHECKPOINTS)
    if not checkpoints:
        raise FileNotFoundError(f"{run_dir / 'checkpoints'}: no checkpoint to evaluate")
    steps = cfg.train.steps if stage_steps is None else stage_steps
    expected = steps // max(cfg.train.checkpoint_every, 1)
    if len(checkpoints) < expected:
        print(
            f"success curve: {len(checkpoints)} of {expected} checkpoints are kept in "
            f"{run_dir / 'checkpoints'} (train.keep_checkpoints was lower when they were written)"
        )
    eval_cfg = replace(cfg.eval, episodes=episodes, random_baseline=False)
    curve = []
    for path in checkpoints:
        model = load_model(path)
        waypoints, cost_basis = None, None
        if cfg.plan.waypoints or cfg.plan.drop_action_variance:
            from monde.eval.memory import planner_memory

            trained_on = training_data_of(path)  # RUN/training_data.json, else RUN/data
            store = trained_on[0] if trained_on is not None else run_dir / "data"
            waypoints, cost_basis, _ = planner_memory(model, store, cfg.plan, cfg.data.val_fraction)
        result = evaluate_goal_reaching(
            model,
            cfg.env,
            cfg.plan,
            eval_cfg,
            progress=progress,
            collection_policy=cfg.data.policy,
            waypoints=waypoints,
            cost_basis=cost_basis,
        )["planner"]
        curve.append(
            {
                "step": checkpoint_step(path),
                **{k: result[k] for k in ("episodes", "successes", "success_rate", "ci95")},
            }
        )
    return curve
