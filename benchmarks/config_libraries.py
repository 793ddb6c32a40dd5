"""Config libraries measured against monde.config_io on the same cases (issue 20, item 7).

    python3 -m venv /tmp/cfgvenv
    /tmp/cfgvenv/bin/pip install pydantic omegaconf tyro pyyaml pytest   # no torch needed
    nice /tmp/cfgvenv/bin/python benchmarks/config_libraries.py          # measure, write the JSON
    /tmp/cfgvenv/bin/python benchmarks/config_libraries.py --render      # Markdown from the JSON

The reference is monde/config_io.py as it is now: since commit 09b92b2 a thin layer over
pydantic v2 in strict JSON mode (the port of the `pydantic strict` adapter below, with what that
adapter dropped kept). Beside it: the home-made config_io it replaced, read from git at commit
1044134 (its last version: the code this comparison was first made against, and what the port
removed), and each candidate, a minimal adapter written below that gives Monde's config API
(`ConfigError`, `from_dict`, `to_dict`, `apply_overrides`, `load_config`, `save_config`) on top
of a library: pydantic v2 (`TypeAdapter` over the existing dataclasses, in lax mode; a failing
check is blamed on the file or on the first override after which it fails, as config_io does),
pydantic plus the suggestion that pydantic lacks (difflib), the same in strict JSON mode (types
as strict as config_io's), OmegaConf structured configs, and tyro (the command line only; files
stay with config_io, since tyro reads none). Every adapter runs the same cases on Monde's real
`RunConfig` and real presets from configs/ (copied to a temporary folder, some with one typo
made): a preset with a two-level `base:` chain, every preset, an unknown key (is the close key
suggested?), wrong types (is the file named, the dotted key?), a Literal violation, a
`__post_init__` check, dotted overrides from the command line (good, unknown, of the wrong type,
failing a check), and saving the resolved config and loading it back. A result counts as
working when it equals what config_io gives.

Lines of code are counted as logical source lines (no blank lines, comments or docstrings) of
config_io.py (now and before the port) and of each adapter with the shared helpers it uses; the
tyro total is today's config_io less the parts tyro replaces plus its glue. config_io's own
unit tests (tests/unit/test_config_io.py) are also run against each adapter (needs pytest), which
shows which of its promised messages and checks survive. Candidates whose package is not
installed are skipped; nothing here runs in the test suite.

Writes benchmarks/results/config_libraries.json.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import dataclasses
import difflib
import functools
import hashlib
import importlib
import importlib.metadata
import inspect
import io
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tokenize
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monde import config_io  # noqa: E402
from monde.config import RunConfig  # noqa: E402
from monde.io import atomic_write_json, atomic_write_text  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "config_libraries.json"
CONFIG_IO = ROOT / "monde" / "config_io.py"
HOME_MADE_COMMIT = "1044134"  # config_io's last home-made version (09b92b2 ported it to pydantic)


@functools.cache
def home_made_source() -> str | None:
    """monde/config_io.py at HOME_MADE_COMMIT (None without git or that commit)."""
    try:
        return subprocess.run(
            ["git", "show", f"{HOME_MADE_COMMIT}:monde/config_io.py"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None


@functools.cache
def home_made() -> types.ModuleType:
    """The home-made config_io, imported from its source at HOME_MADE_COMMIT."""
    name = "config_io_home_made"
    module = types.ModuleType(name)
    sys.modules[name] = module  # dataclasses in it look their module up
    code = compile(home_made_source(), f"{HOME_MADE_COMMIT}:monde/config_io.py", "exec")
    exec(code, module.__dict__)  # noqa: S102 - this repository's own code, from its history
    return module


# ============================================================================= shared helpers
# Used by the adapters (each adapter's line count includes the helpers it uses).


class ConfigError(ValueError):
    """A config file, dict or override does not match the config dataclasses."""


def read_yaml_with_bases(
    path: Path, chain: tuple[Path, ...] = (), loader: type = yaml.SafeLoader
) -> dict:
    """The YAML mapping of `path`, merged over its `base:` chain (relative to the file)."""
    path = Path(path)
    if path.resolve() in chain:
        raise ConfigError(f"config files inherit from each other in a cycle: {path}")
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"config file {path} is not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must contain a mapping, got {data!r}")
    base = data.pop("base", None)
    if base is None:
        return data
    chain = (*chain, path.resolve())
    return deep_merge(read_yaml_with_bases(path.parent / base, chain, loader), data)


def deep_merge(base: Mapping, child: Mapping) -> dict:
    """Recursive merge of plain mappings; `child` wins."""
    merged = dict(base)
    for key, value in child.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            value = deep_merge(merged[key], value)
        merged[key] = value
    return merged


def dotted_to_nested(overrides: Sequence[str], source: str, loader: type = yaml.SafeLoader) -> dict:
    """`["a.b=1"]` → `{"a": {"b": 1}}`, values parsed as YAML."""
    nested: dict = {}
    for item in [overrides] if isinstance(overrides, str) else overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"malformed override {item!r} in {source}; expected KEY=VALUE")
        *parents, leaf = key.strip().split(".")
        node = nested
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = yaml.load(raw, Loader=loader) if raw.strip() else ""
    return nested


def save_yaml(data: dict, path: str | Path) -> None:
    """Plain YAML, keys in order, written atomically."""
    atomic_write_text(path, yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


# ============================================================================= adapters


class PydanticAdapter:
    """pydantic v2: TypeAdapter over the unchanged dataclasses, extra keys forbidden, lax mode
    (strict mode refuses the lists YAML gives for tuples and the strings it gives for 1e-3)."""

    requires = ("pydantic",)
    helpers = (ConfigError, read_yaml_with_bases, deep_merge, dotted_to_nested, save_yaml)
    loader: type = yaml.SafeLoader

    @staticmethod
    @functools.cache
    def _adapter(cls: type) -> Any:
        from pydantic import ConfigDict, TypeAdapter

        def forbid_extra(tp: Any) -> None:  # a port would write this line into each class
            for sub in (tp, *typing.get_args(tp)):
                if dataclasses.is_dataclass(sub) and "__pydantic_config__" not in vars(sub):
                    sub.__pydantic_config__ = ConfigDict(extra="forbid")
                    for hint in typing.get_type_hints(sub).values():
                        forbid_extra(hint)

        forbid_extra(cls)
        return TypeAdapter(cls)

    @classmethod
    def _error(cls, err: Exception, source: str, schema: type) -> ConfigError:
        from pydantic import ValidationError

        if not isinstance(err, ValidationError):
            return ConfigError(f"{source}: {err}")
        parts = [
            str(e["ctx"]["error"])  # a __post_init__ check: its own message names the key
            if e["type"] == "value_error"
            else f"'{'.'.join(map(str, e['loc']))}': {e['msg']}, got {e['input']!r}"
            + cls._hint(e, schema)
            for e in err.errors()
        ]
        return ConfigError(f"{source}: {'; '.join(parts)}")

    @staticmethod
    def _hint(error: dict, schema: type) -> str:
        return ""

    @classmethod
    def from_dict(cls, schema: type, data: Mapping, *, source: str = "<dict>") -> Any:
        try:
            return cls._adapter(schema).validate_python(data)
        except ValueError as err:  # pydantic's ValidationError is a ValueError
            raise cls._error(err, source, schema) from None

    @classmethod
    def to_dict(cls, obj: Any) -> Any:
        return cls._adapter(type(obj)).dump_python(obj, mode="json")

    @classmethod
    def apply_overrides(
        cls, data: dict, overrides: Sequence[str], schema: type, *, source: str = "command line"
    ) -> dict:
        merged = deep_merge(data, dotted_to_nested(overrides, source, cls.loader))
        cls.from_dict(schema, merged, source=source)  # check now, name the command line
        return merged

    @classmethod
    def load_config(cls, schema: type, path: Any = None, overrides: Sequence[str] = ()) -> Any:
        data = read_yaml_with_bases(Path(path), loader=cls.loader) if path is not None else {}
        source = str(path) if path is not None else "<defaults>"
        try:
            return cls.from_dict(schema, cls._merge(data, overrides), source=source)
        except ConfigError as err:
            cls.from_dict(schema, data, source=source)  # the file alone fails too: name it
            for count in range(1, len(overrides) + 1):  # else the first override that fails
                try:
                    cls.from_dict(schema, cls._merge(data, overrides[:count]), source=source)
                except ConfigError:
                    blame = f"command line override {overrides[count - 1]!r}"
                    raise ConfigError(blame + str(err).removeprefix(source)) from None
            raise

    @classmethod
    def _merge(cls, data: dict, overrides: Sequence[str]) -> dict:
        return deep_merge(data, dotted_to_nested(overrides, "command line", cls.loader))

    @classmethod
    def save_config(cls, obj: Any, path: str | Path) -> None:
        save_yaml(cls.to_dict(obj), path)


class PydanticSuggestAdapter(PydanticAdapter):
    """pydantic as above plus what it lacks: a difflib suggestion for an unknown key."""

    @staticmethod
    def _hint(error: dict, schema: type) -> str:
        if error["type"] != "unexpected_keyword_argument":
            return ""
        section = schema
        for part in error["loc"][:-1]:  # down to the section holding the unknown key
            hint = typing.get_type_hints(section)[part]
            section = next(t for t in (hint, *typing.get_args(hint)) if isinstance(t, type))
        valid = [f.name for f in dataclasses.fields(section)]
        close = difflib.get_close_matches(str(error["loc"][-1]), valid, n=1)
        return f"; did you mean '{close[0]}'?" if close else ""


def float_loader() -> type:
    """PyYAML's safe loader that also reads 1e-3 and 1.0e3 as floats (YAML 1.2 does; PyYAML's
    YAML 1.1 rules read them as strings, which config_io converts for float fields)."""

    class FloatLoader(yaml.SafeLoader):
        pass

    FloatLoader.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
        list("-+0123456789"),
    )
    return FloatLoader


class PydanticStrictAdapter(PydanticSuggestAdapter):
    """pydantic with the difflib hint, validating in strict JSON mode: no quoted numbers for ints,
    no 0/1 or strings for bools, as config_io (strict Python mode refuses a dict for a dataclass;
    JSON mode takes lists for tuples and ints for floats); YAML is read by float_loader()."""

    helpers = (*PydanticAdapter.helpers, float_loader)
    loader = float_loader()

    @classmethod
    def from_dict(cls, schema: type, data: Mapping, *, source: str = "<dict>") -> Any:
        try:
            return cls._adapter(schema).validate_json(json.dumps(data), strict=True)
        except ValueError as err:
            raise cls._error(err, source, schema) from None


class OmegaConfAdapter:
    """OmegaConf structured configs: the dataclasses are the schema, merges check keys and
    types, `from_dotlist` gives the dotted overrides; `base:` is not OmegaConf's (Hydra's
    defaults lists are), so it is read here."""

    requires = ("omegaconf",)
    helpers = (ConfigError,)

    @staticmethod
    def _error(err: Exception, source: str) -> ConfigError:
        key = getattr(err, "full_key", None)
        where = f"'{key}': " if key else ""
        return ConfigError(f"{source}: {where}{str(err).splitlines()[0]}")

    @staticmethod
    def _read(path: Path, chain: tuple[Path, ...] = ()) -> Any:
        from omegaconf import OmegaConf

        if path.resolve() in chain or not path.is_file():
            raise ConfigError(f"config file not found or in a cycle of bases: {path}")
        node = OmegaConf.load(path)
        base = node.pop("base", None)
        if base is None:
            return node
        return OmegaConf.merge(
            OmegaConfAdapter._read(path.parent / base, (*chain, path.resolve())), node
        )

    @classmethod
    def from_dict(cls, schema: type, data: Mapping, *, source: str = "<dict>") -> Any:
        from omegaconf import OmegaConf

        try:
            return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(schema), data))
        except Exception as err:  # OmegaConf's errors, and ValueError from __post_init__
            raise cls._error(err, source) from None

    @staticmethod
    def to_dict(obj: Any) -> Any:
        from omegaconf import OmegaConf

        return OmegaConf.to_container(OmegaConf.structured(obj))

    @classmethod
    def apply_overrides(
        cls, data: dict, overrides: Sequence[str], schema: type, *, source: str = "command line"
    ) -> dict:
        from omegaconf import OmegaConf

        try:
            merged = OmegaConf.merge(
                OmegaConf.structured(schema), data, OmegaConf.from_dotlist(list(overrides))
            )
        except Exception as err:
            raise cls._error(err, source) from None
        return OmegaConf.to_container(merged)

    @classmethod
    def load_config(cls, schema: type, path: Any = None, overrides: Sequence[str] = ()) -> Any:
        from omegaconf import OmegaConf

        source = str(path) if path is not None else "<defaults>"
        file_node = OmegaConf.structured(schema)
        try:
            if path is not None:
                file_node = OmegaConf.merge(file_node, cls._read(Path(path)))
        except Exception as err:
            raise cls._error(err, source) from None
        try:
            node = OmegaConf.merge(file_node, OmegaConf.from_dotlist(list(overrides)))
        except Exception as err:
            raise cls._error(err, "command line") from None
        try:
            return OmegaConf.to_object(node)
        except Exception as err:  # __post_init__ checks run here: blame the file if it fails
            try:
                OmegaConf.to_object(file_node)
            except Exception:
                raise cls._error(err, source) from None
            raise cls._error(err, "command line") from None

    @staticmethod
    def save_config(obj: Any, path: str | Path) -> None:
        from omegaconf import OmegaConf

        atomic_write_text(path, OmegaConf.to_yaml(OmegaConf.structured(obj)))


class TyroAdapter:
    """tyro for the command line (`a.b=c` → `--a.b c`); files, types and saving stay with
    config_io, since tyro reads no files. Counted as config_io less what tyro replaces."""

    requires = ("tyro",)
    helpers = (ConfigError,)
    replaces = (  # config_io's top-level definitions that tyro makes unnecessary
        "_candidates",
        "apply_overrides",
        "load_config",
        "_blame",
    )
    from_dict = staticmethod(config_io.from_dict)
    to_dict = staticmethod(config_io.to_dict)
    save_config = staticmethod(config_io.save_config)

    @staticmethod
    def _cli(schema: type, default: Any, overrides: Sequence[str]) -> Any:
        import tyro

        args = []
        for item in [overrides] if isinstance(overrides, str) else overrides:
            key, _, raw = item.partition("=")
            value = yaml.safe_load(raw) if raw.strip() else ""
            args += [f"--{key}", *(map(str, value) if isinstance(value, list) else [raw])]
        out = io.StringIO()
        try:
            with contextlib.redirect_stderr(out), contextlib.redirect_stdout(out):
                return tyro.cli(schema, args=args, default=default, use_underscores=True)
        except SystemExit:
            lines = [line.strip(" │╭╮╰╯─") for line in out.getvalue().splitlines()]
            text = " ".join(line for line in lines if line.strip("-"))
            raise ConfigError(f"command line: {' '.join(text.split())}") from None

    @classmethod
    def apply_overrides(
        cls, data: dict, overrides: Sequence[str], schema: type, *, source: str = "command line"
    ) -> dict:
        return config_io.to_dict(cls._cli(schema, config_io.from_dict(schema, data), overrides))

    @classmethod
    def load_config(cls, schema: type, path: Any = None, overrides: Sequence[str] = ()) -> Any:
        if path is None:
            return cls._cli(schema, schema(), overrides)
        data = config_io._load_yaml_with_bases(Path(path), use_base=True)  # kept from config_io
        return cls._cli(schema, config_io.from_dict(schema, data, source=str(path)), overrides)


class ConfigIOAdapter:
    """Monde's own: monde/config_io.py as it is now (on pydantic since 09b92b2)."""

    requires = ()
    imports = "pydantic"  # on the first validation, not with the module
    helpers = ()
    from_dict = staticmethod(config_io.from_dict)
    to_dict = staticmethod(config_io.to_dict)
    apply_overrides = staticmethod(config_io.apply_overrides)
    load_config = staticmethod(config_io.load_config)
    save_config = staticmethod(config_io.save_config)


