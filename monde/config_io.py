"""Generic typed-config machinery: YAML/dict ↔ nested dataclasses, with dotted overrides.

Works on any tree of dataclasses whose fields are typed with int, float, bool, str, ``X | None``,
``Optional[X]``, ``tuple[...]``, ``list[X]``, ``dict[K, V]``, ``Literal[...]`` or nested
dataclasses. Errors are :class:`ConfigError` and always name the dotted key and the source.

Typical use::

    cfg = load_config(RunConfig, "configs/default.yaml", ["train.lr=1e-3", "model.dim=128"])
    save_config(cfg, run_dir / "config.yaml")

A YAML file may start with ``base: other.yaml`` (relative to the file): the base is loaded first
and the file's keys are merged over it recursively.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar, Union

import yaml

from monde.io import atomic_write_text

T = TypeVar("T")

BASE_KEY = "base"  # top-level YAML key naming a config file to inherit from
_NONE_WORDS = ("none", "null", "~")


class ConfigError(ValueError):
    """A config file, dict or override does not match the config dataclasses."""


# ----------------------------------------------------------------------------- type helpers


def _field_types(cls: type) -> dict[str, Any]:
    """Resolved types of the init fields of a dataclass, in field order."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints.get(f.name, Any) for f in dataclasses.fields(cls) if f.init}


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (Union, types.UnionType)


def _is_dataclass_type(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _type_name(tp: Any) -> str:
    """Readable name of a type annotation, e.g. ``tuple[float, float] | None``."""
    if tp is type(None):
        return "None"
    if tp is Any:
        return "Any"
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if _is_union(tp):
        return " | ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is not None:
        args = typing.get_args(tp)
        inner = ", ".join("..." if a is Ellipsis else _type_name(a) for a in args)
        return f"{getattr(origin, '__name__', str(origin))}[{inner}]"
    return getattr(tp, "__name__", str(tp))


def _show(value: Any) -> str:
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{text} ({type(value).__name__})"


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _unknown_key_error(key: str, prefix: str, valid: Sequence[str], source: str) -> ConfigError:
    dotted = _join(prefix, key)
    where = f"'{prefix}'" if prefix else "top level"
    msg = f"unknown key '{dotted}' in {source}"
    close = difflib.get_close_matches(str(key), list(valid), n=1, cutoff=0.6)
    if close:
        msg += f"; did you mean '{close[0]}'?"
    msg += (
        f"{'' if close else ';'} valid keys at {where}: {', '.join(valid) if valid else '(none)'}"
    )
    return ConfigError(msg)


class _Mismatch(Exception):
    """Internal: a value does not fit a type (turned into ConfigError by the caller)."""


def _convert(value: Any, tp: Any, key: str, source: str) -> Any:
    """Check ``value`` against annotation ``tp`` and return it converted (lists → tuples, ...).

    Raises ConfigError naming ``key`` on a mismatch.
    """
    try:
        return _convert_inner(value, tp, key, source)
    except _Mismatch:
        raise ConfigError(
            f"{source}: '{key}' expects {_type_name(tp)}, got {_show(value)}"
        ) from None


def _convert_inner(value: Any, tp: Any, key: str, source: str) -> Any:
    if tp is Any or tp is object:
        return value
    if tp is type(None):
        if value is None:
            return None
        raise _Mismatch
    if isinstance(tp, TypeVar):
        return value
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)

    if _is_union(tp):
        if value is None:
            if type(None) in args:
                return None
            raise _Mismatch
        first_error: ConfigError | None = None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert_inner(value, arg, key, source)
            except _Mismatch:
                continue
            except ConfigError as err:  # deeper error inside a nested member: keep the first
                first_error = first_error or err
        if first_error is not None:
            raise first_error
        raise _Mismatch

    if origin is Literal:
        for allowed in args:
            if value == allowed and type(value) is type(allowed):
                return allowed
        raise _Mismatch

    if _is_dataclass_type(tp):
        if isinstance(value, tp):
            return value
        if isinstance(value, Mapping):
            return _from_mapping(tp, value, prefix=key, source=source)
        raise ConfigError(
            f"{source}: '{key}' is a section ({tp.__name__}) and expects a mapping, "
            f"got {_show(value)}"
        )

    if tp is bool:
        if isinstance(value, bool):
            return value
        raise _Mismatch
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise _Mismatch
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads "1e-3" as a string
            try:
                return float(value)
            except ValueError:
                raise _Mismatch from None
        raise _Mismatch
    if tp is str:
        if isinstance(value, str):
            return value
        raise _Mismatch

    if origin is tuple or tp is tuple:
        if not isinstance(value, (list, tuple)):
            raise _Mismatch
        if not args:
            return tuple(value)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(v, args[0], f"{key}[{i}]", source) for i, v in enumerate(value))
        if args == ((),):  # tuple[()]
            args = ()
        if len(value) != len(args):
            raise ConfigError(
                f"{source}: '{key}' expects {_type_name(tp)} ({len(args)} items), "
                f"got {len(value)} items: {value!r}"
            )
        return tuple(
            _convert(v, a, f"{key}[{i}]", source)
            for i, (v, a) in enumerate(zip(value, args, strict=True))
        )

    if origin is list or tp is list:
        if not isinstance(value, (list, tuple)):
            raise _Mismatch
        if not args:
            return list(value)
        return [_convert(v, args[0], f"{key}[{i}]", source) for i, v in enumerate(value)]

    if origin is dict or tp is dict:
        if not isinstance(value, Mapping):
            raise _Mismatch
        if not args:
            return dict(value)
        k_tp, v_tp = args
        return {
            _convert(k, k_tp, f"{key}.{k}", source): _convert(v, v_tp, f"{key}.{k}", source)
            for k, v in value.items()
        }

    check = origin if origin is not None else tp
    if isinstance(check, type) and isinstance(value, check):
        return value
    raise _Mismatch


