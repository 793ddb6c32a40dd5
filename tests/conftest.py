"""Fixtures for every test.

Tests compute in fp32 on every machine: "auto" precision (monde.precision) would mean bf16 on a
CPU with AMX and fp32 on one without, so numbers a test compares would depend on the CPU. Here
"auto" resolves as on hardware without native bf16; a test that wants bf16 asks for it
(`precision="bf16"`), and tests/unit/test_precision.py checks the real rule with mocked probes.
Subprocesses (torchrun, `python -m monde.cli`) do not see this fixture: the configs they are
given ask for fp32 explicitly (tests/smoke/conftest.py).
"""

import pytest

import monde.precision


@pytest.fixture(autouse=True)
def _auto_precision_is_fp32(monkeypatch):
    no_bf16 = monde.precision.Bf16Support(False, "tests: auto means fp32 on every machine")
    monkeypatch.setattr(monde.precision, "bf16_support", lambda device: no_bf16)
