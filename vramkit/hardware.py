"""GPUs and unified-memory machines: how many bytes a device has, and how many a model may use.

Memory is in bytes (GPU "GB" are binary: a 24 GB card has 24 GiB); bandwidth in bytes per second.
`memory_bytes` is the installed (nominal) memory; `driver_total_bytes` what the driver reports as
the device's total (ECC on GDDR keeps back 1/16, an H100's driver about 0.4 GiB), and
`usable_bytes()` what a model may use: the driver total where it is known, Metal's recommended
working set on Apple silicon, the graphics carve-out on Strix Halo, the OS's total on DGX Spark.
`runtime_context_bytes` is the memory a process's GPU runtime itself takes (CUDA context), from
published measurements; none on Metal.
"""
from __future__ import annotations

import re
from functools import lru_cache

from . import catalog
from .errors import VramkitError, clip, did_you_mean
from .record import record
from .units import GIB


# What a unified-memory machine lets its GPU use (catalog field `usable_rule`).
USABLE_RULES = ("nominal", "driver-total", "metal-working-set", "carve-out-96")
# Strix Halo: AMD's Variable Graphics Memory gives the GPU at most 96 GiB of a 128 GB machine.
STRIX_HALO_CARVE_OUT_BYTES = 96 * GIB


@record
class GPU:
    """One accelerator. `memory_bytes` is the installed memory; see `usable_bytes`.

    `bf16_flops_per_s` and `fp16_flops_per_s` are dense tensor-core rates; Volta and Turing (V100,
    T4) have fp16 tensor cores only, so their bf16 rate is None.
    """

    id: str
    name: str
    vendor: str
    memory_bytes: int
    bandwidth_bytes_per_s: int
    bf16_flops_per_s: int | None
    unified_memory: bool
    fp16_flops_per_s: int | None = None
    driver_total_bytes: int | None = None   # what nvidia-smi / cudaMemGetInfo report as the total
    ecc: bool = False
    usable_rule: str = ""                    # "" picks the rule from unified_memory and driver_total_bytes

    @property
    def reported_total_bytes(self) -> int:
        """The device total as the driver reports it (vLLM's and llama.cpp's starting point); the
        installed memory where no report is in the catalog."""
        return self.driver_total_bytes or self.memory_bytes

    def usable_bytes(self) -> int:
        """Bytes the GPU may hold: the driver-reported total on a discrete GPU (the installed
        memory where no report is known), Metal's working set on Apple, the graphics carve-out on
        Strix Halo, the OS's total on DGX Spark."""
        rule = self.usable_rule or ("metal-working-set" if self.unified_memory else "driver-total")
        if rule == "metal-working-set":
            return apple_working_set_bytes(self.memory_bytes)
        if rule == "carve-out-96":
            return min(self.memory_bytes, STRIX_HALO_CARVE_OUT_BYTES)
        if rule == "driver-total":
            return self.reported_total_bytes
        return self.memory_bytes

    def to_json(self) -> dict:
        return {"id": self.id, "name": self.name, "vendor": self.vendor, "memory_bytes": self.memory_bytes,
                "driver_total_bytes": self.driver_total_bytes, "usable_bytes": self.usable_bytes(),
                "bandwidth_bytes_per_s": self.bandwidth_bytes_per_s, "bf16_flops_per_s": self.bf16_flops_per_s,
                "fp16_flops_per_s": self.fp16_flops_per_s, "unified_memory": self.unified_memory, "ecc": self.ecc}


