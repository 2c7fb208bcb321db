"""Turn what a user names as MODEL into a `ModelSpec`, and read sizes from checkpoint files.

MODEL may be a config.json path, a folder holding one, a catalog name, or a Hugging Face repo id
("org/name"): its config.json from the local Hugging Face cache, else fetched into it (a few KB,
never weights; HF_HUB_OFFLINE=1 fetches nothing; see vramkit.hub). A path wins over a catalog name, so a local folder called like a catalog model is
read from disk. `safetensors_params` and `gguf_tensors` read exact element counts and stored bytes
from checkpoint headers without loading any weights.
"""
from __future__ import annotations

import math
import os
import re
import stat
import struct
from collections.abc import Mapping
from pathlib import Path

from . import catalog
from .errors import VramkitError, clip, did_you_mean
from .model import ModelSpec, parse_json_bytes, path_error


def load_model(model: str | Path | dict | ModelSpec) -> ModelSpec:
    """A ModelSpec from a spec, a config dict, a config.json path or folder, or a catalog name."""
    if isinstance(model, ModelSpec):
        return model
    if isinstance(model, Mapping):
        return ModelSpec.from_config(model)
    if not isinstance(model, (str, os.PathLike)):
        raise VramkitError(f"MODEL must be a config.json path, a folder, a catalog name or a config dict, "
                           f"got {type(model).__name__}")
    name = os.fspath(model)
    if isinstance(name, bytes):
        raise VramkitError("MODEL must be a text path, got bytes")
    if not name.strip():
        raise VramkitError("MODEL is empty: pass a config.json path, a folder or a catalog name (see 'vramkit models')")
    path = Path(name)
    try:
        exists = os.path.lexists(path) and path.exists()
    except (OSError, ValueError):  # a name too long for the file system, a NUL byte
        exists = False
    if exists:
        return ModelSpec.from_config(path)
    if name.lower() in catalog.model_names_by_lower():
        entry = catalog.model_entry(name)
        return ModelSpec.from_config(entry["config"], source=f"catalog:{entry['name']}")
    if _looks_like_repo_id(name):
        problem = _repo_id_problem(name)
        if problem is None:
            return ModelSpec.from_config(Path(_cached_hub_config(name)), source=f"hub:{name}")
        if not os.path.lexists(os.path.dirname(name) or "."):
            raise VramkitError(f"{_shown(name)}: not a file, a catalog name or a valid Hugging Face repo id ({problem})")
    looks_like_path = name.endswith(".json") or "/" in name or name.startswith(".") or os.sep in name
    if looks_like_path:
        _raise_path_error(name)
    raise VramkitError(
        f"unknown model '{_shown(name)}': not a config.json path or a catalog name"
        f"{did_you_mean(name[:200], catalog.model_names())} (see 'vramkit models')")


def _shown(name) -> str:
    return clip(name, 120)


def _raise_path_error(name: str):
    """The one-line reason a path-like MODEL cannot be read (missing, too long, not permitted)."""
    try:
        os.stat(name)
    except OSError as e:
        raise path_error(name, e) from None
    except ValueError as e:
        raise VramkitError(f"{_shown(name)!r}: not a usable path ({e})") from None
    raise VramkitError(f"{_shown(name)}: no such file or folder")


def _looks_like_repo_id(name: str) -> bool:
    parts = name.split("/")
    return len(parts) == 2 and all(parts) and not name.startswith((".", "/")) and not name.endswith(".json")


_REPO_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _repo_id_problem(name: str) -> str | None:
    """Why `name` ("org/name") is not a valid Hugging Face repo id, or None when it is.

    The Hub's rules (huggingface_hub.utils.validate_repo_id): letters, digits, '-', '_' and '.',
    at most 96 characters, no '--' or '..', not starting or ending with '-' or '.'.
    """
    if len(name) > 96:
        return f"{len(name)} characters, at most 96"
    for part in name.split("/"):
        if not _REPO_PART.fullmatch(part) or part.endswith((".", "-")):
            return "org and name are letters, digits, '-', '_' and '.'"
    if "--" in name or ".." in name:
        return "no '--' or '..'"
    return None


def _cached_hub_config(repo_id: str) -> str:
    """The path of `repo_id`'s config.json: the local Hugging Face cache's, else fetched (vramkit.hub)."""
    from .hub import config_path

    return config_path(repo_id)


# ---- checkpoint headers -------------------------------------------------------------------

# safetensors' own limit on the JSON header (safetensors/src/tensor.rs: MAX_HEADER_SIZE).
MAX_SAFETENSORS_HEADER = 100_000_000
_ST_WIDTHS = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1,
              "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1, "F8_E8M0": 1, "U16": 2, "U32": 4, "U64": 8,
              "C64": 8}


