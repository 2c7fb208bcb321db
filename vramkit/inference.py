"""Inference memory: weights + KV cache + activations + runtime overhead.

Explained in the chapter on inference and the KV cache (chapters/*/04-inference.ipynb).
"""
from __future__ import annotations

from .dtypes import get_format, storage_bytes
from .errors import require_positive
from .model import SLIDING, ModelSpec

# Engines that cache DeepSeek's compressed latent (kv_lora_rank + rope dims per token and layer)
# instead of the expanded per-head K and V that transformers' eager implementation stores.
LATENT_KV_ENGINES = ("vllm", "llama.cpp", "sglang")


def kv_elements_per_token(spec: ModelSpec, layer: int, engine: str = "transformers") -> int:
    """K and V elements one token adds to layer `layer`'s cache, per sequence."""
    if spec.is_mla:
        if engine in LATENT_KV_ENGINES:
            return spec.kv_lora_rank + spec.qk_rope_head_dim
        return spec.num_heads * (spec.head_dim + spec.value_head_dim)
    return spec.num_kv_heads * (spec.head_dim + spec.value_head_dim)


def cached_tokens(spec: ModelSpec, layer: int, context: int, engine: str = "transformers") -> int:
    """Tokens layer `layer` holds after `context` tokens.

    transformers' sliding-window cache keeps the last `sliding_window - 1` tokens: the next
    token's own K/V completes the window.
    """
    if spec.layer_types and spec.layer_types[layer] == SLIDING and spec.sliding_window:
        keep = spec.sliding_window - 1 if engine == "transformers" else spec.sliding_window
        return min(context, keep)
    return context


def kv_cache_bytes(spec: ModelSpec, context: int, batch: int = 1, kv_dtype: str = "bf16",
                   engine: str = "transformers") -> int:
    """Bytes of the K and V tensors held after a prefill of `context` tokens for `batch` sequences.

    Explained in {ref}`kv-cache`. GQA shrinks it by num_heads/num_kv_heads; a sliding-window layer
    holds at most its window; MLA engines hold the compressed latent.
    """
    require_positive("context", context)
    require_positive("batch", batch)
    fmt = get_format(kv_dtype)
    elements = sum(
        kv_elements_per_token(spec, i, engine) * cached_tokens(spec, i, context, engine)
        for i in range(spec.num_layers))
    return storage_bytes(elements * batch, fmt)
