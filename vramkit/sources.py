"""Turn what a user names as MODEL into a `ModelSpec`.

MODEL may be a config.json path, a folder holding one, or a catalog name. A path wins over a
catalog name, so a local folder called like a catalog model is read from disk.
"""
from __future__ import annotations

from pathlib import Path

from . import catalog
from .errors import VramkitError, did_you_mean
from .model import ModelSpec


def load_model(model: str | Path | dict | ModelSpec) -> ModelSpec:
    """A ModelSpec from a spec, a config dict, a config.json path or folder, or a catalog name."""
    if isinstance(model, ModelSpec):
        return model
    if isinstance(model, dict):
        return ModelSpec.from_config(model)
    path = Path(model)
    if path.exists():
        return ModelSpec.from_config(path)
    name = str(model)
    if name.lower() in {n.lower() for n in catalog.model_names()}:
        entry = catalog.model_entry(name)
        return ModelSpec.from_config(entry["config"], source=f"catalog:{entry['name']}")
    looks_like_path = name.endswith(".json") or "/" in name or name.startswith(".")
    if looks_like_path:
        raise VramkitError(f"{name}: no such file or folder")
    raise VramkitError(
        f"unknown model '{name}': not a config.json path or a catalog name{did_you_mean(name, catalog.model_names())}"
        " (see 'vramkit models')")
