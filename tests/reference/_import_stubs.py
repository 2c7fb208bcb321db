"""Stand-ins for modules that autoawq and gptqmodel import at top level but never use to pack a layer.

generate_quantized.py imports this first. The finder sits last on sys.meta_path, so an installed module
always wins; only a missing one from STUB becomes an empty MagicMock module (autoawq imports `datasets`
for calibration data; gptqmodel `pcre` and `device_smi` for its logger and device probe, `PIL` for
vision models, `defuser` for its model definitions).
"""
import importlib.abc
import importlib.machinery
import sys
from unittest import mock

STUB = {"datasets", "pcre", "PIL", "device_smi", "defuser"}


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in STUB:
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec):
        module = mock.MagicMock(name=spec.name)
        module.__path__, module.__spec__ = [], spec
        return module

    def exec_module(self, module):
        pass


sys.meta_path.append(_Finder())
