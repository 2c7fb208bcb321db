"""vramkit: how much GPU memory a language model needs, and why.

Every function returns plain data (bytes as ints); formatting lives in `vramkit.units`.
pandas, altair and ipywidgets are imported only by the modules that draw (`charts`, `widgets`).
"""
from .errors import VramkitError
from . import model as _model
from .model import ModelSpec
from .sources import load_model

# vramkit.families registers every family's config readers with vramkit.model when imported: that
# happens on the first config whose model_type model.py does not read itself (start-up stays short
# for the others), or on any `import vramkit.families...`.
_model.FAMILY_LOADER = lambda: __import__("vramkit.families")

__version__ = "0.1.0"
__all__ = ["ModelSpec", "VramkitError", "load_model", "__version__"]
