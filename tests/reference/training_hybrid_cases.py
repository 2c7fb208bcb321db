"""The `--set hybrids` cases of generate_training.py: training steps of the hybrid and 2026 families.

Small configs with odd shapes (seq 200 is no multiple of the 64-token chunks, so the chunked scans
pad), each run in a few settings: plain, gradient checkpointing, LoRA, and the hand-written loop
that keeps the outputs. Families with MoE layers run in bf16 only: their fused experts' CPU
grouped_mm accepts only bf16 inputs, and the eager experts loop calls nonzero(), whose output shape
FakeTensorMode cannot know (as in the base set).

The mixers run transformers' torch paths, as on any machine without the kernels: Gated DeltaNet's
torch_chunk_gated_delta_rule, Mamba-2's torch_forward (chunked SSD scan), Mamba's slow_forward
(one step per token), LFM2's slow_forward, and the causal_conv1d fallback. CUDA runs with
flash-linear-attention, mamba-ssm and causal-conv1d installed save other tensors.
"""
from __future__ import annotations

V = 8000
_ATT = dict(num_attention_heads=4, num_key_value_heads=2, head_dim=64, vocab_size=V, max_position_embeddings=4096)

HYBRID_ARCHS: dict[str, dict] = {
    # ---- hybrids: recurrent / convolution mixers between attention layers ----------------
    "lfm2-conv": dict(model_type="lfm2", hidden_size=256, num_hidden_layers=4, intermediate_size=768,
                      full_attn_idxs=[1, 3], conv_L_cache=3, block_multiple_of=64, **_ATT),
    "qwen3_5-gdn": dict(model_type="qwen3_5_text", hidden_size=256, num_hidden_layers=4, intermediate_size=512,
                        linear_num_key_heads=2, linear_num_value_heads=4, linear_key_head_dim=32,
                        linear_value_head_dim=48, linear_conv_kernel_dim=4, **_ATT),
    "qwen3_next-gdn-moe": dict(model_type="qwen3_next", hidden_size=256, num_hidden_layers=4, intermediate_size=512,
                               num_experts=4, num_experts_per_tok=2, moe_intermediate_size=128,
                               shared_expert_intermediate_size=192, decoder_sparse_step=2,
                               linear_num_key_heads=2, linear_num_value_heads=4, linear_key_head_dim=32,
                               linear_value_head_dim=48, linear_conv_kernel_dim=4, **_ATT),
    "bamba-mamba2": dict(model_type="bamba", hidden_size=256, num_hidden_layers=3, intermediate_size=512,
                         attn_layer_indices=[1], mamba_n_heads=8, mamba_n_groups=2, mamba_d_state=32,
                         mamba_d_conv=4, mamba_expand=2, mamba_chunk_size=64, **_ATT),
    "nemotron_h-mamba2": dict(model_type="nemotron_h", hidden_size=256, hybrid_override_pattern="M-M*M-",
                              intermediate_size=512, ssm_state_size=32, mamba_num_heads=8, mamba_head_dim=48,
                              n_groups=2, conv_kernel=4, chunk_size=64, **_ATT),
    "granitemoehybrid-dense": dict(model_type="granitemoehybrid", hidden_size=256, num_hidden_layers=4,
                                   intermediate_size=512, num_local_experts=0, shared_intermediate_size=384,
                                   layer_types=["mamba", "attention", "mamba", "mamba"], mamba_n_heads=8,
                                   mamba_n_groups=2, mamba_d_state=32, mamba_d_conv=4, mamba_expand=2,
                                   mamba_chunk_size=64, **{k: v for k, v in _ATT.items() if k != "head_dim"}),
    "falcon_h1-parallel": dict(model_type="falcon_h1", hidden_size=256, num_hidden_layers=3, intermediate_size=512,
                               mamba_d_ssm=384, mamba_n_heads=8, mamba_n_groups=2, mamba_d_state=32,
                               mamba_d_conv=4, mamba_chunk_size=64, **_ATT),
    "jamba-mamba1": dict(model_type="jamba", hidden_size=256, num_hidden_layers=4, intermediate_size=512,
                         num_experts=1, attn_layer_period=2, attn_layer_offset=1, mamba_d_state=16,
                         mamba_d_conv=4, mamba_expand=2, use_mamba_kernels=False,
                         **{k: v for k, v in _ATT.items() if k != "head_dim"}),
    # ---- 2026 attention families --------------------------------------------------------
    "smollm3-nope": dict(model_type="smollm3", hidden_size=256, num_hidden_layers=4, intermediate_size=512,
                         no_rope_layer_interval=2, pad_token_id=0, **_ATT),
    "olmo3-window": dict(model_type="olmo3", hidden_size=256, num_hidden_layers=4, intermediate_size=512,
                         sliding_window=4096, **{k: v for k, v in _ATT.items() if k != "head_dim"}),
    "gemma3n-altup": dict(model_type="gemma3n_text", hidden_size=256, num_hidden_layers=7, intermediate_size=512,
                          vocab_size_per_layer_input=1000, hidden_size_per_layer_input=32, altup_num_inputs=4,
                          laurel_rank=16, num_kv_shared_layers=2, sliding_window=4096,
                          **{k: v for k, v in _ATT.items() if k != "vocab_size"}, vocab_size=V),
    "llama4-moe": dict(model_type="llama4_text", hidden_size=256, num_hidden_layers=4, intermediate_size=128,
                       intermediate_size_mlp=512, num_local_experts=4, num_experts_per_tok=1,
                       interleave_moe_layer_step=2, attention_chunk_size=8192, **_ATT),
    "glm4_moe-qknorm": dict(model_type="glm4_moe", hidden_size=256, num_hidden_layers=3, intermediate_size=512,
                            moe_intermediate_size=128, n_routed_experts=4, n_shared_experts=1,
                            num_experts_per_tok=2, first_k_dense_replace=1, use_qk_norm=True,
                            partial_rotary_factor=0.5, n_group=1, topk_group=1, **_ATT),
    "minimax_m2-moe": dict(model_type="minimax_m2", hidden_size=256, num_hidden_layers=3, intermediate_size=128,
                           num_local_experts=4, num_experts_per_tok=2, rotary_dim=32, **_ATT),
    "deepseek_v32-dsa": dict(model_type="deepseek_v32", hidden_size=256, num_hidden_layers=3, num_attention_heads=4,
                             num_key_value_heads=4, intermediate_size=512, moe_intermediate_size=128,
                             vocab_size=V, q_lora_rank=96, kv_lora_rank=64, qk_nope_head_dim=32,
                             qk_rope_head_dim=16, v_head_dim=32, n_routed_experts=4, n_shared_experts=1,
                             num_experts_per_tok=2, n_group=1, topk_group=1, first_k_dense_replace=1,
                             index_head_dim=32, index_n_heads=2, index_topk=2048, max_position_embeddings=4096),
}
# Head dims that are no multiple of 8 (44 and 28): no fused CUDA kernel takes them, so with the DSA
# mask CUDA runs SDPA's math kernel too (tests/reference/cuda_sdpa.py): the other path vramkit models.
HYBRID_ARCHS["deepseek_v32-dsa-math"] = dict(HYBRID_ARCHS["deepseek_v32-dsa"], qk_nope_head_dim=28, v_head_dim=28)
MOE = {"qwen3_next-gdn-moe", "llama4-moe", "glm4_moe-qknorm", "minimax_m2-moe", "deepseek_v32-dsa",
       "deepseek_v32-dsa-math"}
SEQ, BATCH = 200, 2
DENSE_SETTINGS = {
    "mixed-adamw": dict(),
    "mixed-adamw-gc": dict(gradient_checkpointing=True),
    "bf16-lora": dict(precision="bf16", lora_rank=16),
    "mixed-adamw-keep": dict(keep_outputs=True),
}
MOE_SETTINGS = {
    "bf16-adamw": dict(precision="bf16"),
    "bf16-adamw-gc": dict(precision="bf16", gradient_checkpointing=True),
    "bf16-lora": dict(precision="bf16", lora_rank=16),
    "bf16-adamw-keep": dict(precision="bf16", keep_outputs=True),
}


def hybrid_cases():
    """(case id, arch, settings): the first setting of every family first, so a partial run covers all."""
    table = [(arch, MOE_SETTINGS if arch in MOE else DENSE_SETTINGS) for arch in HYBRID_ARCHS]
    for k in range(4):
        for arch, settings in table:
            suffix, st = list(settings.items())[k]
            yield f"{arch}/{suffix}", arch, dict(seq=SEQ, batch=BATCH, **st)
