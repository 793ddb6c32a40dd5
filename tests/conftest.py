"""Fixtures for every test.

Tests compute in fp32 on every machine: "auto" precision (monde.precision) would mean bf16 on a
CPU with AMX and fp32 on one without, so numbers a test compares would depend on the CPU. Here
"auto" resolves as on hardware without native bf16; a test that wants bf16 asks for it
(`precision="bf16"`), and tests/unit/test_precision.py checks the real rule with mocked probes.
Subprocesses (torchrun, `python -m monde.cli`) do not see this fixture: the configs they are
given ask for fp32 explicitly (tests/smoke/conftest.py).
"""

import os
import socket

import pytest

import monde.precision


@pytest.fixture(autouse=True)
def _auto_precision_is_fp32(monkeypatch):
    no_bf16 = monde.precision.Bf16Support(False, "tests: auto means fp32 on every machine")
    monkeypatch.setattr(monde.precision, "bf16_support", lambda device: no_bf16)


@pytest.fixture(scope="session")
def loopback_gloo():
    """Process groups of the tests on the loopback interface, not this host's name.

    gloo (GLOO_SOCKET_IFNAME) and torchrun's node address (PET_LOCAL_ADDR, its --local-addr;
    MASTER_ADDR follows) are otherwise found from the hostname, which a CI image may not
    resolve: the workers then never meet. Set for the test process and so inherited by the
    workers it spawns and the torchrun it runs; a value already set is left as it is. Library
    code (monde.train.distributed) is unchanged: users keep torch's defaults.
    """
    names = {name for _, name in socket.if_nameindex()}
    loopback = next((name for name in ("lo", "lo0") if name in names), None)
    with pytest.MonkeyPatch.context() as patch:
        if loopback is not None and "GLOO_SOCKET_IFNAME" not in os.environ:
            patch.setenv("GLOO_SOCKET_IFNAME", loopback)
        if "PET_LOCAL_ADDR" not in os.environ:
            patch.setenv("PET_LOCAL_ADDR", "127.0.0.1")
        yield
