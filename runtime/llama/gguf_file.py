"""A small, strict GGUF header reader: metadata and tensor table, checked against the file size.

llama.cpp aborts the whole process on some malformed files; reading the header ourselves first turns a
missing, truncated or corrupt file into a :class:`ModelFileError` that says what to do. Only the header
is read (no tensor data), so this is quick even for 20 GB files.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from omnidesk.agent.errors import ModelFileError

__all__ = ["GGML_TYPE_SIZES", "ByteStream", "GGUFFile", "TensorInfo", "read_gguf", "read_gguf_stream"]

_MAGIC = b"GGUF"
_DEFAULT_ALIGNMENT = 32
# Arrays longer than this are skipped (token lists, merges): we only need scalars and short arrays.
_MAX_KEPT_ARRAY = 4096
_MAX_STRING = 64 * 1024 * 1024

# ggml type id -> (elements per block, bytes per block); checked against the gguf package in tests.
GGML_TYPE_SIZES: dict[int, tuple[int, int]] = {
    0: (1, 4),  # F32
    1: (1, 2),  # F16
    2: (32, 18),  # Q4_0
    3: (32, 20),  # Q4_1
    6: (32, 22),  # Q5_0
    7: (32, 24),  # Q5_1
    8: (32, 34),  # Q8_0
    9: (32, 40),  # Q8_1
    10: (256, 84),  # Q2_K
    11: (256, 110),  # Q3_K
    12: (256, 144),  # Q4_K
    13: (256, 176),  # Q5_K
    14: (256, 210),  # Q6_K
    15: (256, 292),  # Q8_K
    16: (256, 66),  # IQ2_XXS
    17: (256, 74),  # IQ2_XS
    18: (256, 98),  # IQ3_XXS
    19: (256, 50),  # IQ1_S
    20: (32, 18),  # IQ4_NL
    21: (256, 110),  # IQ3_S
    22: (256, 82),  # IQ2_S
    23: (256, 136),  # IQ4_XS
    24: (1, 1),  # I8
    25: (1, 2),  # I16
    26: (1, 4),  # I32
    27: (1, 8),  # I64
    28: (1, 8),  # F64
    29: (256, 56),  # IQ1_M
    30: (1, 2),  # BF16
    34: (256, 54),  # TQ1_0
    35: (256, 66),  # TQ2_0
    39: (32, 17),  # MXFP4
    40: (64, 36),  # NVFP4
    41: (128, 18),  # Q1_0
}

_SCALARS: dict[int, tuple[str, int]] = {
    0: ("<B", 1),
    1: ("<b", 1),
    2: ("<H", 2),
    3: ("<h", 2),
    4: ("<I", 4),
    5: ("<i", 4),
    6: ("<f", 4),
    7: ("<?", 1),
    10: ("<Q", 8),
    11: ("<q", 8),
    12: ("<d", 8),
}
_STRING = 8
_ARRAY = 9

MetaValue = int | float | bool | str | list[int | float | bool | str]


@dataclass(frozen=True, slots=True)
class TensorInfo:
    """One tensor of the table: ``shape`` is ggml's ``ne`` (fastest dimension first)."""

    name: str
    shape: tuple[int, ...]
    ggml_type: int
    offset: int
    nbytes: int


@dataclass(frozen=True, slots=True)
class GGUFFile:
    """The header of a GGUF file."""

    path: Path
    version: int
    metadata: dict[str, MetaValue]
    tensors: tuple[TensorInfo, ...]
    data_offset: int
    file_size: int
    skipped_arrays: dict[str, int] = field(default_factory=dict)

    @property
    def architecture(self) -> str:
        value = self.metadata.get("general.architecture", "")
        return value if isinstance(value, str) else ""

    def get_int(self, key: str) -> int | None:
        value = self.metadata.get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            return None
        return value

    def get_str(self, key: str) -> str | None:
        value = self.metadata.get(key)
        return value if isinstance(value, str) else None

    def get_bool(self, key: str) -> bool | None:
        value = self.metadata.get(key)
        return value if isinstance(value, bool) else None

    def tensor(self, name: str) -> TensorInfo | None:
        for info in self.tensors:
            if info.name == name:
                return info
        return None

    @property
    def tensor_bytes(self) -> int:
        return sum(t.nbytes for t in self.tensors)


class ByteStream(Protocol):
    """What the reader needs of a file: ``read`` and a relative ``seek`` (a remote file read by ranges too)."""

    def read(self, n: int, /) -> bytes: ...

    def seek(self, offset: int, whence: int = 0, /) -> int: ...


class _Truncated(Exception):
    pass


class _Corrupt(Exception):
    pass


class _Reader:
    def __init__(self, fh: ByteStream) -> None:
        self._fh = fh
        self.pos = 0

    def read(self, n: int) -> bytes:
        data = self._fh.read(n)
        if len(data) != n:
            raise _Truncated
        self.pos += n
        return data

    def skip(self, n: int) -> None:
        self._fh.seek(n, 1)
        self.pos += n

    def unpack(self, fmt: str, size: int) -> int | float | bool:
        value: int | float | bool = struct.unpack(fmt, self.read(size))[0]
        return value

    def u32(self) -> int:
        return int(self.unpack("<I", 4))

    def u64(self) -> int:
        return int(self.unpack("<Q", 8))

    def string(self) -> str:
        length = self.u64()
        if length > _MAX_STRING:
            raise _Corrupt(f"a string of {length} bytes")
        return self.read(length).decode("utf-8", errors="replace")


