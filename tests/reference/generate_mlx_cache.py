"""Write tests/reference/mlx_cache.json: the bytes mlx-lm's prompt cache holds after a prefill.

Needs `pip install "mlx[cpu]" mlx-lm` (MLX runs on Linux CPUs too). For each tiny config (random
weights; the same Hugging Face config dict vramkit reads) the prompt passes through the model in
chunks of mlx-lm's `prefill_step_size` (2,048 tokens, as mlx_lm.generate feeds it), then the
`nbytes` of every layer's cache is recorded: KVCache (grown in steps of 256 tokens),
RotatingKVCache (sliding layers), QuantizedKVCache (kv_bits 4 or 8, group 64) and DeepSeek-V3's
latent cache. Models run in float32: MLX's CPU GatherMM (MoE) supports only float32, and bf16
matmuls on a CPU are slow; cache bytes scale with the element size, which the test takes from `dtype`.

    python tests/reference/generate_mlx_cache.py
"""
from __future__ import annotations

import importlib
import json
from pathlib import Path

OUT = Path(__file__).with_name("mlx_cache.json")
STEP = 2048  # mlx_lm.generate prefill_step_size

CONFIGS = {
    "llama": dict(model_type="llama", hidden_size=128, num_hidden_layers=2, intermediate_size=256,
                  num_attention_heads=4, num_key_value_heads=2, head_dim=64, rms_norm_eps=1e-5, vocab_size=128,
                  max_position_embeddings=8192, tie_word_embeddings=False),
    "qwen3": dict(model_type="qwen3", hidden_size=64, num_hidden_layers=3, intermediate_size=128,
                  num_attention_heads=4, num_key_value_heads=1, head_dim=32, rms_norm_eps=1e-6, vocab_size=128,
                  max_position_embeddings=8192, rope_theta=10000.0, tie_word_embeddings=True),
    "gemma3_text": dict(model_type="gemma3_text", hidden_size=64, num_hidden_layers=6, intermediate_size=128,
                        num_attention_heads=4, num_key_value_heads=2, head_dim=16, vocab_size=128,
                        sliding_window=128, sliding_window_pattern=3, rms_norm_eps=1e-6,
                        max_position_embeddings=8192),
    "deepseek_v3": dict(model_type="deepseek_v3", vocab_size=128, hidden_size=64, intermediate_size=128,
                        moe_intermediate_size=32, num_hidden_layers=2, num_attention_heads=4,
                        num_key_value_heads=4, n_shared_experts=1, n_routed_experts=4, num_experts_per_tok=2,
                        kv_lora_rank=32, q_lora_rank=48, qk_rope_head_dim=8, v_head_dim=16, qk_nope_head_dim=16,
                        first_k_dense_replace=1, n_group=1, topk_group=1, max_position_embeddings=8192,
                        rms_norm_eps=1e-6, rope_theta=10000.0),
}
CONTEXTS = (1, 100, 256, 257, 1000, 2048, 2049, 2100, 4400)
FLOAT32 = tuple(CONFIGS)


def measure(name: str, config: dict, context: int, kv_bits: int | None) -> dict:
    import mlx.core as mx
    from mlx_lm.models import cache as mlx_cache

    module = importlib.import_module(f"mlx_lm.models.{config['model_type']}")
    model = module.Model(module.ModelArgs.from_dict(config))
    # Quantized caches keep scales and biases in the model's dtype: bf16 there, as mlx-lm runs.
    bf16 = bool(kv_bits) or name not in FLOAT32
    dtype = mx.bfloat16 if bf16 else mx.float32
    model.set_dtype(dtype)
    cache = mlx_cache.make_prompt_cache(model)
    if kv_bits:
        cache = [mlx_cache.QuantizedKVCache(group_size=64, bits=kv_bits) for _ in cache]
    done = 0
    while done < context:
        n = min(STEP, context - done)
        mx.eval(model(mx.zeros((1, n), dtype=mx.int32), cache=cache))
        done += n
    return {"arch": name, "config": config, "context": context, "dtype": "bf16" if bf16 else "fp32",
            "kv_bits": kv_bits, "caches": [type(c).__name__ for c in cache],
            "layer_bytes": [int(c.nbytes) for c in cache], "kv_cache_bytes": int(sum(c.nbytes for c in cache))}


def main() -> None:
    import mlx.core as mx
    from importlib.metadata import version

    cases = []
    for name, config in CONFIGS.items():
        for context in CONTEXTS:
            cases.append(measure(name, config, context, None))
    for bits in (4, 8):
        for context in (100, 300, 700):
            cases.append(measure("llama", CONFIGS["llama"], context, bits))
    doc = {"generator": "tests/reference/generate_mlx_cache.py", "mlx": version("mlx"), "mlx_lm": version("mlx-lm"),
           "device": str(mx.default_device()), "prefill_step_size": STEP, "cases": cases}
    OUT.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    print(f"{len(cases)} cases -> {OUT}")


if __name__ == "__main__":
    main()
