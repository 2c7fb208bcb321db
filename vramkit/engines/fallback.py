"""Plans from vramkit's engine-independent arithmetic (vramkit.inference), for engines whose
memory is what their tensors hold: transformers and MLX, and llama.cpp until its own module
(`llama_cpp.py`) plans it buffer by buffer.

One device holds everything (`gpus` > 1: the decoder layers, their KV and the compute split
evenly, as `device_map="auto"` or llama.cpp's layer split would, the embedding on the first device).
"""
from __future__ import annotations

from .base import DeviceMemory, EnginePlan, EngineRequest

VERSIONS = {"transformers": "transformers 5 (tests/reference fixtures)",
            "mlx": "mlx-lm 0.30 (2026 cache layouts: MLA latent, RotatingKVCache, QuantizedKVCache)",
            "llama.cpp": "llama.cpp (vramkit's compute-buffer estimate)"}


def plan(engine: str, request: EngineRequest) -> EnginePlan:
    from ..inference import (CUDA_CONTEXT_BYTES, kv_bytes_per_token, kv_cache_bytes, llama_cpp_compute_bytes,
                             prefill_activation_bytes, weights_bytes)

    spec, gpu = request.spec, request.gpu
    kv_dtype = request.kv_dtype or ("fp16" if engine == "llama.cpp" else "bf16")
    w = weights_bytes(spec, request.weights, engine=engine)
    kv = kv_cache_bytes(spec, request.context, request.batch, kv_dtype, engine)
    if engine == "llama.cpp":
        compute = llama_cpp_compute_bytes(spec, request.context)
    elif engine == "transformers":
        compute = prefill_activation_bytes(spec, request.context, request.batch)
    else:  # mlx-lm prefills one prompt in steps of 2,048 tokens (prefill_step_size)
        compute = prefill_activation_bytes(spec, min(request.context, 2048), 1)
    unified = bool(gpu is not None and gpu.unified_memory)
    context = 0 if unified or engine == "mlx" or gpu is None else CUDA_CONTEXT_BYTES
    n = max(1, request.gpus)
    name = gpu.id if gpu is not None else "device"
    devices = tuple(DeviceMemory(name=f"{name}:{i}", weights_bytes=w // n + (w % n if i == 0 else 0),
                                 kv_cache_bytes=kv // n + (kv % n if i == 0 else 0),
                                 compute_bytes=compute if engine != "transformers" or i == n - 1 else 0,
                                 other_bytes=context) for i in range(n))
    fits = None
    if gpu is not None:
        fits = all(d.total_bytes <= gpu.usable_bytes() for d in devices)
    per_token = kv_bytes_per_token(spec, kv_dtype, engine)
    return EnginePlan(engine=engine, engine_version=VERSIONS[engine], devices=devices, host=DeviceMemory("host"),
                      kv_tokens_capacity=request.context * request.batch if per_token else None,
                      kv_blocks=None, max_concurrency=None, fits=fits,
                      notes=("activations and runtime overhead are estimates",))
