"""Solvers by name: what the MPC loop needs to know about each, and the PlanConfig → solver config
step.

The names live in ``monde.registry.SOLVERS`` (torch-free, so configs check ``plan.solver`` when
they load), one line per solver naming its module's ``SolverSpec``. Every solver has one
signature, ``solver(cost_fn, mean, std, low, high, cfg, generator=None, candidates=None) ->
PlanResult`` over mean/std (B, H, A) and cost_fn (B, S, H, A) -> (B, S).

Adding a solver: one new module defining the function, its config dataclass and a
``SPEC = SolverSpec(...)``, plus one line in ``monde.registry.SOLVERS``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any

from monde.registry import SOLVERS, check_topk, resolve

if TYPE_CHECKING:
    from monde.config import PlanConfig

__all__ = ["SOLVERS", "SolverSpec", "check_topk", "solver_from_config", "solver_spec"]


@dataclass(frozen=True)
class SolverSpec:
    """What the MPC loop needs to know about one solver.

    solve: the solver function. config: its config dataclass. from_plan: PlanConfig → an
    instance of `config` (samples × iterations is the budget of each). differentiable: the
    solver differentiates the cost, so the planner runs it outside torch.inference_mode.
    warm_elites: the solver's config → how many of a call's elites (PlanResult.elites), shifted
    by the executed steps, the next call receives as `candidates` (0: none).
    """

    solve: Callable[..., Any]
    config: type
    from_plan: Callable[[PlanConfig], Any]
    differentiable: bool = False
    warm_elites: Callable[[Any], int] = lambda solver_cfg: 0

    def configure(self, cfg: PlanConfig) -> Any:
        """The solver's config: `from_plan(cfg)`, then `cfg.solver_options` (the solver's own
        section, any field of `config` by name). ValueError naming plan.solver_options.KEY and
        the valid keys when the solver has no such field."""
        solver_cfg = self.from_plan(cfg)
        valid = [f.name for f in fields(self.config) if f.init]
        unknown = sorted(set(cfg.solver_options) - set(valid))
        if unknown:
            raise ValueError(
                f"plan.solver_options.{unknown[0]}: solver {cfg.solver!r} ({self.config.__name__}) "
                f"has no such setting; its settings are {', '.join(valid)}"
            )
        return replace(solver_cfg, **cfg.solver_options) if cfg.solver_options else solver_cfg


def solver_spec(name: str) -> SolverSpec:
    """The SolverSpec registered as `name` (ValueError naming plan.solver if none is)."""
    return resolve(SOLVERS, "plan.solver", name)


def solver_from_config(cfg: PlanConfig) -> tuple[Callable[..., Any], Any]:
    """PlanConfig → (solver function, its config)."""
    spec = solver_spec(cfg.solver)
    return spec.solve, spec.configure(cfg)
