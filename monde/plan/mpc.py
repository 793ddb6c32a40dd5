"""Receding-horizon model-predictive control with a world model and any monde.plan solver.

The MPC loop knows nothing about pixels or environments: it hands observations to the model's
`encode` (the one preprocessing path) and returns model actions. Per call of `plan`: take the
encoded context (encoded once, when observed), run the solver on the cost of the predicted
latents against the goal latent, and keep the solution, shifted by the executed steps, as the
next call's warm start (a solver whose SolverSpec asks for warm elites, iCEM, also gets its
elites shifted).

Speed: sampling solvers plan under `torch.inference_mode`; the context's work is done once per
episode by the model's `rollout_samples` (KV cache for the transformer); `plan.chunk` bounds
memory by rolling out samples in chunks; `plan.compile` is optional; `plan.precision` 'auto'
rolls out in bf16 on a GPU with native bf16, in fp32 on a CPU (monde.precision).
"""

from __future__ import annotations

import contextlib
from dataclasses import replace

import numpy as np
import torch
from torch import Tensor

from monde.config import PlanConfig
from monde.models.world_model import WorldModelProtocol, encode_observation
from monde.plan.cost import ensemble_goal_cost
from monde.plan.registry import solver_spec
from monde.plan.solvers import CostFn, PlanResult
from monde.plan.waypoints import SubgoalSelector, WaypointGraph
from monde.precision import resolve_precision


def rollout_samples(
    model: WorldModelProtocol, z_ctx: Tensor, actions: Tensor, a_ctx: Tensor
) -> Tensor:
    """z_ctx (B, Tc, D), actions (B, S, H, A), a_ctx (B, Tc−1, A) → predicted (B, S, H, D).

    Uses the model's `rollout_samples` when it has one; otherwise repeats the context S times
    and calls the protocol's `rollout`.
    """
    fast = getattr(model, "rollout_samples", None)
    if fast is not None:
        return fast(z_ctx, actions, a_ctx=a_ctx)
    b, s, h, a = actions.shape
    pred = model.rollout(
        z_ctx.repeat_interleave(s, dim=0),  # (B·S, Tc, D)
        actions.reshape(b * s, h, a),  # (B·S, H, A)
        a_ctx=a_ctx.repeat_interleave(s, dim=0),  # (B·S, Tc−1, A)
    )
    return pred.reshape(b, s, h, -1)


def ensemble_members(model: WorldModelProtocol) -> tuple[int, int]:
    """(M, Dm): an ensemble's members and each one's latent dims (1, D for one model)."""
    member_dim = getattr(model, "member_dim", model.latent_dim)
    return model.latent_dim // member_dim, member_dim


