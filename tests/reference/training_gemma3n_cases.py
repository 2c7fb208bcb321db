"""The `--set gemma3n` cases of generate_training.py (tests/reference/training_gemma3n.json).

Gemma 3n beyond the `gemma3n-altup` cases of training_hybrids.json: a 12-layer model whose first 10
MLPs run the gaussian top-k (Gemma3nTextConfig's default activation_sparsity_pattern), with a
sliding window (128) shorter than the sequence (200: transformers passes a mask, SDPA keeps an
additive copy per sliding layer and K/V repeated to every head), per-layer MLP widths and four
KV-sharing layers; and a small-vocabulary model (2 AltUp streams, no KV sharing) whose peak comes
inside the backward walk rather than at the loss. Settings: each precision, checkpointing, LoRA
(bf16 and under autocast), LoRA with checkpointing, the loop that keeps the outputs, gradient
accumulation. The committed fixture has the first 12 of ORDER but `gemma3n-sparse/bf16-lora` and
`gemma3n-sparse/bf16-adamw-gc` (not run yet: `--resume` adds them).
"""
from __future__ import annotations

_ATT = dict(num_attention_heads=4, num_key_value_heads=2, head_dim=64, max_position_embeddings=4096)
GEMMA3N_ARCHS: dict[str, dict] = {
    "gemma3n-sparse": dict(model_type="gemma3n_text", hidden_size=256, num_hidden_layers=12,
                           intermediate_size=[512] * 6 + [384] * 6, vocab_size=8000, vocab_size_per_layer_input=1000,
                           hidden_size_per_layer_input=32, altup_num_inputs=4, laurel_rank=16,
                           num_kv_shared_layers=4, sliding_window=128, **_ATT),
    "gemma3n-v512": dict(model_type="gemma3n_text", hidden_size=256, num_hidden_layers=6, intermediate_size=768,
                         vocab_size=512, vocab_size_per_layer_input=512, hidden_size_per_layer_input=16,
                         altup_num_inputs=2, laurel_rank=8, num_kv_shared_layers=0, sliding_window=4096, **_ATT),
}
SEQ, BATCH = 200, 2
SETTINGS = {
    "gemma3n-sparse": {
        "mixed-adamw": dict(),
        "bf16-adamw": dict(precision="bf16"),
        "fp32-sgd": dict(precision="fp32", optimizer="sgd"),
        "mixed-adamw-gc": dict(gradient_checkpointing=True),
        "bf16-adamw-gc": dict(precision="bf16", gradient_checkpointing=True),
        "bf16-lora": dict(precision="bf16", lora_rank=16),
        "mixed-lora": dict(lora_rank=16),
        "bf16-lora-gc": dict(precision="bf16", lora_rank=16, gradient_checkpointing=True),
        "mixed-adamw-keep": dict(keep_outputs=True),
        "mixed-adamw-ga2": dict(grad_accum=2),
    },
    "gemma3n-v512": {
        "mixed-adamw": dict(),
        "bf16-adamw": dict(precision="bf16"),
        "mixed-adamw-gc": dict(gradient_checkpointing=True),
        "bf16-lora": dict(precision="bf16", lora_rank=16),
    },
}


# The order the cases run in (a run interrupted keeps the first ones): one of each path first.
ORDER = ("gemma3n-sparse/mixed-adamw", "gemma3n-sparse/mixed-lora", "gemma3n-v512/mixed-adamw",
         "gemma3n-sparse/bf16-lora-gc", "gemma3n-sparse/bf16-adamw", "gemma3n-v512/bf16-lora",
         "gemma3n-sparse/mixed-adamw-gc", "gemma3n-sparse/fp32-sgd", "gemma3n-v512/mixed-adamw-gc",
         "gemma3n-sparse/mixed-adamw-ga2", "gemma3n-sparse/mixed-adamw-keep", "gemma3n-v512/bf16-adamw",
         "gemma3n-sparse/bf16-lora", "gemma3n-sparse/bf16-adamw-gc")


def gemma3n_cases():
    """(case id, arch, settings) in ORDER."""
    for cid in ORDER:
        arch, suffix = cid.split("/")
        yield cid, arch, dict(seq=SEQ, batch=BATCH, **SETTINGS[arch][suffix])
