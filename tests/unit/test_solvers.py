"""CEM on costs with known minima; determinism, warm starts, NaN-safety and input errors."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor

from monde.plan import CEMConfig, PlanResult, cem


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _quadratic(target: Tensor):
    """cost = sum over (H, A) of (a - target)^2; target (B, H, A) -> cost_fn (B,S,H,A) -> (B,S)."""

    def cost_fn(actions: Tensor) -> Tensor:
        return (actions - target.unsqueeze(1)).square().sum(dim=(-2, -1))

    return cost_fn


def _start(B: int, H: int, A: int, std: float = 1.0) -> tuple[Tensor, Tensor]:
    return torch.zeros(B, H, A), torch.full((B, H, A), std)


def _check_result(r: PlanResult, B: int, H: int, A: int, iterations: int) -> None:
    assert r.actions.shape == r.mean.shape == r.std.shape == (B, H, A)
    assert r.cost.shape == (B,)
    assert r.cost_history.shape == (iterations, B)
    assert torch.isfinite(r.actions).all() and torch.isfinite(r.mean).all()
    assert torch.isfinite(r.std).all()


# ---------------------------------------------------------------- finding known minima


def test_quadratic_inside_bounds_per_episode_targets() -> None:
    B, H, A = 3, 2, 2
    target = torch.tensor(
        [[[0.5, -0.3], [0.1, 0.9]], [[-0.7, 0.2], [0.0, -0.4]], [[0.3, 0.3], [-0.8, 0.6]]]
    )
    cfg = CEMConfig(samples=200, iterations=12, topk=20, min_std=1e-4)
    mean, std = _start(B, H, A)
    r = cem(_quadratic(target), mean, std, -1.0, 1.0, cfg, _gen())
    _check_result(r, B, H, A, cfg.iterations)
    assert (r.actions - target).abs().max() < 1e-2
    assert (r.mean - target).abs().max() < 1e-2
    # reported cost is the cost of the reported actions
    torch.testing.assert_close(r.cost, _quadratic(target)(r.actions.unsqueeze(1))[:, 0])


def test_quadratic_outside_bounds_gives_clipped_target() -> None:
    B, H, A = 2, 3, 2
    low, high = torch.tensor([-1.0, 0.0]), torch.tensor([1.0, 0.5])  # per action dim (A,)
    target = torch.tensor([3.0, -2.0]).expand(B, H, A).clone()
    target[1, :, 0] = 0.25  # episode 1: dim 0 inside the bounds
    cfg = CEMConfig(samples=200, iterations=12, topk=20, min_std=1e-4)
    mean, std = _start(B, H, A)
    r = cem(_quadratic(target), mean, std, low, high, cfg, _gen())
    expected = torch.maximum(torch.minimum(target, high), low)
    assert (r.actions - expected).abs().max() < 1e-2
    assert (r.actions >= low).all() and (r.actions <= high).all()


def test_nonconvex_rastrigin_global_minimum() -> None:
    # Shifted 2-D Rastrigin: many local minima on a unit grid, global min 0 at c.
    c = torch.tensor([1.3, -2.2])

    def cost_fn(actions: Tensor) -> Tensor:  # (B, S, 1, 2) -> (B, S)
        x = actions[..., 0, :] - c
        return (10.0 * 2 + x.square() - 10.0 * torch.cos(2 * math.pi * x)).sum(dim=-1) - 20.0

    B, H, A = 2, 1, 2
    cfg = CEMConfig(samples=1000, iterations=15, topk=50, min_std=1e-4)
    mean, std = _start(B, H, A, std=3.0)
    r = cem(cost_fn, mean, std, -5.12, 5.12, cfg, _gen(3))
    assert (r.actions[:, 0] - c).abs().max() < 1e-2
    assert r.cost.max() < 1e-2


# ---------------------------------------------------------------- determinism, warm start


def test_same_seed_identical_different_seed_different() -> None:
    B, H, A = 2, 3, 2
    target = torch.full((B, H, A), 0.3)
    seen: list[Tensor] = []

    def cost_fn(actions: Tensor) -> Tensor:
        seen.append(actions.clone())
        return _quadratic(target)(actions)

    cfg = CEMConfig(samples=16, iterations=3, topk=4)
    mean, std = _start(B, H, A)
    r1 = cem(cost_fn, mean, std, -1.0, 1.0, cfg, _gen(7))
    s1 = seen.copy()
    seen.clear()
    r2 = cem(cost_fn, mean, std, -1.0, 1.0, cfg, _gen(7))
    s2 = seen.copy()
    seen.clear()
    r3 = cem(cost_fn, mean, std, -1.0, 1.0, cfg, _gen(8))
    s3 = seen.copy()
    for field in ("actions", "cost", "mean", "std", "cost_history"):
        assert torch.equal(getattr(r1, field), getattr(r2, field)), field
    assert all(torch.equal(a, b) for a, b in zip(s1, s2, strict=True))
    assert not torch.equal(s1[0], s3[0])
    assert not torch.equal(r1.actions, r3.actions)
    # sample 0 of round 1 is the (clipped) initial mean, whatever the seed
    assert torch.equal(s1[0][:, 0], mean) and torch.equal(s3[0][:, 0], mean)


def test_warm_start_never_worse_than_mean() -> None:
    B, H, A = 2, 4, 3
    target = torch.linspace(-0.5, 0.5, B * H * A).reshape(B, H, A)
    cost_fn = _quadratic(target)
    cfg = CEMConfig(samples=8, iterations=1, topk=2)
    # mean at the optimum: nothing can beat it, and it is returned with cost 0
    r = cem(cost_fn, target.clone(), torch.ones(B, H, A), -1.0, 1.0, cfg, _gen())
    assert torch.equal(r.actions, target)
    assert (r.cost == 0).all()
    # any mean inside the bounds: the result is no worse than the mean
    for seed in range(5):
        mean = torch.rand(B, H, A, generator=_gen(100 + seed)) * 2 - 1
        r = cem(cost_fn, mean, torch.full((B, H, A), 2.0), -1.0, 1.0, cfg, _gen(seed))
        assert (r.cost <= cost_fn(mean.unsqueeze(1))[:, 0]).all()


def test_cost_history_is_best_ever_and_non_increasing() -> None:
    B, H, A = 3, 2, 2
    target = torch.full((B, H, A), 0.4)
    cfg = CEMConfig(samples=20, iterations=8, topk=5, momentum=0.5)
    mean, std = _start(B, H, A)
    r = cem(_quadratic(target), mean, std, -1.0, 1.0, cfg, _gen())
    assert (r.cost_history[1:] <= r.cost_history[:-1]).all()
    assert torch.equal(r.cost_history[-1], r.cost)


# ---------------------------------------------------------------- robustness


@pytest.mark.parametrize(
    "case", ["topk1", "std0", "huge", "some_inf", "some_nan", "all_nan", "all_inf", "A1"]
)
def test_degenerate_cases_return_finite_actions(case: str) -> None:
    B, H, A = 2, 3, 1 if case == "A1" else 2
    target = torch.full((B, H, A), 0.5)
    quad = _quadratic(target)
    cfg = CEMConfig(samples=32, iterations=4, topk=8)
    mean, std = _start(B, H, A)

    def cost_fn(actions: Tensor) -> Tensor:
        c = quad(actions)
        bad = actions[..., 0, 0] > 0.6  # (B, S) a subset of samples
        if case == "huge":
            return c * 1e30 + 1e30
        if case == "some_inf":
            return torch.where(bad, float("inf"), c)
        if case == "some_nan":
            return torch.where(bad, float("nan"), c)
        if case == "all_nan":
            return torch.full_like(c, float("nan"))
        if case == "all_inf":
            return torch.full_like(c, float("inf"))
        return c

    if case == "topk1":
        cfg = CEMConfig(samples=32, iterations=4, topk=1, min_std=0.0)
    if case == "std0":
        cfg = CEMConfig(samples=32, iterations=4, topk=8, min_std=0.0)
        std = torch.zeros(B, H, A)
    r = cem(cost_fn, mean, std, -1.0, 1.0, cfg, _gen())
    _check_result(r, B, H, A, cfg.iterations)
    assert (r.actions.abs() <= 1.0).all()
    if case in ("all_nan", "all_inf"):
        assert torch.isinf(r.cost).all()
        assert torch.equal(r.actions, mean)  # nothing beat the initial mean
    else:
        assert torch.isfinite(r.cost).all()
    if case in ("some_inf", "some_nan"):
        assert (r.actions[:, 0, 0] <= 0.6).all()  # a NaN/inf sample is never returned
    if case == "std0":
        assert torch.equal(r.actions, mean) and (r.std == 0).all()  # no exploration at all
    if case == "topk1":
        assert (r.std == 0).all()  # unbiased=False std of one elite


def test_inference_mode_and_grad_inputs() -> None:
    B, H, A = 2, 2, 2
    target = torch.full((B, H, A), 0.2)
    cfg = CEMConfig(samples=16, iterations=2, topk=4)
    with torch.inference_mode():
        mean, std = _start(B, H, A)
        r_in = cem(_quadratic(target), mean, std, -1.0, 1.0, cfg, _gen())
    # inference tensors as inputs, called outside inference mode
    r_out = cem(_quadratic(target), mean, std, -1.0, 1.0, cfg, _gen())
    assert torch.equal(r_in.actions, r_out.actions)
    # inputs requiring grad: outputs carry no graph and inputs are left untouched
    mean_g = torch.zeros(B, H, A, requires_grad=True)
    r = cem(_quadratic(target), mean_g, torch.ones(B, H, A), -1.0, 1.0, cfg, _gen())
    assert not r.actions.requires_grad and not r.mean.requires_grad
    assert (mean_g == 0).all()


def test_dtype_follows_mean_and_bounds_broadcast() -> None:
    B, H, A = 2, 3, 2
    target = torch.full((B, H, A), 0.25, dtype=torch.float64)
    cfg = CEMConfig(samples=16, iterations=2, topk=4)
    mean = torch.zeros(B, H, A, dtype=torch.float64)
    low = torch.full((B, H, A), -1.0)  # float32 bounds of the full shape
    r = cem(_quadratic(target), mean, torch.ones(B, H, A), low, 1.0, cfg, _gen())
    assert r.actions.dtype == r.mean.dtype == r.std.dtype == torch.float64


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"samples": 0}, "samples"),
        ({"iterations": 0}, "iterations"),
        ({"topk": 0}, "topk"),
        ({"samples": 10, "topk": 11}, "topk"),
        ({"min_std": -0.1}, "min_std"),
        ({"min_std": float("nan")}, "min_std"),
        ({"momentum": 1.0}, "momentum"),
        ({"momentum": -0.1}, "momentum"),
    ],
)
def test_invalid_config_names_field(kwargs: dict, field: str) -> None:
    value = repr(next(iter(kwargs.values())) if field not in kwargs else kwargs[field])
    with pytest.raises(ValueError, match=rf"CEMConfig\.{field} .*{value}"):
        CEMConfig(**kwargs)


def test_invalid_inputs_raise() -> None:
    cfg = CEMConfig(samples=4, iterations=1, topk=2)
    q = _quadratic(torch.zeros(1, 2, 2))
    mean, std = _start(1, 2, 2)
    with pytest.raises(ValueError, match="std shape"):
        cem(q, mean, torch.ones(1, 2, 3), -1.0, 1.0, cfg)
    with pytest.raises(ValueError, match="H == 0"):
        cem(q, torch.zeros(1, 0, 2), torch.ones(1, 0, 2), -1.0, 1.0, cfg)
    with pytest.raises(ValueError, match=r"\(B, H, A\)"):
        cem(q, torch.zeros(2, 2), torch.ones(2, 2), -1.0, 1.0, cfg)
    with pytest.raises(ValueError, match=r"low > high at action dim\(s\) \[1\]"):
        cem(q, mean, std, torch.tensor([-1.0, 1.0]), torch.tensor([1.0, 0.5]), cfg)
    with pytest.raises(ValueError, match="does not broadcast"):
        cem(q, mean, std, torch.zeros(3), 1.0, cfg)
    with pytest.raises(ValueError, match="std must be finite and >= 0"):
        cem(q, mean, -std, -1.0, 1.0, cfg)
    with pytest.raises(ValueError, match="mean contains NaN"):
        cem(q, torch.full((1, 2, 2), float("nan")), std, -1.0, 1.0, cfg)
    with pytest.raises(ValueError, match=r"cost_fn must return a \(B, S\)"):
        cem(lambda a: a.sum(-1), mean, std, -1.0, 1.0, cfg)
    # generator on another device than mean (meta stands in for an accelerator here)
    meta = torch.zeros(1, 2, 2, device="meta")
    with pytest.raises(ValueError, match="generator is on cpu but mean is on meta"):
        cem(q, meta, torch.ones(1, 2, 2, device="meta"), -1.0, 1.0, cfg, _gen())
