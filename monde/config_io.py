"""Typed configs: YAML/dict ↔ nested dataclasses, with dotted overrides, validated by pydantic.

pydantic v2 checks a tree of plain dataclasses (monde.config) in strict JSON mode: no quoted
numbers for ints, no 0/1 or strings for bools, ints accepted for floats and lists for tuples;
unknown keys are refused. This module adds what pydantic lacks: ``base:`` inheritance between
YAML files, ``a.b=c`` overrides, a "did you mean" for unknown keys, errors that name the file
(or the command-line override that broke the config) and the dotted key, and YAML saving.
pydantic is imported only when a config is validated, so ``monde --help`` does not pay for it.

Typical use::

    cfg = load_config(RunConfig, "configs/default.yaml", ["train.lr=1e-3", "model.dim=128"])
    save_config(cfg, run_dir / "config.yaml")

A YAML file may start with ``base: other.yaml`` (relative to the file): the base is loaded first
and the file's keys are merged over it recursively.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import json
import re
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml

from monde.io import atomic_write_text

T = TypeVar("T")

BASE_KEY = "base"  # top-level YAML key naming a config file to inherit from


class ConfigError(ValueError):
    """A config file, dict or override does not match the config dataclasses."""


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader that also reads ``1e-3`` as a float (YAML 1.2 does; PyYAML's
    YAML 1.1 rules read it as a string, which strict validation refuses for a float)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def _show(value: Any) -> str:
    text = repr(value)
    return text[:77] + "..." if len(text) > 80 else text


# ----------------------------------------------------------------------------- validation


@functools.cache
def _adapter(cls: type) -> Any:
    """pydantic TypeAdapter of dataclass ``cls``, unknown keys forbidden in every section."""
    from pydantic import ConfigDict, TypeAdapter

    def forbid_extra(tp: Any) -> None:  # set here, not in monde.config: keeps pydantic lazy
        if dataclasses.is_dataclass(tp) and isinstance(tp, type):
            if "__pydantic_config__" in vars(tp):
                return
            tp.__pydantic_config__ = ConfigDict(extra="forbid")
            for hint in typing.get_type_hints(tp).values():
                forbid_extra(hint)
        for arg in typing.get_args(tp):
            forbid_extra(arg)

    forbid_extra(cls)
    return TypeAdapter(cls)


def _section(cls: type, path: Sequence[Any]) -> type | None:
    """The dataclass at dotted ``path`` under ``cls`` (through ``X | None``), else None."""
    section: Any = cls
    for part in path:
        hint = typing.get_type_hints(section).get(str(part)) if section else None
        section = next(
            (t for t in (hint, *typing.get_args(hint)) if dataclasses.is_dataclass(t)), None
        )
    return section


def _key(loc: Sequence[Any]) -> str:
    """pydantic's location → ``train.milestones[1]``."""
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")


def _message(error: dict, cls: type, source: str) -> str:
    """One pydantic error as one line naming the source and the dotted key."""
    loc, kind = error["loc"], error["type"]
    if kind == "value_error":  # a __post_init__ check: its own message names the key
        return f"{source}: {error['ctx']['error']}"
    if kind == "unexpected_keyword_argument":
        section = _section(cls, loc[:-1])
        valid = [f.name for f in dataclasses.fields(section) if f.init] if section else []
        prefix = _key(loc[:-1])
        msg = f"unknown key '{_key(loc)}' in {source}"
        close = difflib.get_close_matches(str(loc[-1]), valid, n=1, cutoff=0.6)
        msg += f"; did you mean '{close[0]}'?" if close else ";"
        where = f"'{prefix}'" if prefix else "top level"
        return msg + f" valid keys at {where}: {', '.join(valid) if valid else '(none)'}"
    if kind == "missing" and loc and isinstance(loc[-1], str):
        return f"{source}: missing required key '{_key(loc)}'"
    return f"{source}: '{_key(loc)}': {error['msg']}, got {_show(error['input'])}"


