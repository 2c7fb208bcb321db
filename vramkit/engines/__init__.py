"""The front: plan(engine, request) picks the engine module and asks it.

Each engine lives in `vramkit/engines/<module>.py` and exposes `plan(request) -> EnginePlan`
(shapes in `base.py`). Modules are imported only when asked, so `import vramkit` stays fast.
Before planning, `check_format` refuses a weight format the engine cannot run on that device,
in one line naming what it runs there; `fit` uses `runs` to never recommend one.
"""
from __future__ import annotations

from importlib import import_module
from importlib.util import find_spec

from ..errors import VramkitError, unknown
from .base import DeviceMemory, EnginePlan, EngineRequest

ENGINES = ("transformers", "vllm", "llama.cpp", "mlx")
_MODULES = {"transformers": "transformers", "vllm": "vllm", "llama.cpp": "llama_cpp", "mlx": "mlx"}

__all__ = ["ENGINES", "DeviceMemory", "EnginePlan", "EngineRequest", "check_format", "plan", "runs"]


def _module(engine: str):
    """The engine's module, or None when it is not written (llama.cpp before its module lands)."""
    if engine not in _LOADED:
        name = f"{__name__}.{_MODULES[engine]}"
        _LOADED[engine] = import_module(name) if find_spec(name) is not None else None
    return _LOADED[engine]


_LOADED: dict = {}  # engine -> its module (or None), imported on first use


def plan(engine: str, request: EngineRequest) -> EnginePlan:
    """`engine`'s memory plan for `request` (after `check_format`)."""
    if engine not in _MODULES:
        raise unknown("engine", engine, ENGINES)
    check_format(engine, request.weights, request.gpu)
    module = _module(engine)
    if module is None:
        from .fallback import plan as fallback

        return fallback(engine, request)
    return module.plan(request)


# ---- which engine runs which format where ------------------------------------------------------

# Compute capability by catalog GPU id prefix (NVIDIA's CUDA GPUs table): FP8 tensor cores need
# 8.9 (Ada) or 9.0 (Hopper) and later; bf16 needs 8.0 (Ampere).
_CAPABILITY = (("v100", 7.0), ("t4", 7.5), ("rtx-20", 7.5), ("rtx-30", 8.6), ("a10", 8.6), ("a40", 8.6),
               ("a100", 8.0), ("rtx-40", 8.9), ("l4", 8.9), ("l40", 8.9), ("h100", 9.0), ("h200", 9.0),
               ("gh200", 9.0), ("b200", 10.0), ("b300", 10.3), ("gb", 10.0), ("rtx-50", 12.0),
               ("rtx-pro-6000", 12.0), ("dgx-spark", 12.1))


def compute_capability(gpu) -> float | None:
    """The CUDA compute capability of a catalog GPU, or None (AMD, Apple, unknown)."""
    if gpu is None or gpu.vendor != "nvidia":
        return None
    for prefix, cc in _CAPABILITY:
        if gpu.id.startswith(prefix):
            return cc
    return None


def _why_not(engine: str, weights: str, gpu) -> str | None:
    """Why `engine` cannot run `weights` on `gpu`, or None when it can (cached per engine, format
    and GPU: `infer_memory` and the fit solver ask the same question thousands of times)."""
    if engine.__class__ is str and weights.__class__ is str:
        key = (engine, weights, None if gpu is None else (gpu.id, gpu.vendor, gpu.unified_memory))
        why = _WHY_NOT.get(key, _WHY_NOT)
        if why is _WHY_NOT:
            why = _reason(engine, weights, gpu)
            if len(_WHY_NOT) < 4096:
                _WHY_NOT[key] = why
        return why
    return _reason(engine, weights, gpu)


# (engine, weights, (gpu id, vendor, unified memory)) -> the reason or None: the only GPU fields
# `_reason` reads, so two GPU objects that differ elsewhere (a custom memory size) share an answer.
_WHY_NOT: dict = {}


def _reason(engine: str, weights: str, gpu) -> str | None:
    from ..dtypes import ALIASES, GGUF_BLOCK_TYPES, GGUF_MIXES, get_format

    if weights == "checkpoint":  # the config's own quantization_config: priced by vramkit.checkpoints
        return None
    key = str(weights).strip().lower()
    key = ALIASES.get(key, key)
    # GGUF names are known without building the GGUF formats (which imports the gguf package).
    gguf = key in {n.lower() for n in (*GGUF_BLOCK_TYPES, *GGUF_MIXES)}
    fmt = get_format(weights) if not gguf else None
    name, bits, kind = (key, 4, "gguf") if gguf else (fmt.name, fmt.bits, fmt.kind)
    mlx_format = name.startswith("mlx-")
    apple = gpu is not None and (gpu.vendor == "apple" or (gpu.unified_memory and gpu.vendor != "nvidia"
                                                            and gpu.vendor != "amd"))
    cc = compute_capability(gpu)
    if engine == "mlx":
        if gpu is not None and not apple:
            return "MLX runs only on Apple silicon"
        if gguf:
            return "MLX does not run GGUF block types; it runs fp16, bf16, fp32 and its affine mlx-4bit/mlx-8bit"
        if name in ("nf4", "nf4_dq", "int8", "int4") or name.startswith("fp8") or kind == "mx":
            return "MLX runs fp16, bf16, fp32 and its affine mlx-4bit/mlx-8bit (mlx_lm.convert -q)"
        return None
    if mlx_format:
        return f"{name} is MLX's own format; {engine} runs " + (
            "GGUF types and 16-bit weights" if engine == "llama.cpp" else "16-bit, int8, int4, nf4 and fp8 weights")
    if engine == "llama.cpp":
        if not gguf and bits < 16:
            return "llama.cpp runs GGUF block types (q8_0, q4_k_m, ...) and f16/bf16/f32"
        return None
    if gguf and engine == "transformers":
        return "transformers dequantizes GGUF to 16-bit on load; ask for bf16, or use llama.cpp"
    if gguf and engine == "vllm":
        return "vLLM's GGUF loader is experimental and not planned here; use llama.cpp or an fp8/int8/int4 checkpoint"
    if apple:
        if engine == "vllm":
            return "vLLM does not run on Apple GPUs; use mlx or llama.cpp there"
        if name.startswith("nf4"):
            return "bitsandbytes has no Metal backend; on Apple use mlx-4bit/mlx-8bit (mlx) or GGUF (llama.cpp)"
    if name.startswith("fp8") and cc is not None:
        if engine == "vllm" and cc < 8.0:
            return "vLLM runs FP8 weights from Ampere (sm80, weight-only Marlin kernels) onwards"
        if engine != "vllm" and cc < 8.9:
            return f"{engine} needs FP8 tensor cores (Ada sm89 or Hopper sm90); vLLM runs FP8 weights on Ampere"
    if name == "bf16" and engine == "vllm" and cc is not None and cc < 8.0:
        return "bf16 needs compute capability 8.0 (Ampere); this GPU runs fp16"
    return None


def check_format(engine: str, weights: str, gpu=None) -> None:
    """Raise a one-line VramkitError when `engine` cannot run `weights` on `gpu`."""
    why = _why_not(engine, weights, gpu)
    if why:
        where = f" on {gpu.id}" if gpu is not None else ""
        raise VramkitError(f"{engine} cannot run {weights}{where}: {why}")


def runs(engine: str, weights: str, gpu=None) -> bool:
    """Whether `engine` runs `weights` on `gpu` (what `fit` may recommend)."""
    return _why_not(engine, weights, gpu) is None
