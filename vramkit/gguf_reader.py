"""A bounded reader of GGUF headers: metadata and tensor infos, never the tensor data.

The layout is llama.cpp's (ggml/src/gguf.cpp, and the gguf package's GGUFReader): the magic
"GGUF", a uint32 version (2 or 3; a big-endian file shows a byte-swapped version), uint64 tensor
and metadata counts, the metadata key/value pairs, then one info per tensor (name, dims, ggml type,
offset into the data section, which starts at the next multiple of `general.alignment`).

Every count and length is checked against the bytes left in the file before anything is read or
allocated, so a 60-byte file that claims 2**60 array items is refused at once instead of looping.
The file is memory-mapped read-only: nothing is copied but the strings of the metadata.
"""
from __future__ import annotations

import mmap
import struct
from pathlib import Path

from .dtypes import GGML_TYPES
from .errors import VramkitError, clip

# Value types of GGUF metadata: (struct code, bytes); 8 is a string, 9 an array.
_SCALARS = {0: ("B", 1), 1: ("b", 1), 2: ("H", 2), 3: ("h", 2), 4: ("I", 4), 5: ("i", 4), 6: ("f", 4),
            7: ("?", 1), 10: ("Q", 8), 11: ("q", 8), 12: ("d", 8)}
_STRING, _ARRAY = 8, 9
MAX_DIMS = 8            # GGML_MAX_DIMS is 4; a little room for future files
MAX_NESTING = 8         # arrays of arrays (the tokenizer's merges are one level)
MAX_KEY_BYTES = 65535   # gguf.cpp refuses longer keys
DEFAULT_ALIGNMENT = 32


class _Bad(Exception):
    pass


class _Cursor:
    """Reads little- or big-endian values from a buffer, refusing any read past its end."""

    def __init__(self, buf, size: int):
        self.buf, self.size, self.pos, self.order = buf, size, 0, "<"

    def need(self, n: int, what: str) -> None:
        if n < 0 or n > self.size - self.pos:
            raise _Bad(f"{what} needs {n:,} bytes at offset {self.pos:,}, the file has {self.size - self.pos:,} left")

    def scalar(self, code: str, width: int, what: str):
        self.need(width, what)
        value = struct.unpack_from(self.order + code, self.buf, self.pos)[0]
        self.pos += width
        return value

    def u32(self, what: str) -> int:
        return self.scalar("I", 4, what)

    def u64(self, what: str) -> int:
        return self.scalar("Q", 8, what)

    def string(self, what: str, limit: int | None = None) -> str:
        n = self.u64(f"the length of {what}")
        if limit is not None and n > limit:
            raise _Bad(f"{what} is {n:,} bytes long (at most {limit:,})")
        self.need(n, what)
        raw = bytes(self.buf[self.pos:self.pos + n])
        self.pos += n
        return raw.decode("utf-8", errors="replace")

    def value(self, vtype: int, what: str, depth: int = 0):
        """One metadata value; an array is skipped over and returned as its length."""
        if vtype in _SCALARS:
            code, width = _SCALARS[vtype]
            return self.scalar(code, width, what)
        if vtype == _STRING:
            return self.string(what)
        if vtype == _ARRAY:
            if depth >= MAX_NESTING:
                raise _Bad(f"{what}: arrays nested deeper than {MAX_NESTING}")
            itype = self.u32(f"the item type of {what}")
            count = self.u64(f"the length of {what}")
            if itype in _SCALARS:
                width = _SCALARS[itype][1]
                self.need(count * width, f"{what} ({count:,} items)")
                self.pos += count * width
            elif itype in (_STRING, _ARRAY):
                # Each string item takes at least 8 bytes, each array at least 12: check before looping.
                self.need(count * (8 if itype == _STRING else 12), f"{what} ({count:,} items)")
                for _ in range(count):
                    self.value(itype, what, depth + 1)
            else:
                raise _Bad(f"{what}: unknown array item type {itype}")
            return count
        raise _Bad(f"{what}: unknown value type {vtype}")


def read_gguf_header(path: Path, size: int) -> dict:
    """The header of the GGUF file `path` of `size` bytes (see vramkit.sources.gguf_header)."""
    if size < 24:
        raise VramkitError(f"{clip(path, 120)}: not a GGUF file ({size} bytes, shorter than a GGUF header)")
    try:
        with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            return _parse(buf, min(size, len(buf)))
    except _Bad as e:
        raise VramkitError(f"{clip(path, 120)}: not a GGUF file ({e})") from None
    except (OSError, ValueError) as e:
        raise VramkitError(f"{clip(path, 120)}: cannot read ({getattr(e, 'strerror', None) or e})") from None


def _parse(buf, size: int) -> dict:
    c = _Cursor(buf, size)
    if bytes(buf[:4]) != b"GGUF":
        raise _Bad(f"magic {bytes(buf[:4])!r}, expected b'GGUF'")
    c.pos = 4
    version = c.u32("the version")
    if version & 0xFFFF == 0 and version > 0xFFFF:  # byte-swapped: a big-endian file
        c.order = ">"
        version = struct.unpack(">I", struct.pack("<I", version))[0]
    if version not in (2, 3):
        raise _Bad(f"version {version}; vramkit reads GGUF versions 2 and 3")
    n_tensors = c.u64("the tensor count")
    n_kv = c.u64("the metadata count")
    # A key/value takes at least 8 + 4 bytes (plus the value); a tensor info at least 8 + 4 + 4 + 8.
    c.need(n_kv * 13, f"{n_kv:,} metadata entries")
    metadata = {}
    for _ in range(n_kv):
        key = c.string("a metadata key", MAX_KEY_BYTES)
        vtype = c.u32(f"the type of '{clip(key, 60)}'")
        metadata[key] = c.value(vtype, f"'{clip(key, 60)}'")
    c.need(n_tensors * 24, f"{n_tensors:,} tensor infos")
    tensors = []
    for _ in range(n_tensors):
        name = c.string("a tensor name", MAX_KEY_BYTES)
        n_dims = c.u32(f"the dims of '{clip(name, 60)}'")
        if n_dims > MAX_DIMS:
            raise _Bad(f"tensor '{clip(name, 60)}' has {n_dims} dimensions (at most {MAX_DIMS})")
        shape = tuple(c.u64(f"a dim of '{clip(name, 60)}'") for _ in range(n_dims))
        ttype = c.u32(f"the type of '{clip(name, 60)}'")
        offset = c.u64(f"the offset of '{clip(name, 60)}'")
        if ttype not in GGML_TYPES:
            raise _Bad(f"tensor '{clip(name, 60)}' has unknown ggml type {ttype}")
        type_name, block, type_size = GGML_TYPES[ttype]
        n = 1
        for d in shape:
            n *= d
        if shape and shape[0] % block:
            raise _Bad(f"tensor '{clip(name, 60)}': row of {shape[0]} is not a multiple of {type_name}'s block {block}")
        tensors.append((name, shape, type_name, n, n // block * type_size, offset))
    alignment = metadata.get("general.alignment", DEFAULT_ALIGNMENT)
    if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
        raise _Bad(f"general.alignment must be a power of two, got {alignment!r}")
    data_start = -(-c.pos // alignment) * alignment
    data_size = size - data_start
    for name, _, _, _, nbytes, offset in tensors:
        if offset + nbytes > data_size:
            raise _Bad(f"tensor '{clip(name, 60)}' ends at byte {offset + nbytes:,} of a data section of {max(data_size, 0):,}")
    return {"version": version, "metadata": metadata,
            "tensors": [t[:5] for t in tensors]}