class HomeMadeAdapter:
    """The home-made config_io before the port to pydantic: monde/config_io.py at commit
    HOME_MADE_COMMIT (its own type conversion, suggestions and blame; PyYAML only)."""

    requires = ()
    helpers = ()

    @staticmethod
    def from_dict(*args: Any, **kwargs: Any) -> Any:
        return home_made().from_dict(*args, **kwargs)

    @staticmethod
    def to_dict(obj: Any) -> Any:
        return home_made().to_dict(obj)

    @staticmethod
    def apply_overrides(*args: Any, **kwargs: Any) -> Any:
        return home_made().apply_overrides(*args, **kwargs)

    @staticmethod
    def load_config(*args: Any, **kwargs: Any) -> Any:
        return home_made().load_config(*args, **kwargs)

    @staticmethod
    def save_config(obj: Any, path: str | Path) -> None:
        home_made().save_config(obj, path)


CANDIDATES: dict[str, type] = {
    "config_io": ConfigIOAdapter,
    "home-made config_io": HomeMadeAdapter,
    "pydantic": PydanticAdapter,
    "pydantic+difflib": PydanticSuggestAdapter,
    "pydantic strict": PydanticStrictAdapter,
    "omegaconf": OmegaConfAdapter,
    "tyro": TyroAdapter,
}
PACKAGES = ("pyyaml", "pydantic", "pydantic-core", "omegaconf", "tyro", "pytest")


