"""Names of the interchangeable parts — solvers, encoders, predictors, collection policies —
one line each.

A leaf module without torch: `monde.config` checks `plan.solver` and `model.predictor` against
these tables when a config loads, and `monde.plan.registry` / `monde.models.world_model` import
an entry's module the first time it is used. An entry is "module:attribute":

- SOLVERS: a `monde.plan.registry.SolverSpec` (function, config class, capabilities).
- ENCODERS: a builder `ModelConfig → nn.Module` mapping (N, C, Hp, Wp) float frames to
  (N, D − P) image latents (`monde.models.encoder`).
- PREDICTORS: a builder `ModelConfig → nn.Module` with the predictor interface of
  `monde.models.predictors` (`forward`, `rollout`, `rollout_samples`).
- POLICIES: a factory `(env, seed) → policy` of `monde.envs.policies` (`reset(states)`,
  `act(states) → actions`); `monde.config` checks `data.policy` against it, and
  `monde.envs.policies.make_policy` builds one for collection and for the 'swm' goals.

Adding a solver, an encoder or a predictor kind: one new module, plus one line here.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterable
from typing import Any

SOLVERS: dict[str, str] = {  # plan.solver → its SolverSpec
    "cem": "monde.plan.solvers:SPEC",
    "icem": "monde.plan.icem:SPEC",
    "mppi": "monde.plan.mppi:SPEC",
    "gradient": "monde.plan.gradient:SPEC",
    "cem_gradient": "monde.plan.gradient:CEM_GRADIENT_SPEC",
}

ENCODERS: dict[str, str] = {  # model.encoder → its builder
    "cnn": "monde.models.encoder:build_cnn",
    "cnn_grid": "monde.models.encoder:build_cnn_grid",  # a token per image cell
    "cnn_keypoints": "monde.models.keypoints:build_cnn_keypoints",  # soft-argmax keypoints
    "vit": "monde.models.vit:build_vit",  # patch tokens; pretrained by `monde pretrain`
    "conv_vit": "monde.models.vit:build_conv_vit",  # the same, tokens from the CNN's stages
}

PREDICTORS: dict[str, str] = {  # model.predictor → its builder
    "mlp": "monde.models.predictors:build_mlp",
    "gru": "monde.models.predictors:build_gru",
    "transformer": "monde.models.predictors:build_transformer",
    "token_transformer": "monde.models.token_predictor:build_token_transformer",
}

POLICIES: dict[str, str] = {  # data.policy → its factory (env, seed) → policy
    "door_explorer": "monde.envs.policies:door_explorer",  # TwoRoom's scripted explorer
    "random": "monde.envs.policies:uniform_random",
    "smooth_random": "monde.envs.policies:smooth_random",  # Reacher, PointMaze, any Gym env
    "pusht_pusher": "monde.envs.policies:pusht_pusher",  # PushT's scripted pushes
    # PushT: scripted pushes, and a quarter of episodes of held random moves
    "pusht_pusher_and_free": "monde.envs.policies:pusht_pusher_and_free",
}


def check_name(field: str, name: str, names: Iterable[str]) -> None:
    """Raise a one-line ValueError naming `field` when `name` is not among `names`."""
    names = list(names)
    if name not in names:
        close = difflib.get_close_matches(str(name), names, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"{field} must be one of {names}, got {name!r}{hint}")


def check_topk(owner: str, topk: Any, samples: int) -> None:
    """The one check of `topk` (elites kept or reported), for PlanConfig and every solver
    config: an int in [1, samples]."""
    if not isinstance(topk, int) or not 1 <= topk <= samples:
        raise ValueError(f"{owner}.topk must be an int in [1, samples={samples}], got {topk!r}")


def resolve(table: dict[str, str], field: str, name: str) -> Any:
    """The object registered as `name` in `table` (its module imported now); ValueError naming
    `field` when there is none."""
    check_name(field, name, table)
    module, _, attr = table[name].partition(":")
    return getattr(importlib.import_module(module), attr)
