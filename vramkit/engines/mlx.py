"""MLX (mlx-lm) on Apple silicon: weights, the cache mlx-lm keeps, Metal's working set.

mlx-lm's caches (mlx_lm/models/cache.py, 2026): `KVCache` for full attention, `RotatingKVCache`
holding at most the sliding window for sliding layers, `QuantizedKVCache` when asked for
`kv_bits` (4 or 8, groups of 64 with a 16-bit scale and bias: vramkit's mlx-4bit / mlx-8bit as
the KV dtype). DeepSeek-V3's attention caches the compressed MLA latent (kv_lora_rank + rope
dims), as vramkit.inference counts for every latent-caching engine. There is no CUDA context;
the device limit is Metal's recommended working set (vramkit.hardware).
"""
from __future__ import annotations

from .base import EnginePlan, EngineRequest


def plan(request: EngineRequest) -> EnginePlan:
    from .fallback import plan as tensors

    return tensors("mlx", request)
