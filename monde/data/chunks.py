"""Fast lazy reads of one Zarr v3 array: whole chunks decoded once, kept in a byte-bounded LRU.

The sampler reads a few frames at scattered places of a large array; zarr's general read path
costs about a millisecond per call, so for the arrays the store writes (regular chunk grid,
"bytes" codec, optional zstd / blosc / gzip compression, default "/" chunk keys) this module
reads a chunk file and decodes it with numcodecs directly. Any other array, or one that does
not live on the local disk (an fsspec URL), goes through zarr's own reader — same results.
It knows nothing about episodes: rows in, rows out.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np

from monde.io import read_json

_CODECS = {"zstd", "blosc", "gzip"}


class ChunkError(ValueError):
    """A chunk that is missing, truncated or does not decode; names the chunk file."""


def _numcodec(spec: dict):
    import numcodecs

    name, conf = spec["name"], spec.get("configuration", {})
    if name == "zstd":
        return numcodecs.Zstd(level=conf.get("level", 0), checksum=conf.get("checksum", False))
    if name == "gzip":
        return numcodecs.GZip(level=conf.get("level", 1))
    shuffle = {"noshuffle": 0, "shuffle": 1, "bitshuffle": 2}[conf.get("shuffle", "noshuffle")]
    return numcodecs.Blosc(
        cname=conf.get("cname", "lz4"), clevel=conf.get("clevel", 5), shuffle=shuffle
    )


def _plain_codecs(codecs: list[dict]) -> bool:
    """bytes (little endian) followed by at most one compressor we decode directly."""
    return (
        0 < len(codecs) <= 2
        and codecs[0]["name"] == "bytes"
        and codecs[0].get("configuration", {}).get("endian", "little") == "little"
        and all(c["name"] in _CODECS for c in codecs[1:])
    )


class ChunkReader:
    """Rows of the Zarr v3 array at `path` (local folder), with a decoded-chunk cache.

    Understands plain chunks and "sharding_indexed" shards (index at the end, chunked along
    rows only). `cache_bytes` bounds the decoded chunks held at once (one chunk is always held).
    """

    def __init__(self, path: str | Path, cache_bytes: int = 64 << 20):
        self.path = Path(path)
        meta = read_json(self.path / "zarr.json")
        self.shape = tuple(meta["shape"])
        self.dtype = np.dtype(meta["data_type"])
        self.row_shape = self.shape[1:]
        grid = meta["chunk_grid"]
        outer = tuple(grid["configuration"]["chunk_shape"])
        codecs = meta["codecs"]
        key_enc = meta.get("chunk_key_encoding", {})
        self._sep = key_enc.get("configuration", {}).get("separator", "/")
        self._inner_per_outer = 1
        fast = grid["name"] == "regular" and key_enc.get("name", "default") == "default"
        if fast and codecs[0]["name"] == "sharding_indexed":
            conf = codecs[0]["configuration"]
            inner = tuple(conf["chunk_shape"])
            fast = (
                len(codecs) == 1
                and conf.get("index_location", "end") == "end"
                and [c["name"] for c in conf.get("index_codecs", [])] == ["bytes", "crc32c"]
                and inner[1:] == self.row_shape
                and outer[0] % inner[0] == 0
                and _plain_codecs(conf["codecs"])
            )
            codecs = conf["codecs"]
            self._inner_per_outer = outer[0] // inner[0]
            self.chunk_rows = inner[0]
        else:
            fast = fast and _plain_codecs(codecs)
            self.chunk_rows = outer[0]
        fast = fast and outer[1:] == self.row_shape
        self._fast = fast
        self._codec = _numcodec(codecs[1]) if fast and len(codecs) == 2 else None
        self._zarr = None
        self.cache_bytes = cache_bytes
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._cached = 0
        self._indices: dict[int, np.ndarray] = {}
        self._name_parts: tuple[str, str] | None = None
        self.chunk_nbytes = self.chunk_rows * int(np.prod(self.row_shape)) * self.dtype.itemsize

    def chunk_file(self, c: int) -> Path:
        """The file holding chunk c (its shard's file for a sharded array)."""
        return Path(self._file_name(c // self._inner_per_outer))

    def _file_name(self, outer: int) -> str:
        if self._name_parts is None:
            sep = self._sep
            self._name_parts = (f"{self.path}/c{sep}", sep.join([""] + ["0"] * len(self.row_shape)))
        return f"{self._name_parts[0]}{outer}{self._name_parts[1]}"

    def _shard_index(self, f, file: str, outer: int) -> np.ndarray:
        """(n, 2) uint64 (offset, nbytes) of the inner chunks of a shard, read once and kept."""
        index = self._indices.get(outer)
        if index is None:
            n = self._inner_per_outer
            index_bytes = 16 * n + 4  # (offset, nbytes) uint64 per inner chunk, then crc32c
            size = f.seek(0, 2)
            if size < index_bytes:
                raise ChunkError(f"chunk file {file} is truncated ({size} bytes)")
            f.seek(size - index_bytes)
            index = np.frombuffer(f.read(16 * n), "<u8").reshape(n, 2).astype(np.int64)
            if np.any((index[:, 0] >= 0) & (index[:, 0] + index[:, 1] > size - index_bytes)):
                raise ChunkError(f"chunk file {file} is truncated ({size} bytes)")
            if len(self._indices) >= 4096:
                self._indices.clear()
            self._indices[outer] = index
        return index

    def _raw(self, c: int) -> bytes:
        outer = c // self._inner_per_outer
        file = self._file_name(outer)
        try:
            if self._inner_per_outer == 1:
                with open(file, "rb") as f:
                    return f.read()
            with open(file, "rb") as f:
                offset, nbytes = self._shard_index(f, file, outer)[c % self._inner_per_outer]
                if offset < 0:  # 2**64 − 1 read as int64: the inner chunk was never written
                    raise ChunkError(
                        f"chunk file {file} has no inner chunk {c % self._inner_per_outer}"
                    )
                f.seek(offset)
                return f.read(nbytes)
        except FileNotFoundError:
            raise ChunkError(f"chunk file {file} is missing") from None

    def _decode(self, c: int) -> np.ndarray:
        """Chunk c → (chunk_rows, *row_shape)."""
        if not self._fast:
            if self._zarr is None:
                import zarr

                self._zarr = zarr.open_array(str(self.path), mode="r")
            data = self._zarr[c * self.chunk_rows : (c + 1) * self.chunk_rows]
            out = np.zeros((self.chunk_rows, *self.row_shape), self.dtype)
            out[: len(data)] = data
            return out
        raw = self._raw(c)
        try:
            buf = self._codec.decode(raw) if self._codec is not None else raw
            arr = np.frombuffer(buf, self.dtype).reshape(self.chunk_rows, *self.row_shape)
        except Exception as err:  # numcodecs raises RuntimeError / ValueError of its own
            raise ChunkError(
                f"chunk file {self.chunk_file(c)} is truncated or corrupt ({err})"
            ) from None
        return arr

    def chunk(self, c: int) -> np.ndarray:
        if c in self._cache:
            self._cache.move_to_end(c)
            return self._cache[c]
        arr = self._decode(c)
        while self._cache and self._cached + arr.nbytes > self.cache_bytes:
            _, old = self._cache.popitem(last=False)
            self._cached -= old.nbytes
        self._cache[c] = arr
        self._cached += arr.nbytes
        return arr

    @property
    def cached_bytes(self) -> int:
        return self._cached

    def take(self, rows: np.ndarray) -> np.ndarray:
        """rows (...) int → values (..., *row_shape)."""
        flat = np.asarray(rows, dtype=np.int64).ravel()
        out = np.empty((len(flat), *self.row_shape), self.dtype)
        chunk_ids = flat // self.chunk_rows
        order = np.argsort(chunk_ids, kind="stable")
        sorted_ids = chunk_ids[order]
        bounds = np.flatnonzero(np.diff(sorted_ids)) + 1  # where a new chunk starts in `order`
        for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, len(order)], strict=True):
            c = int(sorted_ids[lo])
            sel = order[lo:hi]
            out[sel] = self.chunk(c)[flat[sel] - c * self.chunk_rows]
        return out.reshape(*np.shape(rows), *self.row_shape)

    def range(self, start: int, stop: int) -> np.ndarray:
        """Rows start..stop−1 → (stop − start, *row_shape)."""
        out = np.empty((stop - start, *self.row_shape), self.dtype)
        pos = start
        while pos < stop:
            c = pos // self.chunk_rows
            end = min(stop, (c + 1) * self.chunk_rows)
            out[pos - start : end - start] = self.chunk(c)[
                pos - c * self.chunk_rows : end - c * self.chunk_rows
            ]
            pos = end
        return out