# ============================================================================= line counts


def sloc(source: str) -> int:
    """Logical source lines: lines holding code, not blank, comment or docstring lines."""
    tree = ast.parse(source)
    docstring_lines: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            value = body[0].value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                docstring_lines.update(range(body[0].lineno, body[0].end_lineno + 1))
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT}
    code_lines: set[int] = set()
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type not in skip and tok.type != tokenize.ENDMARKER:
            code_lines.update(range(tok.start[0], tok.end[0] + 1))
    return len(code_lines - docstring_lines)


def _dedent(obj: Any) -> str:
    import textwrap

    return textwrap.dedent(inspect.getsource(obj))


def config_io_defs_sloc(names: Sequence[str]) -> int:
    """Logical lines of the named top-level definitions (functions, classes, assignments)."""
    source = CONFIG_IO.read_text(encoding="utf-8")
    tree = ast.parse(source)
    lines = source.splitlines()
    total = 0
    for node in tree.body:
        targets = []
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            targets = [node.name]
        elif isinstance(node, ast.Assign):
            targets = [t.id for t in node.targets if isinstance(t, ast.Name)]
        if set(targets) & set(names):
            start = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
            total += sloc("\n".join(lines[start - 1 : node.end_lineno]))
    return total


def line_counts(name: str, adapter: type) -> dict:
    config_io_source = CONFIG_IO.read_text(encoding="utf-8")
    base = {
        "config_io_physical": len(config_io_source.splitlines()),
        "config_io_sloc": sloc(config_io_source),
    }
    if name == "config_io":
        return {**base, "total_sloc": base["config_io_sloc"], "adapter_sloc": 0}
    if adapter is HomeMadeAdapter:  # its own source, whole
        source = home_made_source()
        own = {"physical": len(source.splitlines()), "sloc": sloc(source)}
        return {**base, "home_made": own, "total_sloc": own["sloc"], "adapter_sloc": 0}
    classes = [c for c in adapter.__mro__ if c is not object]  # a subclass counts its parents
    adapter_sloc = sum(sloc(_dedent(c)) for c in classes)
    adapter_sloc += sum(sloc(_dedent(h)) for h in adapter.helpers)
    kept = base["config_io_sloc"] - config_io_defs_sloc(getattr(adapter, "replaces", ()))
    kept = kept if hasattr(adapter, "replaces") else 0
    return {
        **base,
        "adapter_sloc": adapter_sloc,
        "config_io_kept_sloc": kept,
        "total_sloc": adapter_sloc + kept,
    }


