"""`monde --help` starts fast because the CLI imports its libraries only when a verb runs:
checked by what a fresh interpreter has imported, not by a clock (benchmarks/cli_startup.py
times it)."""

import json
import subprocess
import sys

import monde

HEAVY = ("torch", "zarr", "matplotlib", "gymnasium", "mujoco", "h5py", "scipy", "PIL", "av")
HEAVY += ("pydantic",)  # monde.config_io imports it only when a config is validated


def _imported_after(code: str) -> list[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    modules = json.loads(out.splitlines()[-1])
    return [m for m in HEAVY if m in modules]


def test_building_the_cli_parser_imports_no_heavy_library():
    assert _imported_after("import monde.cli\nmonde.cli.build_parser()") == []


def test_import_monde_is_light_and_its_public_names_still_load():
    assert _imported_after("import monde") == []
    from monde import MPCPlanner, RunConfig, WorldModel, load_model, make_env, save_model

    assert monde.load_model is load_model and monde.save_model is save_model
    assert {MPCPlanner.__name__, RunConfig.__name__, WorldModel.__name__} == {
        "MPCPlanner",
        "RunConfig",
        "WorldModel",
    }
    assert callable(make_env) and set(monde.__all__) <= set(dir(monde))


def test_unknown_names_are_still_attribute_errors():
    try:
        monde.no_such_name  # noqa: B018
    except AttributeError as err:
        assert "no_such_name" in str(err)
    else:
        raise AssertionError("monde.no_such_name should raise AttributeError")