def latent_weights(
    model: WorldModelProtocol, proprio_weights: dict[str, float], image_weight: float = 1.0
) -> Tensor | None:
    """Per-dimension cost weights (D,) from `plan.proprio_weights` and `plan.image_weight`:
    image_weight for the image latent, the named weight for a proprioceptive column (the last P
    dims, in `model.proprio` order; 1 when not named). An ensemble's members each append their
    proprioception to their own latent: the weights of one member's Dm dims, repeated M times.
    None when every weight is 1."""
    if not proprio_weights and image_weight == 1.0:
        return None
    proprio = list(model.proprio)
    unknown = sorted(set(proprio_weights) - set(proprio))
    if unknown:
        raise ValueError(
            f"plan.proprio_weights names {unknown}, which are not proprioceptive inputs of this "
            f"model (model.proprio: {proprio or 'none'})"
        )
    member_dim = ensemble_members(model)[1]  # an ensemble's members each append theirs
    first = member_dim - len(proprio)  # proprioception is appended last
    if image_weight != 1.0 and first == 0:
        raise ValueError("plan.image_weight: this model's latent has no image part")
    weights = torch.ones(member_dim)
    weights[:first] = float(image_weight)
    for i, name in enumerate(proprio):
        weights[first + i] = float(proprio_weights.get(name, 1.0))
    return weights.repeat(model.latent_dim // member_dim)  # (D,), one copy per member


class MPCPlanner:
    """Plans model actions (B, H, A) in [−1, 1] toward goal observations, batched over episodes.

    With `cfg.repeat_actions`, the solver searches one environment action per model step and
    repeats it `frameskip` times: samples then move the agent in straight lines, reaching
    `frameskip` times further than the average of independent noisy actions would.
    """

    def __init__(
        self,
        model: WorldModelProtocol,
        cfg: PlanConfig,
        seed: int = 0,
        waypoints: WaypointGraph | None = None,
        cost_basis: Tensor | None = None,
    ):
        """`waypoints`: a graph of remembered latents; each call then aims at a subgoal on the
        graph's shortest path to the goal (cfg.waypoint_lookahead steps ahead). `cost_basis`
        (D, K): the cost compares predicted and goal latents in these directions only (the
        basis `cfg.drop_action_variance` asks for: monde.eval.memory.build_cost_basis)."""
        if cfg.drop_action_variance > 0 and cost_basis is None:
            raise ValueError(
                "plan.drop_action_variance needs the cost basis measured on the model's training "
                "episodes (monde.eval.memory.build_cost_basis); pass it as cost_basis"
            )
        if cost_basis is not None and (
            cost_basis.ndim != 2 or cost_basis.shape[0] != model.latent_dim
        ):
            raise ValueError(
                f"cost_basis must be (D, K) with D = {model.latent_dim}, got "
                f"{tuple(cost_basis.shape)}"
            )
        self.members = ensemble_members(model)[0]
        if cost_basis is not None and self.members > 1 and cfg.ensemble_cost != "joint":
            raise ValueError(
                f"plan.ensemble_cost={cfg.ensemble_cost} scores each member on its own latent; "
                "plan.drop_action_variance's basis mixes the members' dims: use one or the other"
            )
        self.cost_basis = cost_basis
        self.model, self.cfg, self.seed = model, cfg, seed
        self.subgoals = (
            SubgoalSelector(waypoints, cfg.waypoint_lookahead) if waypoints is not None else None
        )
        spec = solver_spec(cfg.solver)
        self.solver, self.solver_cfg = spec.solve, spec.configure(cfg)
        self.differentiable = spec.differentiable  # plans outside torch.inference_mode
        self.repeat = model.frameskip if cfg.repeat_actions else 1
        self.search_dim = model.action_dim // self.repeat  # dims searched per model step
        self.kept_elites = spec.warm_elites(self.solver_cfg)  # elites shifted into the next call
        # per-dimension cost weights (D,), or None when all are 1
        self.dim_weights = latent_weights(model, cfg.proprio_weights, cfg.image_weight)
        self.z_goal: Tensor | None = None
        self._rollout = (
            torch.compile(rollout_samples, dynamic=False) if cfg.compile else rollout_samples
        )

    def expand(self, searched: Tensor) -> Tensor:
        """Searched (..., H, A / repeat) → model actions (..., H, A): [a, a, …] per model step."""
        if self.repeat == 1:
            return searched
        *lead, a = searched.shape
        tiled = searched.unsqueeze(-2).expand(*lead, self.repeat, a)  # (..., H, repeat, A/repeat)
        return tiled.reshape(*lead, self.repeat * a)

    @torch.inference_mode()
    def reset(
        self,
        observations: np.ndarray | Tensor,
        goals: np.ndarray | Tensor,
        states: np.ndarray | Tensor | None = None,
        goal_states: np.ndarray | Tensor | None = None,
    ) -> None:
        """Start episodes: observations and goals (B, Hp, Wp, C) uint8; their states (B, S)
        for a model with proprioception (it reads only its proprioceptive columns)."""
        self.z_goal = encode_observation(self.model, goals, goal_states).float()  # (B, D)
        if self.subgoals is not None:
            self.subgoals.reset(self.z_goal)
        z0 = encode_observation(self.model, observations, states).float()  # (B, D)
        self.z_hist = z0[:, None]  # (B, 1, D): latents at model-step boundaries
        self.a_hist = z0.new_zeros(len(z0), 0, self.model.action_dim)  # (B, Tc−1, A)
        self.mean = z0.new_zeros(len(z0), self.cfg.horizon, self.search_dim)
        self.elites: Tensor | None = None  # (B, E, H, A / repeat): shifted warm elites
        self.generator = torch.Generator(device=z0.device).manual_seed(self.seed)

    @torch.inference_mode()
    def observe(
        self,
        observations: np.ndarray | Tensor,
        executed: Tensor,
        states: np.ndarray | Tensor | None = None,
    ) -> None:
        """Record the frame (and state, see reset) reached after executing one model action
        `executed` (B, A)."""
        if not torch.isfinite(executed).all():
            raise ValueError("MPCPlanner.observe: the executed actions contain NaN or inf")
        z = encode_observation(self.model, observations, states).float()[:, None]  # (B, 1, D)
        self.z_hist = torch.cat([self.z_hist, z], dim=1)[:, -self.model.history :]
        a_hist = torch.cat([self.a_hist, executed[:, None].to(z)], dim=1)
        self.a_hist = a_hist[:, a_hist.shape[1] - (self.z_hist.shape[1] - 1) :]

    def _cost_fn(self, z_ctx: Tensor, a_ctx: Tensor, goal: Tensor) -> CostFn:
        """Cost of searched actions (b, S, H, A / repeat) → (b, S), in chunks of samples."""
        cfg = self.cfg
        device_type = z_ctx.device.type
        bf16 = resolve_precision(cfg.precision, z_ctx.device, "plan")[0] == "bf16"
        weights = None if self.dim_weights is None else self.dim_weights.to(z_ctx.device)
        basis = None
        if self.cost_basis is not None:  # weights, then the basis: one (D, K) map
            basis = self.cost_basis.to(z_ctx.device, torch.float32)
            if weights is not None:
                basis, weights = weights.sqrt()[:, None] * basis, None
            goal = goal @ basis  # (b, 1, K)

        def chunk_cost(searched: Tensor) -> Tensor:  # (b, s', H, A / repeat) → (b, s')
            actions = self.expand(searched)  # (b, s', H, A)
            if bf16:
                with torch.autocast(device_type, dtype=torch.bfloat16):
                    pred = self._rollout(self.model, z_ctx, actions, a_ctx).float()
            else:
                pred = self._rollout(self.model, z_ctx, actions, a_ctx)  # (b, s', H, D)
            if basis is not None:
                pred = pred @ basis  # (b, s', H, K)
            return ensemble_goal_cost(
                pred,
                goal,
                self.members,
                cfg.ensemble_cost,
                cfg.metric,
                cfg.reduce,
                cfg.discount,
                weights,
                cfg.mean_weight,
            )

        def cost_fn(searched: Tensor) -> Tensor:
            s = searched.shape[1]
            if not cfg.chunk or cfg.chunk >= s:
                return chunk_cost(searched)
            parts = [chunk_cost(searched[:, i : i + cfg.chunk]) for i in range(0, s, cfg.chunk)]
            return torch.cat(parts, dim=1)  # (b, S)

        return cost_fn

    def plan(self, active: Tensor | np.ndarray | None = None) -> PlanResult:
        """One replanning call → PlanResult whose `actions` are model actions (b, H, A).

        `active` (B,) bool selects the episodes to plan for (e.g. those not yet at their goal);
        the result then covers those b episodes, in order, and the others keep their warm
        start. None plans for all B.
        """
        if self.z_goal is None:
            raise RuntimeError("MPCPlanner.plan called before reset(observations, goals)")
        rows = None
        if active is not None:
            mask = torch.as_tensor(np.asarray(active), dtype=torch.bool)
            if mask.shape != (len(self.z_goal),):
                raise ValueError(f"active must be ({len(self.z_goal)},) bool, got {mask.shape}")
            rows = mask.nonzero().squeeze(1).to(self.z_goal.device)  # (b,)
        pick = (lambda t: t) if rows is None else (lambda t: t[rows])
        mode = contextlib.nullcontext() if self.differentiable else torch.inference_mode()
        with mode:
            with torch.inference_mode(False) if self.differentiable else contextlib.nullcontext():
                # gradient solvers need tensors autograd may save: copies of the inference tensors
                z_ctx, a_ctx = pick(self.z_hist).clone(), pick(self.a_hist).clone()
                if self.subgoals is None:
                    goal = pick(self.z_goal)[:, None, :].clone()  # (b, 1, D): broadcast over S
                else:  # a waypoint on the way, or the goal once near: (b, 1, D)
                    goal = self.subgoals.subgoals(pick(self.z_hist)[:, -1], rows)[:, None, :]
            mean = pick(self.mean)
            std = torch.full_like(mean, self.cfg.init_std)
            bound = torch.ones(self.search_dim, device=mean.device)
            candidates = pick(self.elites) if self.elites is not None else None
            result = self.solver(
                self._cost_fn(z_ctx, a_ctx, goal),
                mean,
                std,
                -bound,
                bound,
                self.solver_cfg,
                self.generator,
                candidates,
            )
            self._warm_start(result, rows)
        return replace(result, actions=self.expand(result.actions))

    def _warm_start(self, result: PlanResult, rows: Tensor | None) -> None:
        """Shift the solution (and the warm elites, see SolverSpec) by the executed steps, pad
        with zeros."""
        k = self.cfg.receding
        shifted = result.actions[:, k:]  # (b, H − k, A / repeat)
        mean = torch.cat([shifted, shifted.new_zeros(len(shifted), k, self.search_dim)], dim=1)
        with torch.inference_mode():
            if rows is None:
                self.mean = mean.detach().clone()
            else:
                self.mean = self.mean.clone()
                self.mean[rows] = mean.detach()
            if self.kept_elites and result.elites is not None:
                el = result.elites[:, : self.kept_elites, k:]  # (b, E, H − k, A / repeat)
                el = torch.cat([el, el.new_zeros(*el.shape[:2], k, self.search_dim)], dim=2)
                if self.elites is None:  # rows never planned keep zero sequences
                    self.elites = el.new_zeros(len(self.z_goal), *el.shape[1:])
                self.elites = self.elites.clone()
                self.elites[slice(None) if rows is None else rows] = el.detach()