# ============================================================================= cases


@dataclasses.dataclass
class Case:
    id: str
    what: str
    path: str | None  # relative to the copied configs/ folder
    overrides: list[str] = dataclasses.field(default_factory=list)
    edit: tuple[str, str] | None = None  # (old, new) text replaced once in a copy of `path`
    expect: str = "loads"  # "loads" | "error"
    key: str | None = None  # dotted key the error must name
    close_key: str | None = None  # the key an unknown-key error should suggest
    value: str | None = None  # the wrong value the error should show
    source: str | None = None  # "file" | "command line": what the error should name
    group: str = "issue"  # "issue": the kinds issue 20 names; "extra": strictness and checks


CASES = [
    Case(
        "base_chain",
        "a preset inheriting over two levels of `base:` loads as config_io does",
        "bench/two_room_quick.yaml",
    ),
    Case(
        "unknown_key_file",
        "a typo in a preset's key",
        "push_t.yaml",
        edit=("time_similarity_weight:", "time_similarity_wieght:"),
        expect="error",
        key="train.time_similarity_wieght",
        close_key="time_similarity_weight",
        source="file",
    ),
    Case(
        "wrong_type_file",
        "a string where an int belongs",
        "point_maze.yaml",
        edit=("steps: 3000", "steps: 3k"),
        expect="error",
        key="train.steps",
        value="3k",
        source="file",
    ),
    Case(
        "fractional_int_file",
        "a fractional number where an int belongs",
        "reacher.yaml",
        edit=("steps: 3000", "steps: 3000.5"),
        expect="error",
        key="train.steps",
        value="3000.5",
        source="file",
    ),
    Case(
        "int_for_bool_file",
        "an int where a bool belongs (config_io refuses it)",
        "bench/point_maze_full.yaml",
        edit=("compile: true", "compile: 2"),
        expect="error",
        key="train.compile",
        value="2",
        source="file",
    ),
    Case(
        "quoted_int_file",
        "a quoted number where an int belongs (config_io refuses; lax libraries convert it)",
        "point_maze.yaml",
        edit=("steps: 3000", 'steps: "3000"'),
        expect="error",
        key="train.steps",
        value="3000",
        source="file",
        group="extra",
    ),
    Case(
        "literal_file",
        "a value outside a Literal",
        "two_room.yaml",
        edit=("regularizer: vicreg", "regularizer: vicrag"),
        expect="error",
        key="train.regularizer",
        value="vicrag",
        source="file",
    ),
    Case(
        "post_init_file",
        "a value failing a __post_init__ check (topk > samples)",
        "two_room.yaml",
        edit=("topk: 30", "topk: 500"),
        expect="error",
        key="plan.topk",
        source="file",
        group="extra",
    ),
    Case(
        "overrides",
        "dotted overrides of every kind: float, tuple, Literal, registry name, new dict key, "
        "nested dict key",
        "point_maze.yaml",
        overrides=[
            "train.lr=3e-4",
            "model.encoder_channels=[16, 32]",
            "plan.metric=cosine",
            "plan.solver=icem",
            "plan.proprio_weights.vx=0",
            "env.options.maze=medium",
            "eval.episodes=10",
        ],
    ),
    Case(
        "override_unknown",
        "a typo in an override's key",
        "two_room.yaml",
        overrides=["train.lrr=3e-4"],
        expect="error",
        key="train.lrr",
        close_key="lr",
        source="command line",
    ),
    Case(
        "override_wrong_type",
        "an override of the wrong type",
        "two_room.yaml",
        overrides=["train.steps=lots"],
        expect="error",
        key="train.steps",
        value="lots",
        source="command line",
    ),
    Case(
        "override_post_init",
        "an override failing a __post_init__ check",
        "two_room.yaml",
        overrides=["plan.topk=500"],
        expect="error",
        key="plan.topk",
        source="command line",
        group="extra",
    ),
    Case(
        "override_fixes_file",
        "an override that makes a failing preset valid (topk 500 in the "
        "file, plan.samples=1000 on the command line) loads",
        "two_room.yaml",
        edit=("topk: 30", "topk: 500"),
        overrides=["plan.samples=1000"],
        group="extra",
    ),
    Case(
        "save_resolved",
        "the resolved config saved as YAML and loaded back equals it",
        "point_maze.yaml",
        overrides=["train.lr=3e-4", "model.encoder_channels=[16, 32]"],
    ),
]


