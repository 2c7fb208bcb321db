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

import pkgutil
from importlib import import_module

from .. import model as _model


def _register() -> None:
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = import_module(f"{__name__}.{info.name}")
        _model.READERS.update(getattr(module, "READERS", {}))
        # Optional: the family's config classes' attribute_map aliases and absent-key defaults.
        _model.ATTRIBUTE_MAPS.update(getattr(module, "ATTRIBUTE_MAPS", {}))
        _model.CLASS_DEFAULTS.update(getattr(module, "CLASS_DEFAULTS", {}))


_register()