# ----------------------------------------------------------------------------- dict ↔ dataclass


def _from_mapping(cls: type[T], data: Mapping, *, prefix: str, source: str) -> T:
    if not isinstance(data, Mapping):
        where = f"'{prefix}'" if prefix else "the top level"
        raise ConfigError(f"{source}: {where} must be a mapping, got {_show(data)}")
    field_types = _field_types(cls)
    valid = list(field_types)
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in field_types:
            raise _unknown_key_error(str(key), prefix, valid, source)
        kwargs[key] = _convert(value, field_types[key], _join(prefix, key), source)
    for f in dataclasses.fields(cls):
        if (
            f.init
            and f.name not in kwargs
            and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        ):
            raise ConfigError(f"{source}: missing required key '{_join(prefix, f.name)}'")
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except ValueError as err:  # __post_init__ validation
        raise ConfigError(f"{source}: {err}") from err


def from_dict(cls: type[T], data: Mapping, *, source: str = "<dict>") -> T:
    """Build dataclass ``cls`` from a (nested) mapping, checking keys and types.

    Missing keys keep their defaults; ints are accepted for floats, lists for tuples. Unknown
    keys, wrong types and Literal violations raise ConfigError naming the dotted key, and
    ValueErrors from ``__post_init__`` are re-raised as ConfigError prefixed with ``source``.
    """
    if not _is_dataclass_type(cls):
        raise TypeError(f"from_dict expects a dataclass type, got {cls!r}")
    return _from_mapping(cls, data, prefix="", source=source)