def _read_value(reader: _Reader, vtype: int) -> MetaValue:
    if vtype == _STRING:
        return reader.string()
    if vtype in _SCALARS:
        fmt, size = _SCALARS[vtype]
        return reader.unpack(fmt, size)
    raise _Corrupt(f"unknown metadata value type {vtype}")


def _read_kv(reader: _Reader) -> tuple[MetaValue | None, int]:
    """Read one value; returns ``(value, skipped_length)`` where long arrays are skipped."""
    vtype = reader.u32()
    if vtype != _ARRAY:
        return _read_value(reader, vtype), 0
    item_type = reader.u32()
    count = reader.u64()
    if item_type == _ARRAY:
        raise _Corrupt("nested arrays")
    if count > _MAX_KEPT_ARRAY:
        if item_type == _STRING:
            for _ in range(count):
                reader.skip(reader.u64())
        elif item_type in _SCALARS:
            reader.skip(count * _SCALARS[item_type][1])
        else:
            raise _Corrupt(f"unknown array item type {item_type}")
        return None, count
    items = [_read_value(reader, item_type) for _ in range(count)]
    return items, 0  # type: ignore[return-value]


def _nbytes(shape: tuple[int, ...], ggml_type: int, name: str) -> int:
    if ggml_type not in GGML_TYPE_SIZES:
        raise _Corrupt(f"tensor {name} has unknown ggml type {ggml_type}")
    block, size = GGML_TYPE_SIZES[ggml_type]
    n = 1
    for dim in shape:
        n *= dim
    if n % block:
        raise _Corrupt(f"tensor {name} has {n} elements, not a multiple of its block size {block}")
    return n // block * size


def _parse(fh: ByteStream, path: Path, file_size: int) -> GGUFFile:
    reader = _Reader(fh)
    if reader.read(4) != _MAGIC:
        raise _Corrupt("it does not start with the GGUF magic bytes")
    version = reader.u32()
    if version not in (2, 3):
        raise _Corrupt(f"unsupported GGUF version {version}")
    n_tensors = reader.u64()
    n_kv = reader.u64()
    if n_tensors > 1_000_000 or n_kv > 1_000_000:
        raise _Corrupt(f"implausible counts ({n_tensors} tensors, {n_kv} keys)")
    metadata: dict[str, MetaValue] = {}
    skipped: dict[str, int] = {}
    for _ in range(n_kv):
        key = reader.string()
        value, skipped_count = _read_kv(reader)
        if value is None:
            skipped[key] = skipped_count
        else:
            metadata[key] = value
    tensors = []
    for _ in range(n_tensors):
        name = reader.string()
        n_dims = reader.u32()
        if n_dims > 8:
            raise _Corrupt(f"tensor {name} has {n_dims} dimensions")
        shape = tuple(reader.u64() for _ in range(n_dims))
        ggml_type = reader.u32()
        offset = reader.u64()
        tensors.append(TensorInfo(name, shape, ggml_type, offset, _nbytes(shape, ggml_type, name)))
    alignment = metadata.get("general.alignment", _DEFAULT_ALIGNMENT)
    if not isinstance(alignment, int) or alignment <= 0:
        raise _Corrupt(f"bad alignment {alignment!r}")
    data_offset = -(-reader.pos // alignment) * alignment
    return GGUFFile(path, version, metadata, tuple(tensors), data_offset, file_size, skipped)


def read_gguf(path: Path) -> GGUFFile:
    """Read and check a GGUF header; every problem becomes a :class:`ModelFileError` saying what to do."""
    path = Path(path)
    try:
        file_size = path.stat().st_size
        with path.open("rb") as fh:
            return read_gguf_stream(fh, path, file_size)
    except FileNotFoundError as exc:
        raise ModelFileError(
            f"model file {path} does not exist; check the path, or download it with `omnidesk models pull`"
        ) from exc
    except IsADirectoryError as exc:
        raise ModelFileError(f"{path} is a directory, not a GGUF file; point to the .gguf file") from exc
    except PermissionError as exc:
        raise ModelFileError(f"cannot read {path}: permission denied; check its permissions") from exc


def read_gguf_stream(fh: ByteStream, path: Path, file_size: int) -> GGUFFile:
    """Read and check the header of a GGUF of ``file_size`` bytes from ``fh`` (a file, or a remote file
    read by ranges: only ``read`` and relative ``seek`` are used)."""
    try:
        info = _parse(fh, path, file_size)
    except _Truncated as exc:
        raise ModelFileError(
            f"{path} is truncated ({file_size} bytes, the header runs past the end); "
            "the download was probably interrupted — download it again"
        ) from exc
    except _Corrupt as exc:
        raise ModelFileError(f"{path} is not a valid GGUF file ({exc}); download it again") from exc
    end = max((info.data_offset + t.offset + t.nbytes for t in info.tensors), default=info.data_offset)
    if end > file_size:
        missing = [t.name for t in info.tensors if info.data_offset + t.offset + t.nbytes > file_size]
        raise ModelFileError(
            f"{path} is truncated: it has {file_size} bytes but its tensors need {end} "
            f"({len(missing)} tensors incomplete, first {missing[0]}); the download was probably "
            "interrupted — download it again"
        )
    return info
