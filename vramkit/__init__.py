"""vramkit: how much GPU memory a language model needs, and why.

Every function returns plain data (bytes as ints); formatting lives in `vramkit.units`.
pandas, altair and ipywidgets are imported only by the modules that draw (`charts`, `widgets`).
"""
from .errors import VramkitError
from .model import ModelSpec
from . import families  # noqa: F401  (registers every family's config readers)
from .sources import load_model

__version__ = "0.1.0"
__all__ = ["ModelSpec", "VramkitError", "load_model", "__version__"]
