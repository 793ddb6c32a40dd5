"""The report's description of the plan settings comes from the configured solver's registry
entry (its own config class), whatever the solver."""

from __future__ import annotations

from dataclasses import dataclass, field

from monde.config import RunConfig
from monde.config_io import from_dict
from monde.report.planned import describe_settings, plan_settings


@dataclass
class Inner:
    lr: float = 0.1
    betas: tuple[float, float] = (0.9, 0.999)


@dataclass
class Outer:
    samples: int = 4
    inner: Inner = field(default_factory=Inner)
    adapt: bool = True


def test_describe_settings_lists_fields_in_order_nested_in_brackets():
    assert describe_settings(Outer()) == "samples 4, inner (lr 0.1, betas (0.9, 0.999)), adapt True"


def test_plan_settings_describe_the_configured_solver():
    cem = plan_settings(from_dict(RunConfig, {"plan": {"solver": "cem", "receding": 1}}))
    assert cem.startswith("solver cem (CEMConfig: samples ")
    assert cem.endswith("), horizon 5 model steps, replanning every model step")
    mppi = plan_settings(from_dict(RunConfig, {"plan": {"solver": "mppi", "receding": 2}}))
    assert mppi.startswith("solver mppi (MPPIConfig: samples ") and "temperature" in mppi
    assert "CEM" not in mppi and mppi.endswith("replanning every 2 model steps")


def test_plan_settings_show_the_solver_options_section():
    cfg = from_dict(RunConfig, {"plan": {"solver": "mppi", "solver_options": {"temperature": 0.5}}})
    assert "temperature 0.5" in plan_settings(cfg)
