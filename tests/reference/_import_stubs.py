"""Stub modules that the packing code's packages import at top level but never use for packing."""
import importlib.abc, importlib.machinery, sys, types
from unittest import mock

STUB = {"datasets", "pcre", "device_smi", "tokenicer", "logbar", "defuser", "pypcre", "random_word", "threadpoolctl", "PIL"}

class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in STUB:
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
    def create_module(self, spec):
        m = mock.MagicMock(name=spec.name); m.__path__ = []; m.__spec__ = spec; return m
    def exec_module(self, module):
        pass

sys.meta_path.append(_Finder())
