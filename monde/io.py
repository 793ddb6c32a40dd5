"""Small file helpers: atomic writes (temp file + fsync + os.replace), JSON and safetensors.

Every writer here either leaves the complete new file at ``path`` or leaves the previous file
(if any) untouched; a crash mid-write never leaves a half-written file under the final name.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import struct
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

PathLike = str | os.PathLike


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def atomic_write_bytes(path: PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically; parent directories are created as needed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = path.stat().st_mode & 0o7777  # keep the permissions of the file we replace
    except FileNotFoundError:
        mode = 0o666 & ~_UMASK
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    """Best-effort fsync of a directory so the rename itself is durable (POSIX only)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_text(path: PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def replace_section(path: PathLike, begin: str, end: str, section: str) -> None:
    """Replace the text of ``path`` from the marker ``begin`` through ``end`` with ``section``
    (which holds both markers again), atomically: a generated part of a hand-written page.
    ValueError naming the file when a marker is missing."""
    text = Path(path).read_text()
    if begin not in text or end not in text:
        raise ValueError(f"{path}: the markers {begin} … {end} are missing")
    head, rest = text.split(begin, 1)
    atomic_write_text(path, head + section + rest.split(end, 1)[1])


def atomic_write_json(path: PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON (key order kept, trailing newline) atomically.

    NaN and infinities are rejected with ValueError (they are not valid JSON); nothing is
    written in that case.
    """
    text = json.dumps(obj, indent=2, sort_keys=False, allow_nan=False, ensure_ascii=False)
    atomic_write_text(path, text + "\n")


@contextlib.contextmanager
def atomic_folder(directory: PathLike) -> Iterator[Path]:
    """Yield an empty temporary sibling of ``directory`` (``.tmp-<name>``) to fill; when the
    block ends without an error it replaces ``directory`` as one rename, so a crash never leaves
    a folder holding files of two writes. A failed block leaves the temporary folder, which the
    next write to ``directory`` removes."""
    directory = Path(directory)
    tmp = directory.with_name(f".tmp-{directory.name}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    yield tmp
    if directory.exists():
        shutil.rmtree(directory)
    os.replace(tmp, directory)


def read_json(path: PathLike) -> Any:
    """Read a JSON file (usually an object → dict).

    Raises FileNotFoundError or ValueError with the path in the message when the file is missing
    or is not valid UTF-8 JSON.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"JSON file not found: {path}") from None
    except UnicodeDecodeError as err:
        raise ValueError(f"not valid JSON (not UTF-8): {path}: {err}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"not valid JSON: {path}: {err}") from None


def atomic_save_safetensors(
    tensors: dict[str, torch.Tensor], path: PathLike, metadata: dict[str, str] | None = None
) -> None:
    """Save tensors (made contiguous, moved to CPU) and string metadata to ``path`` atomically.

    Tensors that share storage (e.g. tied weights) are cloned, since safetensors refuses them.
    """
    from safetensors.torch import save

    if metadata is not None:
        bad = {k: type(v).__name__ for k, v in metadata.items() if not isinstance(v, str)}
        if bad or not all(isinstance(k, str) for k in metadata):
            raise TypeError(f"safetensors metadata must map str to str; bad entries: {bad}")
    prepared: dict[str, torch.Tensor] = {}
    seen_storages: set[int] = set()
    for name, tensor in tensors.items():
        t = tensor.detach().cpu().contiguous()
        ptr = t.untyped_storage().data_ptr()
        if t.numel() > 0 and ptr in seen_storages:
            t = t.clone()
        elif t.numel() > 0:
            seen_storages.add(ptr)
        prepared[name] = t
    atomic_write_bytes(path, save(prepared, metadata=metadata))


def load_safetensors(path: PathLike) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Load ``(tensors, metadata)`` from a safetensors file (tensors on CPU).

    Raises FileNotFoundError for a missing file and ValueError naming the file for a truncated
    or corrupt one.
    """
    from safetensors.torch import load

    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"safetensors file not found: {path}") from None
    try:
        metadata = _read_safetensors_metadata(data)
        tensors = load(data)
    except Exception as err:  # safetensors raises its own SafetensorError, struct/json errors
        raise ValueError(f"not a valid safetensors file: {path} ({err})") from None
    return tensors, metadata


def _read_safetensors_metadata(data: bytes) -> dict[str, str]:
    """Parse the ``__metadata__`` entry of a safetensors header (8-byte LE length + JSON)."""
    if len(data) < 8:
        raise ValueError(f"file is {len(data)} bytes, shorter than the 8-byte header length")
    (header_len,) = struct.unpack("<Q", data[:8])
    if header_len > len(data) - 8:
        raise ValueError(f"header length {header_len} exceeds file size {len(data)}")
    header = json.loads(data[8 : 8 + header_len].decode("utf-8"))
    if not isinstance(header, dict):
        raise ValueError("header is not a JSON object")
    metadata = header.get("__metadata__") or {}
    if not isinstance(metadata, dict):
        raise ValueError("__metadata__ is not a JSON object")
    return {str(k): str(v) for k, v in metadata.items()}
