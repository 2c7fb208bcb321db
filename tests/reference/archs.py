"""Small versions of real architectures shared by the reference generators (prefill and training).

A few layers, real widths and vocabularies, so that MLP width and vocabulary both matter. Each
generator adds the variants only it needs; the entries here are identical for both.
"""

SHARED: dict[str, dict] = {
    "llama-mha": dict(model_type="llama", hidden_size=512, intermediate_size=1376, num_hidden_layers=4,
                      num_attention_heads=8, num_key_value_heads=8, vocab_size=32000,
                      tie_word_embeddings=False, max_position_embeddings=4096),
    "llama-gqa-128k": dict(model_type="llama", hidden_size=512, intermediate_size=1536, num_hidden_layers=4,
                           num_attention_heads=8, num_key_value_heads=2, vocab_size=128256,
                           tie_word_embeddings=True, max_position_embeddings=4096),
    "mistral-gqa": dict(model_type="mistral", hidden_size=512, intermediate_size=1792, num_hidden_layers=4,
                        num_attention_heads=8, num_key_value_heads=2, vocab_size=32000, sliding_window=4096,
                        tie_word_embeddings=False, max_position_embeddings=4096),
    "qwen2-152k": dict(model_type="qwen2", hidden_size=512, intermediate_size=1536, num_hidden_layers=4,
                       num_attention_heads=8, num_key_value_heads=2, vocab_size=151936,
                       tie_word_embeddings=True, max_position_embeddings=4096),
    "gemma3-262k": dict(model_type="gemma3_text", hidden_size=384, intermediate_size=1536, num_hidden_layers=4,
                        num_attention_heads=4, num_key_value_heads=1, head_dim=256, vocab_size=262144,
                        sliding_window=512, max_position_embeddings=4096),
    "gpt-neox": dict(model_type="gpt_neox", hidden_size=512, intermediate_size=2048, num_hidden_layers=4,
                     num_attention_heads=8, vocab_size=50304, rotary_pct=0.25, max_position_embeddings=4096,
                     tie_word_embeddings=False),
    "olmo2": dict(model_type="olmo2", hidden_size=512, intermediate_size=1376, num_hidden_layers=4,
                  num_attention_heads=8, num_key_value_heads=8, vocab_size=100352,
                  tie_word_embeddings=False, max_position_embeddings=4096),
    "qwen3-moe": dict(model_type="qwen3_moe", hidden_size=512, intermediate_size=1536, moe_intermediate_size=256,
                      num_hidden_layers=4, num_attention_heads=8, num_key_value_heads=4, head_dim=64,
                      num_experts=8, num_experts_per_tok=2, decoder_sparse_step=1, mlp_only_layers=[],
                      vocab_size=151936, tie_word_embeddings=False, max_position_embeddings=4096),
    "mixtral-moe": dict(model_type="mixtral", hidden_size=512, intermediate_size=768, num_hidden_layers=4,
                        num_attention_heads=8, num_key_value_heads=2, num_local_experts=4,
                        num_experts_per_tok=2, vocab_size=32000, tie_word_embeddings=False,
                        max_position_embeddings=4096),
}


def shared(*names: str) -> dict[str, dict]:
    """The shared entries called `names`, in that order."""
    return {name: SHARED[name] for name in names}