def _suggests(message: str, close_key: str) -> bool:
    marker = re.search(r"did you mean|perhaps you meant|similar", message, re.IGNORECASE)
    return bool(marker) and close_key in message[marker.start() :]


def run_case(adapter: type, case: Case, configs: Path, work: Path) -> dict:
    """One case on one adapter; the result records outcome, message and what it names."""
    path = configs / case.path if case.path else None
    if case.edit is not None:
        text = path.read_text(encoding="utf-8")
        assert case.edit[0] in text, (case.id, case.edit)
        path = path.with_name(f"edited_{case.id}_{path.name}")
        path.write_text(text.replace(case.edit[0], case.edit[1], 1), encoding="utf-8")
    row: dict[str, Any] = {}
    try:
        try:
            cfg = adapter.load_config(RunConfig, path, case.overrides)
            row["outcome"] = "loads"
        except Exception as err:  # noqa: BLE001 - the message is the measurement
            cfg = None
            message = str(err).replace(str(configs), "configs")  # the temporary copy
            row.update(outcome="error", error_type=type(err).__name__, message=message)
        if cfg is not None:
            try:
                row["equals_config_io"] = cfg == config_io.load_config(
                    RunConfig, path, case.overrides
                )
            except config_io.ConfigError:
                row["equals_config_io"] = False  # config_io refuses what this one accepted
        if cfg is not None and case.id == "save_resolved":
            saved = work / f"{adapter.__name__}.yaml"
            adapter.save_config(cfg, saved)
            text = saved.read_text(encoding="utf-8")
            row["saved_yaml"] = text
            row["round_trip"] = adapter.load_config(RunConfig, saved) == cfg
            row["saved_equals_config_io"] = yaml.safe_load(text) == config_io.to_dict(cfg)
            row["config_io_reads_saved"] = config_io.load_config(RunConfig, saved) == cfg
    finally:
        if case.edit is not None:
            path.unlink()
    if row["outcome"] == "error":
        message = row["message"]
        if case.source == "file":
            row["names_source"] = path.name in message
        elif case.source == "command line":
            row["names_source"] = "command line" in message
        if case.key:
            row["names_key"] = case.key in message
        if case.close_key:
            row["suggests"] = _suggests(message, case.close_key)
        if case.value:
            row["shows_value"] = case.value in message
        row["one_line"] = "\n" not in message.strip()
    row["works"] = _works(case, row)
    return row