# Memory the GPU runtime of one process takes before any buffer: the CUDA context (driver state,
# loaded kernel modules) and the library handles. Published measurements, in bytes as each report
# states them (MB = 10**6, MiB = 2**20). CUDA >= 11.7 can load kernel modules lazily
# (CUDA_MODULE_LOADING=LAZY, the default from CUDA 12.2); before that every kernel of every loaded
# library was loaded at start.
RUNTIME_CONTEXT_REPORTS = (
    {"runtime": "cuda", "lazy": True, "bytes": 451 * 2**20, "setting": "llama.cpp, RTX 4090, CUDA 12",
     "source": "ggml-org/llama.cpp#15860 (memory breakdown: 'unaccounted' = total - free - self)"},
    {"runtime": "cuda", "lazy": True, "bytes": 456 * 2**20, "setting": "llama.cpp, 2nd/3rd RTX 4090, CUDA 12",
     "source": "ggml-org/llama.cpp#15860"},
    {"runtime": "cuda", "lazy": True, "bytes": 35 * 2**30 // 100, "setting": "vLLM non-torch memory, RTX 3090",
     "source": "vllm-project/vllm#10517"},
    {"runtime": "cuda", "lazy": True, "bytes": 300 * 10**6, "setting": "PyTorch, CUDA >= 11.7 lazy loading",
     "source": "pytorch/pytorch#107667"},
    {"runtime": "cuda", "lazy": False, "bytes": 1000 * 10**6, "setting": "PyTorch, CUDA < 11.7, all kernels",
     "source": "pytorch/pytorch#107667"},
    {"runtime": "cuda", "lazy": False, "bytes": 1008 * 10**6, "setting": "PyTorch 1.3, Titan V",
     "source": "pytorch/pytorch#28394"},
)


def runtime_of(gpu: "GPU") -> str:
    """The GPU runtime a device is driven by: 'metal' (Apple), 'rocm' (AMD) or 'cuda'."""
    return {"apple": "metal", "amd": "rocm"}.get(gpu.vendor, "cuda")


def runtime_context_bytes(gpu: "GPU | str | None", lazy: bool = True) -> int:
    """Bytes a process's GPU runtime takes on `gpu` before any buffer (None: a CUDA GPU).

    CUDA: the median of the published measurements for lazy (CUDA >= 11.7 with lazy loading, the
    default from 12.2) or eager module loading. Metal has no such context inside the working set
    (0). ROCm publishes no figure; the CUDA one stands in for it.
    """
    runtime = "cuda" if gpu is None else runtime_of(get_gpu(gpu))
    if runtime == "metal":
        return 0
    values = sorted(r["bytes"] for r in RUNTIME_CONTEXT_REPORTS if r["runtime"] == "cuda" and r["lazy"] == lazy)
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) // 2


def apple_working_set_bytes(memory_bytes: int) -> int:
    """Metal's recommendedMaxWorkingSetSize: 2/3 of unified memory up to 32 GiB, 3/4 above.

    Measured values (llama.cpp and ollama logs): 8 GB -> 5461.34 MiB, 16 GB -> 10922.67 MiB,
    32 GB -> 21845.34 MiB, 64 GB -> 49152 MiB, 96 GB -> 73728 MiB. macOS 26 on 128 GB raises it to
    84%, and `sysctl iogpu.wired_limit_mb` can raise it by hand; we keep the documented rule.
    """
    num, den = (2, 3) if memory_bytes <= 32 * GIB else (3, 4)
    if memory_bytes.__class__ is int and memory_bytes >= 0:  # the same floor, in int arithmetic (per call)
        return memory_bytes * num // den
    from fractions import Fraction  # only here: `vramkit gpus` then never imports fractions (and decimal)

    return int(memory_bytes * Fraction(num, den))


@lru_cache(maxsize=None)
def gpus() -> tuple[GPU, ...]:
    """Every GPU in the catalog."""
    return tuple(GPU(id=g["id"], name=g["name"], vendor=g["vendor"], memory_bytes=g["memory_bytes"],
                     bandwidth_bytes_per_s=g["bandwidth_bytes_per_s"], bf16_flops_per_s=g["bf16_flops_per_s"],
                     unified_memory=g["unified_memory"], fp16_flops_per_s=g.get("fp16_flops_per_s"),
                     driver_total_bytes=g.get("driver_total_bytes"), ecc=bool(g.get("ecc")),
                     usable_rule=g.get("usable_rule", "")) for g in catalog.gpu_entries())


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