def to_dict(obj: Any) -> Any:
    """Plain, YAML/JSON-safe form of a dataclass tree (field order kept, tuples → lists)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj) if f.init}
    if isinstance(obj, Mapping):
        return {to_dict(k): to_dict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    return obj


# ----------------------------------------------------------------------------- overrides


def _resolve_path(cls: type, parts: list[str], source: str) -> Any:
    """Annotation of the field at dotted path ``parts`` under ``cls``; ConfigError if unknown."""
    tp: Any = cls
    for i, part in enumerate(parts):
        prefix = ".".join(parts[:i])
        section = _section_type(tp)
        if section is not None:
            field_types = _field_types(section)
            if part not in field_types:
                raise _unknown_key_error(part, prefix, list(field_types), source)
            tp = field_types[part]
        elif typing.get_origin(_strip_none(tp)) is dict or _strip_none(tp) is dict:
            args = typing.get_args(_strip_none(tp))
            tp = args[1] if args else Any
        else:
            raise ConfigError(
                f"unknown key '{'.'.join(parts)}' in {source}: '{prefix}' is a "
                f"{_type_name(tp)} value, not a section"
            )
    return tp


def _strip_none(tp: Any) -> Any:
    """``X | None`` → ``X``; other annotations unchanged."""
    if _is_union(tp):
        rest = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return tp


def _section_type(tp: Any) -> type | None:
    """The dataclass behind ``tp`` (also for ``Section | None``), else None."""
    tp = _strip_none(tp)
    return tp if _is_dataclass_type(tp) else None


def _is_sequence_type(tp: Any) -> bool:
    tp = _strip_none(tp)
    return typing.get_origin(tp) in (tuple, list) or tp in (tuple, list)


def _parse_override_value(raw: str, tp: Any, key: str, source: str) -> Any:
    """Parse the text of an override for a field typed ``tp``; returns the converted value."""
    text = raw.strip()
    candidates: list[Any] = []
    if text.lower() in _NONE_WORDS:
        candidates.append(None)  # "none"/"null" → None, unless only the string fits
    else:
        try:
            candidates.append(yaml.safe_load(text) if text else "")
        except yaml.YAMLError:
            pass
    if _is_sequence_type(tp) and "," in text and not text.startswith(("[", "(")):
        try:  # "1,2" → [1, 2]
            candidates.append(yaml.safe_load(f"[{text}]"))
        except yaml.YAMLError:
            pass
    candidates.append(raw)  # plain string: "true" for a str field, "on" for Literal["on", ...]
    first_error: ConfigError | None = None
    for value in candidates:
        try:
            return _convert(value, tp, key, source)
        except ConfigError as err:
            first_error = first_error or err
    assert first_error is not None
    raise first_error


def apply_overrides(
    data: dict, overrides: Sequence[str], cls: type, *, source: str = "command line"
) -> dict:
    """Return a copy of ``data`` with ``"a.b.c=value"`` overrides applied, checked against ``cls``.

    Values are parsed as YAML (``3`` → int, ``[1, 2]`` → list, ``none``/``null`` → None), with a
    fallback to the plain string and ``"1,2"`` accepted for tuples/lists. Unknown paths, values of
    the wrong type and overrides without ``=`` raise ConfigError.
    """
    if isinstance(overrides, str):
        overrides = [overrides]
    result = _deep_copy_mapping(data)
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
        tp = _resolve_path(cls, parts, source)
        value = to_dict(_parse_override_value(raw, tp, key, source))
        node = result
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        node[parts[-1]] = value
    return result


def _deep_copy_mapping(data: Mapping) -> dict:
    return {k: _deep_copy_mapping(v) if isinstance(v, Mapping) else v for k, v in data.items()}


# ----------------------------------------------------------------------------- files


def _deep_merge(base: Mapping, child: Mapping) -> dict:
    """Recursive merge; ``child`` wins, nested mappings are merged key by key."""
    merged = _deep_copy_mapping(base)
    for key, value in child.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(merged[key], value)
        elif isinstance(value, Mapping):
            merged[key] = _deep_copy_mapping(value)
        else:
            merged[key] = value
    return merged


def _read_yaml_mapping(path: Path) -> dict:
    if not path.is_file():
        what = "is not a file" if path.exists() else "not found"
        raise ConfigError(f"config file {what}: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise ConfigError(f"config file {path} is not valid YAML: {err}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"config file {path} must contain a mapping of keys to values, got {_show(data)}"
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
        use_base = BASE_KEY not in _field_types(cls)
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
