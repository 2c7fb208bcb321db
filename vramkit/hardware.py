"""GPUs and Apple unified memory: how many bytes a device has, and how many a model may use.

Memory is in bytes (GPU "GB" are binary: a 24 GB card has 24 GiB); bandwidth in bytes per second.
On Apple silicon the GPU may use only Metal's recommended working set of the unified memory.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

from . import catalog
from .errors import VramkitError, clip, did_you_mean
from .units import GIB


@dataclass(frozen=True)
class GPU:
    """One accelerator. `memory_bytes` is the installed memory; see `usable_bytes`."""

    id: str
    name: str
    vendor: str
    memory_bytes: int
    bandwidth_bytes_per_s: int
    bf16_flops_per_s: int | None
    unified_memory: bool

    def usable_bytes(self) -> int:
        """Bytes the GPU may hold: all of it on a discrete GPU, Metal's working set on Apple."""
        if self.unified_memory:
            return apple_working_set_bytes(self.memory_bytes)
        return self.memory_bytes

    def to_json(self) -> dict:
        return {"id": self.id, "name": self.name, "vendor": self.vendor, "memory_bytes": self.memory_bytes,
                "usable_bytes": self.usable_bytes(), "bandwidth_bytes_per_s": self.bandwidth_bytes_per_s,
                "bf16_flops_per_s": self.bf16_flops_per_s, "unified_memory": self.unified_memory}


def apple_working_set_bytes(memory_bytes: int) -> int:
    """Metal's recommendedMaxWorkingSetSize: 2/3 of unified memory up to 32 GiB, 3/4 above.

    Measured values (llama.cpp and ollama logs): 8 GB -> 5461.34 MiB, 16 GB -> 10922.67 MiB,
    32 GB -> 21845.34 MiB, 64 GB -> 49152 MiB, 96 GB -> 73728 MiB. macOS 26 on 128 GB raises it to
    84%, and `sysctl iogpu.wired_limit_mb` can raise it by hand; we keep the documented rule.
    """
    share = Fraction(2, 3) if memory_bytes <= 32 * GIB else Fraction(3, 4)
    return int(memory_bytes * share)


@lru_cache(maxsize=None)
def gpus() -> tuple[GPU, ...]:
    """Every GPU in the catalog."""
    return tuple(GPU(id=g["id"], name=g["name"], vendor=g["vendor"], memory_bytes=g["memory_bytes"],
                     bandwidth_bytes_per_s=g["bandwidth_bytes_per_s"], bf16_flops_per_s=g["bf16_flops_per_s"],
                     unified_memory=g["unified_memory"]) for g in catalog.gpu_entries())


def _key(text: str) -> str:
    text = text.lower().replace("nvidia", "").replace("geforce", "").replace("amd", "").replace("instinct", "")
    return re.sub(r"[^a-z0-9]+", "", text)


def get_gpu(name: str | GPU) -> GPU:
    """A catalog GPU by id ('rtx-4090'), name ('NVIDIA GeForce RTX 4090') or short form ('4090', 'h100')."""
    if isinstance(name, GPU):
        return name
    if not isinstance(name, str):
        raise VramkitError(f"GPU must be a name such as 'rtx-4090' (see 'vramkit gpus'), got {type(name).__name__}")
    return _get_gpu(name[:200])


@lru_cache(maxsize=512)
def _gpu_index() -> dict[str, GPU]:
    by_key: dict[str, GPU] = {}
    for g in gpus():
        by_key.setdefault(_key(g.id), g)
        by_key.setdefault(_key(g.name), g)
    return by_key


@lru_cache(maxsize=512)
def _get_gpu(name: str) -> GPU:
    """get_gpu's lookup, cached: the catalog does not change while vramkit runs."""
    key = _key(name)
    by_key = _gpu_index()
    if key in by_key:
        return by_key[key]
    # A unique prefix or suffix also names it: '4090' -> rtx-4090, 'h100' -> h100-sxm5 is ambiguous.
    hits = {g.id: g for k, g in by_key.items() if key and (k.startswith(key) or k.endswith(key) or k == "rtx" + key)}
    if len(hits) == 1:
        return next(iter(hits.values()))
    if len(hits) > 1:
        names = sorted(hits)
        shown = ", ".join(names[:8]) + (f", ... ({len(names)} in all)" if len(names) > 8 else "")
        raise VramkitError(f"GPU '{clip(name)}' is ambiguous: {shown}")
    raise VramkitError(f"unknown GPU '{clip(name)}'{did_you_mean(name, [g.id for g in gpus()])} (see 'vramkit gpus')")


def custom_gpu(memory_gib: float, bandwidth_gb_s: float = 0, name: str = "custom",
               unified_memory: bool = False) -> GPU:
    """A device that is not in the catalog, e.g. for a slider: memory in GiB, bandwidth in GB/s."""
    for what, value, zero_ok in (("GPU memory", memory_gib, False), ("bandwidth", bandwidth_gb_s, True)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
                0 < value <= 2**30 or (zero_ok and value == 0)):
            raise VramkitError(f"{what} must be a positive number (GiB, GB/s) up to 2**30, got {clip(repr(value), 40)}")
    if not isinstance(name, str):
        raise VramkitError(f"GPU name must be a string, got {type(name).__name__}")
    return GPU(id=name, name=name, vendor="custom", memory_bytes=int(memory_gib * GIB),
               bandwidth_bytes_per_s=int(bandwidth_gb_s * 10**9), bf16_flops_per_s=None,
               unified_memory=unified_memory)