def safetensors_params(path: str | Path) -> dict:
    """Element counts and stored bytes of a .safetensors file or a folder of them, from headers only.

    Returns {"params": int, "bytes": int, "by_dtype": {dtype: elements}}. A checkpoint's element
    count can exceed the model's nn.Parameters by saved buffers (e.g. rotary inv_freq).
    The header is read and checked the way the safetensors library does (an 8-byte little-endian
    length, a JSON object of at most 100 MB, tensors whose byte ranges tile the data exactly), but
    nothing is allocated before its length is checked against the file's size, and no weight is read.
    """
    path = Path(path)
    try:
        is_dir = path.is_dir()
        files = sorted(path.glob("*.safetensors")) if is_dir else [path]
    except (OSError, ValueError) as e:
        raise (path_error(path, e) if isinstance(e, OSError) else VramkitError(f"{_shown(str(path))}: {e}")) from None
    if not files:
        raise VramkitError(f"{_shown(path)}: no .safetensors files")
    by_dtype: dict[str, int] = {}
    total_bytes = 0
    for f in files:
        for dtype, n, nbytes in _safetensors_header(f):
            by_dtype[dtype] = by_dtype.get(dtype, 0) + n
            total_bytes += nbytes
    return {"params": sum(by_dtype.values()), "bytes": total_bytes, "by_dtype": by_dtype}


def _safetensors_header(f: Path) -> list[tuple[str, int, int]]:
    """(dtype, elements, bytes) of each tensor in the safetensors file `f`."""
    size, head = _open_regular(f, 8)
    bad = lambda why: VramkitError(f"{_shown(f)}: not a safetensors file ({why})")  # noqa: E731
    if size < 8:
        raise bad("shorter than its 8-byte header length")
    n = struct.unpack("<Q", head)[0]
    if n > MAX_SAFETENSORS_HEADER or n > size - 8:
        raise bad(f"header length {n:,} beyond the file's {size:,} bytes")
    with open(f, "rb") as fh:
        fh.seek(8)
        raw = fh.read(n)
    if len(raw) != n:
        raise bad("file shorter than its header")
    if not raw.lstrip().startswith(b"{"):
        raise bad("the header is not a JSON object")
    try:
        header = parse_json_bytes(raw, f)
    except VramkitError as e:
        raise bad(str(e).split(": ", 1)[-1]) from None
    if not isinstance(header, dict):
        raise bad("the header is not a JSON object")
    data_size = size - 8 - n
    out, ranges = [], []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if not isinstance(info, dict):
            raise bad(f"tensor '{clip(name, 60)}' is not described by an object")
        dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
        if not isinstance(dtype, str) or not isinstance(shape, list) or not isinstance(offsets, list) \
                or len(offsets) != 2 or len(shape) > 64:
            raise bad(f"tensor '{clip(name, 60)}' lacks dtype, shape or data_offsets")
        if not all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d < 2**63 for d in shape + offsets):
            raise bad(f"tensor '{clip(name, 60)}': shape and offsets must be non-negative integers")
        start, end = offsets
        if not start <= end <= data_size:
            raise bad(f"tensor '{clip(name, 60)}': bytes {start}..{end} beyond the data's {data_size:,}")
        elements = math.prod(shape)
        width = _ST_WIDTHS.get(dtype)
        if width is not None and elements * width != end - start:
            raise bad(f"tensor '{clip(name, 60)}': {elements:,} {dtype} elements do not fill bytes {start}..{end}")
        ranges.append((start, end))
        out.append((dtype, elements, end - start))
    position = 0
    for start, end in sorted(ranges):
        if start != position:
            raise bad("tensor byte ranges overlap or leave gaps")
        position = end
    if position != data_size:
        raise bad(f"tensor data ends at {position:,}, the file's data at {data_size:,}")
    return out


def _open_regular(path: Path, n: int) -> tuple[int, bytes]:
    """(size, first `n` bytes) of the regular file `path`, with one-line errors."""
    try:
        st = os.stat(path)
    except OSError as e:
        raise path_error(path, e) from None
    except ValueError as e:
        raise VramkitError(f"{_shown(str(path))!r}: not a usable path ({e})") from None
    if not stat.S_ISREG(st.st_mode):
        raise VramkitError(f"{_shown(path)}: not a regular file; pass a checkpoint file or a folder of them")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as fh:
            return st.st_size, fh.read(n)
    except OSError as e:
        raise path_error(path, e) from None


def gguf_tensors(path: str | Path) -> dict:
    """Element counts and stored bytes of a GGUF file by tensor type, from its header.

    Returns {"architecture": str | None, "params": int, "bytes": int, "by_type": {type: [elements, bytes]}}.
    Reads the header as the gguf package does (versions 2 and 3, either byte order), checking every
    count and length against the bytes left in the file before reading on (see `gguf_header`).
    """
    header = gguf_header(path)
    by_type: dict[str, list[int]] = {}
    for _, _, type_name, n_elements, n_bytes in header["tensors"]:
        entry = by_type.setdefault(type_name, [0, 0])
        entry[0] += n_elements
        entry[1] += n_bytes
    arch = header["metadata"].get("general.architecture")
    return {"architecture": arch if isinstance(arch, str) else None,
            "params": sum(v[0] for v in by_type.values()),
            "bytes": sum(v[1] for v in by_type.values()), "by_type": by_type}


def gguf_header(path: str | Path) -> dict:
    """{"version", "metadata": {key: value (arrays as their length)}, "tensors": [(name, shape, type,
    elements, bytes)]} of a GGUF file, every length checked against the file's size first."""
    from .gguf_reader import read_gguf_header

    path = Path(path)
    size, _ = _open_regular(path, 0)
    return read_gguf_header(path, size)
