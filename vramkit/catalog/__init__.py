"""Real models and GPUs as data files, each entry with its source.

`models/NAME.json` holds a Hugging Face config.json under "config" plus where it came from and the
published parameter count; `gpus.json` holds memory (bytes) and bandwidth (bytes/s) per device.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from ..errors import unknown

_HERE = Path(__file__).parent


@lru_cache(maxsize=None)
def model_names() -> tuple[str, ...]:
    """Catalog model names, sorted."""
    return tuple(sorted(p.stem for p in (_HERE / "models").glob("*.json")))


@lru_cache(maxsize=None)
def model_entry(name: str) -> dict:
    """The catalog entry for `name` (case-insensitive), or an unknown-model error."""
    names = {n.lower(): n for n in model_names()}
    key = names.get(name.lower())
    if key is None:
        raise unknown("model", name, model_names())
    return json.loads((_HERE / "models" / f"{key}.json").read_text(encoding="utf-8"))


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