def _works(case: Case, row: dict) -> bool:
    """Loads equal to config_io's (and round-trips), or an error naming what config_io names."""
    if case.expect == "loads":
        return row["outcome"] == "loads" and row["equals_config_io"] and row.get("round_trip", 1)
    checks = ("names_source", "names_key", "suggests", "shows_value")
    return row["outcome"] == "error" and all(row.get(c, True) for c in checks)


def all_presets(adapter: type, configs: Path) -> dict:
    """Every preset of configs/ loaded by the adapter, compared with config_io's result."""
    rows = {}
    for path in sorted(configs.rglob("*.yaml")):
        name = str(path.relative_to(configs))
        try:
            same = adapter.load_config(RunConfig, path) == config_io.load_config(RunConfig, path)
            rows[name] = "same" if same else "differs"
        except Exception as err:  # noqa: BLE001
            rows[name] = f"error: {err}"
    return {"same": sum(v == "same" for v in rows.values()), "of": len(rows), "presets": rows}


def load_ms(adapter: type, configs: Path, repeats: int = 15) -> float:
    """Median milliseconds of one load of a preset with a `base:` and two overrides."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        adapter.load_config(RunConfig, configs / "point_maze.yaml", ["train.lr=3e-4"])
        times.append(time.perf_counter() - start)
    return round(1000 * statistics.median(times), 2)


def import_s(module: str, repeats: int = 5) -> float | None:
    """Median seconds to import `module` in a fresh interpreter (what the CLI would pay)."""
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    times = []
    for _ in range(repeats):
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        if done.returncode:
            return None
        times.append(float(done.stdout))
    return round(statistics.median(times), 4)


_SHIM = """
import sys, types, importlib.util
spec = importlib.util.spec_from_file_location("config_libraries", {script!r})
lib = importlib.util.module_from_spec(spec); sys.modules["config_libraries"] = lib
spec.loader.exec_module(lib)
adapter = lib.CANDIDATES[{name!r}]
shim = types.ModuleType("monde.config_io")
shim.ConfigError = lib.error_type(adapter)
for verb in ("from_dict", "to_dict", "apply_overrides", "load_config", "save_config"):
    setattr(shim, verb, getattr(adapter, verb))
