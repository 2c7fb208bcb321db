"""transformers: the tensors a Hugging Face model and its cache hold (vramkit.inference, checked
against meta-device models and MemTracker in tests/reference)."""
from __future__ import annotations

from .base import EnginePlan, EngineRequest


def plan(request: EngineRequest) -> EnginePlan:
    from .fallback import plan as tensors

    return tensors("transformers", request)
