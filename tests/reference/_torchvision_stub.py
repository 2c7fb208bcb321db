"""A stand-in for torchvision, which timm imports at top level but never uses to build a model.

generate_static_mm_enc.py builds Gemma 3n's vision tower, timm's MobileNetV5, through transformers'
TimmWrapperModel on the meta device. timm's layers import `torchvision.ops.misc.FrozenBatchNorm2d`
(used only to freeze BatchNorms, never to build one) and its data package imports torchvision's
transforms; transformers' timm check asks for torchvision too. torchvision's wheels are pinned to one
torch release, so instead of installing one beside the reference torch, `install()` registers empty
modules (version "0.0", below every version transformers' image processors compare against) when
torchvision is missing. An installed torchvision always wins.
"""
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
from unittest import mock


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] == "torchvision":
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec):
        module = types.ModuleType(spec.name)
        module.__path__, module.__file__, module.__version__ = [], "<stub>", "0.0"
        module.__getattr__ = lambda attr: mock.MagicMock(name=f"{spec.name}.{attr}")
        if spec.name == "torchvision.ops.misc":
            import torch

            class FrozenBatchNorm2d(torch.nn.Module):
                """Named by timm only in isinstance checks."""

            module.FrozenBatchNorm2d = FrozenBatchNorm2d
        return module

    def exec_module(self, module):
        pass


def install() -> bool:
    """Register the stand-in if torchvision is not installed; True if it was registered."""
    if importlib.util.find_spec("torchvision") is not None:
        return False
    sys.meta_path.append(_Finder())
    return True