sys.modules["monde.config_io"] = shim
import pytest
args = ["-q", "-p", "no:cacheprovider", "--noconftest", "-o", "addopts=", {test!r},
        "--junitxml", {xml!r}]
sys.exit(pytest.main(args))  # --noconftest: tests/conftest.py imports torch
"""


def error_type(adapter: type) -> type | tuple[type, ...]:
    """What the adapter raises for a bad config (config_io's unit tests expect it)."""
    if adapter is TyroAdapter:  # tyro's own errors, and config_io's for the file
        return (ConfigError, config_io.ConfigError)
    if adapter is HomeMadeAdapter:
        return home_made().ConfigError
    return config_io.ConfigError if adapter is ConfigIOAdapter else ConfigError


def unit_tests(name: str) -> dict | None:
    """config_io's own unit tests run against the adapter in place of monde.config_io; each
    failure keeps the first line of its reason."""
    if importlib.util.find_spec("pytest") is None:
        return None
    test = ROOT / "tests" / "unit" / "test_config_io.py"
    with tempfile.TemporaryDirectory() as tmp:
        xml = Path(tmp) / "report.xml"
        code = _SHIM.format(
            script=str(Path(__file__).resolve()), name=name, test=str(test), xml=str(xml)
        )
        subprocess.run([sys.executable, "-c", code], capture_output=True, cwd=ROOT, timeout=300)
        cases = ElementTree.parse(xml).getroot().iter("testcase")
        outcomes = {}
        for case in cases:
            problem = case.find("failure")
            problem = case.find("error") if problem is None else problem
            reason = None if problem is None else problem.get("message", "").splitlines()
            outcomes[case.get("name")] = (
                (reason[0] if reason else "failed")[:300] if (reason is not None) else None
            )
    failed = {test: reason for test, reason in outcomes.items() if reason is not None}
    return {"passed": len(outcomes) - len(failed), "failed": len(failed), "failed_tests": failed}


# ============================================================================= run and render


def _imports(adapter: type) -> str | None:
    """The library module an adapter imports (None: PyYAML only)."""
    return getattr(adapter, "imports", adapter.requires[0] if adapter.requires else None)


def _versions() -> dict:
    versions = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def _commit() -> str | None:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    dirty = subprocess.run(
        [
            "git",
            "status",
            "--porcelain",
            "--untracked-files=no",
            "--",
            "monde/config_io.py",
            "monde/config.py",
            "configs",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout.strip()
    return commit + ("-dirty" if dirty else "")


def measure() -> dict:
    load_before = os.getloadavg()
    versions = _versions()
    candidates: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        configs = Path(tmp) / "configs"
        shutil.copytree(ROOT / "configs", configs, ignore=shutil.ignore_patterns("*.md"))
        for name, adapter in CANDIDATES.items():
            missing = [m for m in adapter.requires if importlib.util.find_spec(m) is None]
            if adapter is HomeMadeAdapter and home_made_source() is None:
                missing = [f"git history ({HOME_MADE_COMMIT}:monde/config_io.py)"]
            if missing:
                candidates[name] = {"available": False, "missing": missing}
                print(f"{name}: skipped, not installed: {', '.join(missing)}")
                continue
            results = {case.id: run_case(adapter, case, configs, Path(tmp)) for case in CASES}
            candidates[name] = {
                "available": True,
                "doc": inspect.getdoc(adapter),
                "lines": line_counts(name, adapter),
                "cases": results,
                "cases_working": {
                    group: sum(results[c.id]["works"] for c in CASES if c.group == group)
                    for group in ("issue", "extra")
                },
                "all_presets": all_presets(adapter, configs),
                "load_ms": load_ms(adapter, configs),
                "import_s": import_s(imports) if (imports := _imports(adapter)) else None,
                "unit_tests": unit_tests(name),
            }
            print(f"{name}: cases that work {candidates[name]['cases_working']}")
    return {
        "generated_by": "benchmarks/config_libraries.py",
        "commit": _commit(),
        "config_io_sha256": hashlib.sha256(CONFIG_IO.read_bytes()).hexdigest()[:16],
        "home_made_commit": HOME_MADE_COMMIT,
        # the machine is shared (1 / 5 / 15 min load averages): the timings vary with its load
        "load_average_before": list(load_before),
        "load_average_after": list(os.getloadavg()),
        "versions": versions,
        "import_s_yaml": import_s("yaml"),
        "cases": [dataclasses.asdict(case) for case in CASES],
        "candidates": candidates,
    }


def _mark(value: Any) -> str:
    return {True: "yes", False: "**no**"}.get(value, str(value))


def _cell(case: dict, r: dict) -> str:
    if r["outcome"] == "loads" and case["expect"] == "loads":
        return "works" if r["works"] else "**loads, differs**"
    if r["outcome"] == "loads":
        return "**accepted silently**"
    if case["expect"] == "loads":
        return "**fails**: " + r["message"][:70].replace("|", "/") + "…"
    named = [
        f"{label} {_mark(r[key])}"
        for key, label in (
            ("names_source", "source"),
            ("names_key", "key"),
            ("suggests", "suggestion"),
            ("shows_value", "value"),
        )
        if key in r
    ]
    return ("error" if r["works"] else "**error**") + ": " + ", ".join(named)


def _tests_cell(candidate: dict) -> str:
    tests = candidate["unit_tests"]
    return f"{tests['passed']}/{tests['passed'] + tests['failed']}" if tests else "–"


def _count(group: str, total: int) -> Any:
    return lambda c: f"{c['cases_working'][group]}/{total}"


def _load_text(results: dict) -> str:
    """The shared machine's 1-minute load average around the measurement, if recorded."""
    if "load_average_before" not in results:
        return ""
    before, after = results["load_average_before"][0], results["load_average_after"][0]
    return f", on a shared machine of load average {before:.1f} before and {after:.1f} after"


def render(results: dict) -> str:
    """Markdown: per case and candidate, whether it works and what its message names."""
    cands = {n: c for n, c in results["candidates"].items() if c["available"]}
    cases = results["cases"]
    v = results["versions"]
    libs = ", ".join(f"{p} {v[p]}" for p in ("pydantic", "omegaconf", "tyro", "pyyaml") if v[p])
    out = [
        f"Measured by `python {results['generated_by']}` at commit {results['commit']} "
        f"(Python {v['python']}, {libs}){_load_text(results)}; rendered by "
        f"`python {results['generated_by']} --render` from "
        "benchmarks/results/config_libraries.json.",
        "",
        "A case works when the config equals config_io's, or when the error names what "
        "config_io's names (the file or 'command line', the dotted key, the close key for a "
        "typo, the wrong value). *issue*: the kinds issue 20 names; *extra*: strictness and "
        "`__post_init__` checks.",
        "",
        "| case | group | " + " | ".join(cands) + " |",
        "|---|---|" + "---|" * len(cands),
    ]
    for case in cases:
        cells = [_cell(case, c["cases"][case["id"]]) for c in cands.values()]
        out.append(f"| {case['id']} | {case['group']} | " + " | ".join(cells) + " |")
    n_issue = sum(c["group"] == "issue" for c in cases)
    rows = [
        ("issue cases that work", _count("issue", n_issue)),
        ("extra cases that work", _count("extra", len(cases) - n_issue)),
        (
            "presets loaded equal to config_io's",
            lambda c: f"{c['all_presets']['same']}/{c['all_presets']['of']}",
        ),
        ("config_io's unit tests passing", _tests_cell),
        ("logical lines (adapter + config_io kept)", lambda c: str(c["lines"]["total_sloc"])),
        ("one load of a preset with an override, ms", lambda c: str(c["load_ms"])),
        (
            "library import, s (fresh process)",
            lambda c: "–" if c["import_s"] is None else str(c["import_s"]),
        ),
    ]
    for label, fn in rows:
        out.append(f"| *{label}* | | " + " | ".join(fn(c) for c in cands.values()) + " |")
    lines = cands.get("config_io", {}).get("lines")
    if lines:
        out += [
            "",
            f"config_io.py now: {lines['config_io_physical']} lines, {lines['config_io_sloc']} "
            f"logical (no blank, comment or docstring lines); PyYAML imports in "
            f"{results['import_s_yaml']} s.",
        ]
    old = cands.get("home-made config_io", {}).get("lines", {}).get("home_made")
    if old:
        out[-1] += (
            f" The home-made config_io.py before the port (commit "
            f"{results.get('home_made_commit')}): {old['physical']} lines, {old['sloc']} logical."
        )
    out += ["", "Unit tests of config_io failing with each adapter (first line of the reason):", ""]
    for name, c in cands.items():
        failed = (c["unit_tests"] or {}).get("failed_tests", {})
        for test, reason in failed.items():
            out.append(f"- {name}, `{test}`: {reason[:160]}")
    out += ["", "Messages, per error case and candidate:", ""]
    for case in cases:
        if case["expect"] != "error":
            continue
        out.append(f"- `{case['id']}` ({case['what']}):")
        for name, c in cands.items():
            text = c["cases"][case["id"]].get("message", "(loaded without an error)")
            out.append(f"  - {name}: `{text[:240]}`")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--render", action="store_true", help="print Markdown from the JSON")
    args = parser.parse_args(argv)
    if args.render:
        print(render(json.loads(OUT.read_text(encoding="utf-8"))), end="")
        return
    results = measure()
    atomic_write_json(OUT, results)
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