def _errors(cls: type, data: Mapping) -> tuple[Any, list[dict]]:
    """(the config, []) if ``data`` is valid, else (None, pydantic's errors)."""
    from pydantic import ValidationError

    try:
        text = json.dumps(to_dict(data), allow_nan=True)
    except (TypeError, ValueError) as err:
        return None, [{"type": "json", "loc": (), "msg": str(err), "input": data}]
    try:
        return _adapter(cls).validate_json(text, strict=True), []
    except ValidationError as err:
        return None, err.errors()


def from_dict(cls: type[T], data: Mapping, *, source: str = "<dict>") -> T:
    """Build dataclass ``cls`` from a (nested) mapping, checking keys and types.

    Missing keys keep their defaults; ints are accepted for floats, lists for tuples. Unknown
    keys, wrong types and Literal violations raise ConfigError naming the dotted key, and
    ValueErrors from ``__post_init__`` are re-raised as ConfigError prefixed with ``source``.
    """
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise TypeError(f"from_dict expects a dataclass type, got {cls!r}")
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: the top level must be a mapping, got {_show(data)}")
    cfg, errors = _errors(cls, data)
    if errors:
        raise ConfigError(_message(errors[0], cls, source))
    return cfg


def to_dict(obj: Any) -> Any:
    """Plain, YAML/JSON-safe form of a dataclass tree (field order kept, tuples → lists)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {  # a deprecated field that its section has already read is not written back
            f.name: to_dict(getattr(obj, f.name))
            for f in dataclasses.fields(obj)
            if f.init and not (f.metadata.get("deprecated") and getattr(obj, f.name) is None)
        }
    if isinstance(obj, Mapping):
        return {to_dict(k): to_dict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    return obj


# ----------------------------------------------------------------------------- overrides


def _candidates(raw: str) -> list[Any]:
    """Readings of an override's text, tried in order: YAML (``none`` also null), ``1,2`` as a
    list, then the plain string (``123`` for a str field, ``none`` for a Literal value)."""
    text = raw.strip()
    values: list[Any] = []
    if text.lower() in ("none", "null", "~"):
        values.append(None)
    else:
        try:
            values.append(yaml.load(text, Loader=_Loader) if text else "")
        except yaml.YAMLError:
            pass
    if "," in text and not text.startswith(("[", "(")):
        try:
            values.append(yaml.load(f"[{text}]", Loader=_Loader))
        except yaml.YAMLError:
            pass
    values.append(raw)
    unique: list[Any] = []
    for value in values:
        if not any(value == u and type(value) is type(u) for u in unique):
            unique.append(value)
    return unique


def flatten(config: Mapping, prefix: str = "") -> dict:
    """A nested config dict as {"a.b": value}: the keys overrides name."""
    out: dict = {}
    for key, value in config.items():
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def apply_overrides(
    data: dict, overrides: Sequence[str], cls: type, *, source: str = "command line"
) -> dict:
    """Return a copy of ``data`` with ``"a.b.c=value"`` overrides applied, checked against ``cls``.

    Values are parsed as YAML (``3`` → int, ``[1, 2]`` → list, ``none``/``null`` → None), with a
    fallback to the plain string and ``"1,2"`` accepted for tuples/lists. Unknown paths, values of
    the wrong type and overrides without ``=`` raise ConfigError naming ``source``; errors
    elsewhere in ``data`` and ``__post_init__`` checks are left to :func:`from_dict`.
    """
    if isinstance(overrides, str):
        overrides = [overrides]
    result = _deep_merge({}, data)
    for item in overrides:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(
                f"malformed override {item!r} in {source}; expected KEY=VALUE, e.g. train.lr=3e-4"
            )
        parts = key.split(".")
        if any(not p for p in parts):
            raise ConfigError(f"malformed key {key!r} in override {item!r} in {source}")
        first: str | None = None
        for value in _candidates(raw):
            for part in reversed(parts):
                value = {part: value}
            trial = _deep_merge(result, value)
            _, errors = _errors(cls, trial)
            mine = [  # errors at, above or below the overridden key
                e
                for e in errors
                if e["type"] != "value_error"
                and [str(p) for p in e["loc"][: len(parts)]] == parts[: len(e["loc"])]
            ]
            if not mine:
                result = trial
                break
            first = first or _message(mine[0], cls, source)
        else:
            raise ConfigError(first)
    return result


# ----------------------------------------------------------------------------- files


def _deep_merge(base: Mapping, child: Mapping) -> dict:
    """Recursive merge into a new dict; ``child`` wins, nested mappings are merged key by key."""
    merged = {k: _deep_merge({}, v) if isinstance(v, Mapping) else v for k, v in base.items()}
    for key, value in child.items():
        if isinstance(value, Mapping):
            old = merged.get(key)
            merged[key] = _deep_merge(old if isinstance(old, Mapping) else {}, value)
        else:
            merged[key] = value
    return merged


def _read_yaml_mapping(path: Path) -> dict:
    if not path.is_file():
        what = "is not a file" if path.exists() else "not found"
        raise ConfigError(f"config file {what}: {path}")
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise ConfigError(f"config file {path} is not valid YAML: {err}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"config file {path} must contain a mapping of keys to values, "
            f"got {_show(data)} ({type(data).__name__})"
        )
    return data


def _load_yaml_with_bases(path: Path, use_base: bool, chain: tuple[Path, ...] = ()) -> dict:
    resolved = path.resolve()
    if resolved in chain:
        cycle = " -> ".join(str(p) for p in (*chain, resolved))
        raise ConfigError(f"config files inherit from each other in a cycle: {cycle}")
    data = _read_yaml_mapping(path)
    if not use_base or BASE_KEY not in data:
        return data
    base_ref = data.pop(BASE_KEY)
    if base_ref is None:
        return data
    if not isinstance(base_ref, str):
        raise ConfigError(f"config file {path}: '{BASE_KEY}' must be a file path, got {base_ref!r}")
    base_path = Path(base_ref)
    if not base_path.is_absolute():
        base_path = path.parent / base_path
    if not base_path.is_file():
        raise ConfigError(f"config file {path}: base config file not found: {base_path}")
    base = _load_yaml_with_bases(base_path, use_base, (*chain, resolved))
    return _deep_merge(base, data)


def load_config(cls: type[T], path: str | Path | None = None, overrides: Sequence[str] = ()) -> T:
    """Load ``cls`` from a YAML file (or defaults if ``path`` is None), then apply overrides.

    A top-level ``base: other.yaml`` key (relative to the file; chains allowed) names a config
    to inherit from, unless ``cls`` itself has a field called ``base``.
    """
    if path is None:
        data: dict = {}
        source = "<defaults>"
    else:
        path = Path(path)
        use_base = BASE_KEY not in {f.name for f in dataclasses.fields(cls)}
        data = _load_yaml_with_bases(path, use_base)
        source = str(path)
    merged = apply_overrides(data, overrides, cls, source="command line")
    try:
        return from_dict(cls, merged, source=source)
    except ConfigError as err:
        raise _blame(cls, data, list(overrides), source, err) from None


def _blame(cls: type, data: dict, overrides: list[str], source: str, err: ConfigError) -> Exception:
    """The error of a config that fails only once checked as a whole (``__post_init__``), told
    as coming from what made it fail: the file (or defaults) alone, else the first command-line
    override after which the same error appears."""
    reason = str(err).removeprefix(f"{source}: ")
    for count in range(len(overrides) + 1):
        try:
            from_dict(cls, apply_overrides(data, overrides[:count], cls), source=source)
        except ConfigError as failed:
            if str(failed).removeprefix(f"{source}: ") != reason:
                continue  # another problem, fixed by a later override
            if count == 0:
                return err
            return ConfigError(f"command line override {overrides[count - 1]!r}: {reason}")
    return err


class _ConfigDumper(yaml.SafeDumper):
    """Block-style mappings, with lists of scalars on one line (``betas: [0.9, 0.999]``)."""


def _represent_list(dumper: yaml.SafeDumper, data: list) -> yaml.Node:
    flow = all(not isinstance(v, (list, dict)) for v in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_ConfigDumper.add_representer(list, _represent_list)


def dump_config(obj: Any) -> str:
    """YAML text of a config dataclass, keys in field order."""
    return yaml.dump(
        to_dict(obj),
        Dumper=_ConfigDumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=100,
    )


def save_config(obj: Any, path: str | Path) -> None:
    """Write a config dataclass as YAML (field order kept), atomically."""
    atomic_write_text(path, dump_config(obj))
