"""Real models and GPUs as data files, each entry with its source.

`models/NAME.json` holds a Hugging Face config.json under "config" plus where it came from and the
published parameter count; `gpus.json` holds memory (bytes) and bandwidth (bytes/s) per device.
"""
from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

from ..errors import unknown

_HERE = Path(__file__).parent
_MODELS = os.path.join(os.path.dirname(__file__), "models")


@lru_cache(maxsize=None)
def model_names() -> tuple[str, ...]:
    """Catalog model names, sorted."""
    # os.listdir rather than Path.glob (a third of a millisecond less); glob's '*' skips dot files too
    return tuple(sorted(f[:-5] for f in os.listdir(_MODELS) if f.endswith(".json") and not f.startswith(".")))


@lru_cache(maxsize=None)
def model_names_by_lower() -> dict[str, str]:
    """{lower-case name: catalog name} (built once: `vramkit models` looks up every name)."""
    return {n.lower(): n for n in model_names()}


@lru_cache(maxsize=None)
def model_entry(name: str) -> dict:
    """The catalog entry for `name` (case-insensitive), or an unknown-model error."""
    key = model_names_by_lower().get(name.lower())
    if key is None:
        raise unknown("model", name, model_names())
    with open(os.path.join(_MODELS, f"{key}.json"), "rb") as f:  # bytes: json reads UTF-8 itself
        return json.loads(f.read())


@lru_cache(maxsize=None)
def gpu_entries() -> tuple[dict, ...]:
    """Every GPU in the catalog, as stored."""
    return tuple(json.loads((_HERE / "gpus.json").read_text(encoding="utf-8"))["gpus"])


@lru_cache(maxsize=None)
def published(id: str) -> dict:
    """A published table kept as data (`published-ID.json`, with its source), for the book to check.

    Published figures are copied as printed, errors included: the chapters recompute them.
    """
    ids = sorted(p.stem.removeprefix("published-") for p in _HERE.glob("published-*.json"))
    if id not in ids:
        raise unknown("published table", id, ids)
    return json.loads((_HERE / f"published-{id}.json").read_text(encoding="utf-8"))
