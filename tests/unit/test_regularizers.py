"""Regularisers against their formulas, computed independently with numpy."""

import math

import numpy as np
import pytest
import torch

from monde.models.regularizers import epps_pulley, sigreg, vicreg_covariance, vicreg_variance


def test_vicreg_variance_matches_formula():
    z = torch.tensor([[0.0, 1.0], [0.2, -1.0], [0.4, 3.0]], dtype=torch.float64)
    # column variances (unbiased): 0.04 and 4.0 → stds 0.2 and 2.0 (eps 0)
    expected = (max(0.0, 1 - 0.2) + max(0.0, 1 - 2.0)) / 2
    assert vicreg_variance(z, gamma=1.0, eps=0.0).item() == pytest.approx(expected, abs=1e-12)


def test_vicreg_covariance_matches_formula():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(7, 3))
    cov = np.cov(x, rowvar=False)  # unbiased
    expected = (cov**2).sum() - (np.diag(cov) ** 2).sum()
    got = vicreg_covariance(torch.from_numpy(x)).item()
    assert got == pytest.approx(expected / 3, rel=1e-10)


def test_vicreg_covariance_zero_for_uncorrelated_columns():
    z = torch.tensor([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])
    assert vicreg_covariance(z).item() == pytest.approx(0.0, abs=1e-7)


def _epps_pulley_reference(x: np.ndarray, t_max: float, knots: int) -> float:
    """The statistic by explicit complex arithmetic and a trapezoid on [−t_max, t_max]."""
    t = np.linspace(-t_max, t_max, 2 * knots - 1)
    ecf = np.exp(1j * np.outer(t, x)).mean(axis=1)
    phi = np.exp(-0.5 * t**2)
    integrand = np.abs(ecf - phi) ** 2 * phi
    return len(x) * float(np.trapezoid(integrand, t))


def test_epps_pulley_matches_complex_reference():
    x = np.array([-1.3, 0.2, 0.7, 2.1, -0.4])
    got = epps_pulley(torch.from_numpy(x)[:, None], t_max=3.0, num_knots=17).item()
    assert got == pytest.approx(_epps_pulley_reference(x, 3.0, 17), rel=1e-10)


def test_epps_pulley_exact_for_point_mass_at_zero():
    # all samples 0: φ̂ ≡ 1, so T = N ∫ (1 − e^{−t²/2})² e^{−t²/2} dt; as t_max → ∞ the integral is
    # √(2π) (1 − 2/√2 + 1/√3). Fine knots approximate it closely.
    n = 4
    got = epps_pulley(torch.zeros(n, 1, dtype=torch.float64), t_max=12.0, num_knots=4001).item()
    exact = n * math.sqrt(2 * math.pi) * (1 - 2 / math.sqrt(2) + 1 / math.sqrt(3))
    assert got == pytest.approx(exact, rel=1e-6)


def test_sigreg_prefers_gaussian_over_collapsed():
    g = torch.Generator().manual_seed(0)
    gaussian = torch.randn(512, 16, generator=g)
    collapsed = torch.zeros(512, 16) + 0.01 * torch.randn(512, 16, generator=g)
    a = sigreg(gaussian, 64, generator=torch.Generator().manual_seed(1))
    b = sigreg(collapsed, 64, generator=torch.Generator().manual_seed(1))
    assert a.item() < 0.05 * b.item()


def test_sigreg_same_generator_same_value_and_gradient_flows():
    z = torch.randn(64, 8, requires_grad=True)
    a = sigreg(z, 32, generator=torch.Generator().manual_seed(3))
    b = sigreg(z, 32, generator=torch.Generator().manual_seed(3))
    assert a.item() == b.item()
    a.backward()
    assert z.grad is not None and torch.isfinite(z.grad).all()


def test_regularizers_reject_bad_shapes():
    with pytest.raises(ValueError, match=r"\(N >= 2, D\)"):
        vicreg_variance(torch.zeros(1, 4))
    with pytest.raises(ValueError):
        sigreg(torch.zeros(3, 4, 5))
