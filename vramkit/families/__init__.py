"""Families of architectures, one small module each, and the registry that picks one.

Each module here (e.g. `hybrid_linear.py`, `llama4.py`, `encoders.py`) defines
`READERS = {model_type: reader}`, where `reader(c: model._Config, model_type: str) -> ModelSpec`
reads a config the way that family's transformers config class does (aliases and class defaults
included); a module may also define `ATTRIBUTE_MAPS = {model_type: {alias: name}}` and
`CLASS_DEFAULTS = {model_type: {key: default}}`, applied to a config before its reader sees it. Importing this package registers every module's readers with the table in
`vramkit.model`, which sits on the floor below and never imports a family. Modules are found by
name, so adding a family is adding a file.
"""
from __future__ import annotations

import os
from importlib import import_module

from .. import model as _model


def _register() -> None:
    # The package's .py files by name (sorted: the same order everywhere). Not pkgutil, which
    # imports `typing` and costs every command a few milliseconds of start-up.
    names = sorted(f[:-3] for f in os.listdir(os.path.dirname(__file__)) if f.endswith(".py"))
    for name in names:
        if name.startswith("_"):
            continue
        module = import_module(f"{__name__}.{name}")
        _model.READERS.update(getattr(module, "READERS", {}))
        # Optional: the family's config classes' attribute_map aliases and absent-key defaults.
        _model.ATTRIBUTE_MAPS.update(getattr(module, "ATTRIBUTE_MAPS", {}))
        _model.CLASS_DEFAULTS.update(getattr(module, "CLASS_DEFAULTS", {}))


_register()
