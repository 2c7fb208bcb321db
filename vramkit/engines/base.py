"""What every engine module answers: this model, this request, these devices.

An engine module (`vramkit/engines/<engine>.py`) exposes `plan(request) -> EnginePlan`, planning
memory the way that engine does and naming the engine version it matches. This file holds only
the shared data shapes; the arithmetic that is the same for every engine (KV bytes per token,
weights in a format) stays in `vramkit.inference` below, and the front that picks an engine sits
above (`vramkit.engines.plan`). All sizes are ints in bytes.
"""
from __future__ import annotations

from collections.abc import Mapping

from ..model import ModelSpec
from ..record import field, record


@record
class DeviceMemory:
    """What one device (or the host) holds, in bytes."""

    name: str
    weights_bytes: int = 0
    kv_cache_bytes: int = 0
    compute_bytes: int = 0   # activations / compute buffers / CUDA graphs / engine scratch
    other_bytes: int = 0     # CUDA context, non-torch memory: counted in total_bytes, reported apart

    @property
    def total_bytes(self) -> int:
        return self.weights_bytes + self.kv_cache_bytes + self.compute_bytes + self.other_bytes

    def to_json(self) -> dict:
        return {"name": self.name, "weights_bytes": self.weights_bytes, "kv_cache_bytes": self.kv_cache_bytes,
                "compute_bytes": self.compute_bytes, "other_bytes": self.other_bytes,
                "total_bytes": self.total_bytes}


@record
class EngineRequest:
    """One question to an engine. `options` holds the engine's own flags, spelled as the engine
    spells them with dashes turned into underscores (e.g. {"n_gpu_layers": 99, "flash_attn": "on"}),
    only those the user gave: each engine applies its own defaults."""

    spec: ModelSpec
    context: int
    batch: int = 1
    weights: str = "bf16"
    kv_dtype: str | None = None
    gpu: object = None            # a vramkit.hardware.GPU, or None (no device given)
    gpus: int = 1              # devices of that kind
    options: Mapping[str, object] = field(default_factory=dict)


@record
class EnginePlan:
    """An engine's memory plan: one entry per device, the host, and what the engine would report."""

    engine: str
    engine_version: str
    devices: tuple[DeviceMemory, ...]
    host: DeviceMemory
    kv_tokens_capacity: int | None = None  # tokens of KV the engine's cache can hold
    kv_blocks: int | None = None           # vLLM: whole blocks in the pool
    max_concurrency: float | None = None   # vLLM: requests of max_model_len the pool serves at once
    fits: bool | None = None               # None when no device was given
    notes: tuple[str, ...] = ()            # what is estimated rather than exact, in words
    extra: Mapping[str, object] = field(default_factory=dict)  # engine-specific numbers (ints, bools, str)

    def to_json(self) -> dict:
        return {"engine": self.engine, "engine_version": self.engine_version,
                "devices": [d.to_json() for d in self.devices], "host": self.host.to_json(),
                "kv_tokens_capacity": self.kv_tokens_capacity, "kv_blocks": self.kv_blocks,
                "max_concurrency": self.max_concurrency, "fits": self.fits, "notes": list(self.notes),
                **dict(self.extra)}
