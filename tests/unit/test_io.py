"""Tests for monde.io: atomic writes, JSON and safetensors helpers."""

from __future__ import annotations

import json
import os

import pytest
import torch

from monde import io as mio


def _leftovers(directory) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def test_atomic_write_text_creates_parents_and_leaves_no_temp(tmp_path):
    target = tmp_path / "a" / "b" / "file.txt"
    mio.atomic_write_text(target, "héllo\n")
    assert target.read_text(encoding="utf-8") == "héllo\n"
    mio.atomic_write_text(target, "second")
    assert target.read_text() == "second"
    assert _leftovers(target.parent) == []


def test_atomic_write_bytes_keeps_old_file_when_replace_fails(tmp_path, monkeypatch):
    target = tmp_path / "data.bin"
    mio.atomic_write_bytes(target, b"old")

    def boom(src, dst):
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk on fire"):
        mio.atomic_write_bytes(target, b"new contents")
    assert target.read_bytes() == b"old"
    assert _leftovers(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.bin"]


def test_atomic_write_keeps_permissions(tmp_path):
    target = tmp_path / "perm.txt"
    mio.atomic_write_text(target, "x")
    os.chmod(target, 0o640)
    mio.atomic_write_text(target, "y")
    assert (target.stat().st_mode & 0o777) == 0o640


def test_atomic_write_json_format_and_nan(tmp_path):
    target = tmp_path / "m.json"
    mio.atomic_write_json(target, {"z": 1, "a": [1.5, None]})
    text = target.read_text()
    assert text.endswith("}\n")
    assert text.index('"z"') < text.index('"a"')  # insertion order kept
    assert '\n  "z": 1' in text  # indent=2
    assert mio.read_json(target) == {"z": 1, "a": [1.5, None]}
    with pytest.raises(ValueError):
        mio.atomic_write_json(target, {"loss": float("nan")})
    assert mio.read_json(target) == {"z": 1, "a": [1.5, None]}  # untouched


def test_read_json_errors_name_the_file(tmp_path):
    missing = tmp_path / "nope.json"
    with pytest.raises(FileNotFoundError, match="nope.json"):
        mio.read_json(missing)
    bad = tmp_path / "bad.json"
    bad.write_text('{"a": 1,')
    with pytest.raises(ValueError, match="bad.json"):
        mio.read_json(bad)
    binary = tmp_path / "bin.json"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ValueError, match="bin.json"):
        mio.read_json(binary)


def test_safetensors_round_trip_with_metadata(tmp_path):
    w = torch.randn(4, 3)
    tensors = {
        "w_t": w.t(),  # non-contiguous view
        "b": torch.arange(5, dtype=torch.int64),
        "tied": w,  # shares storage with w_t
        "half": torch.ones(2, dtype=torch.bfloat16),
    }
    path = tmp_path / "ckpt" / "model.safetensors"
    mio.atomic_save_safetensors(tensors, path, metadata={"step": "12", "config": "{}"})
    loaded, meta = mio.load_safetensors(path)
    assert meta == {"step": "12", "config": "{}"}
    assert set(loaded) == set(tensors)
    for name, t in tensors.items():
        assert loaded[name].dtype == t.dtype
        assert torch.equal(loaded[name], t)
    assert _leftovers(path.parent) == []


def test_safetensors_without_metadata(tmp_path):
    path = tmp_path / "x.safetensors"
    mio.atomic_save_safetensors({"a": torch.zeros(2)}, path)
    loaded, meta = mio.load_safetensors(path)
    assert meta == {}
    assert torch.equal(loaded["a"], torch.zeros(2))


def test_safetensors_metadata_must_be_strings(tmp_path):
    with pytest.raises(TypeError, match="step"):
        mio.atomic_save_safetensors({"a": torch.zeros(1)}, tmp_path / "x", {"step": 3})


@pytest.mark.parametrize("cut", [4, 20, -3])
def test_truncated_safetensors_names_the_file(tmp_path, cut):
    path = tmp_path / "model.safetensors"
    mio.atomic_save_safetensors({"a": torch.randn(16, 16)}, path, {"k": "v"})
    data = path.read_bytes()
    path.write_bytes(data[:cut])
    with pytest.raises(ValueError, match="not a valid safetensors file: .*model.safetensors"):
        mio.load_safetensors(path)


def test_garbage_and_missing_safetensors(tmp_path):
    path = tmp_path / "junk.safetensors"
    path.write_bytes(json.dumps({"not": "safetensors"}).encode())
    with pytest.raises(ValueError, match="junk.safetensors"):
        mio.load_safetensors(path)
    with pytest.raises(FileNotFoundError, match="absent.safetensors"):
        mio.load_safetensors(tmp_path / "absent.safetensors")


def test_atomic_folder_replaces_the_folder_whole_or_not_at_all(tmp_path):
    from monde.io import atomic_folder

    target = tmp_path / "model"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_folder(target) as tmp:
            (tmp / "new.txt").write_text("new")
            raise RuntimeError("killed mid-write")
    assert [p.name for p in target.iterdir()] == ["old.txt"]  # untouched
    with atomic_folder(target) as tmp:
        (tmp / "new.txt").write_text("new")
    assert [p.name for p in target.iterdir()] == ["new.txt"]  # no file of the older write
    assert not (tmp_path / ".tmp-model").exists()
