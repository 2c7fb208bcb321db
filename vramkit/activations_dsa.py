"""What a DeepSeek-V3.2 layer (MLA + DeepSeek Sparse Attention, DeepSeek-V3's router) keeps for backward.

Read from transformers 5.24's modeling_deepseek_v32.py and PyTorch's derivative formulas, checked
with saved-tensor hooks and against MemTracker (tests/reference/training_hybrids.json), with SDPA
run as CUDA runs it (tests/reference/cuda_sdpa.py). Bytes per token of the batch, except where a
term grows with the sequence (the mask), like `activations.layer_terms`' "scores".

Attention (`DeepseekV32Attention`): the low-rank query goes through q_a_proj, an RMSNorm over
q_lora_rank and q_b_proj; the latent through kv_a_proj_with_mqa, an RMSNorm over kv_lora_rank and
kv_b_proj, whose output holds K's nope part and V side by side (V is a view of it, so SDPA keeps
that whole storage). Q is a new tensor (cat of the nope and rotated parts), K too (`expand_kv`
copies the nope part and the shared rotary key into a new tensor). The indexer runs under
`torch.no_grad()`: its query, keys, scores and top-k keep nothing for backward (they are forward
temporaries, see `prefill_peak`). Its top-k becomes a bool mask (batch x 1 x seq x seq) ANDed
with the causal one; with a mask, CUDA's dispatcher picks cuDNN attention (sm90, cuDNN > 9.15) or
the memory-efficient kernel (sm80) when the head dims are multiples of 8, and both keep q, k, v, the
output, an fp32 logsumexp per head and token, and the mask converted to an additive bias in the
compute dtype (batch x seq x seq per layer). o_proj then saves the output copied back to tokens.

Router (`DeepseekV32TopkRouter`): a linear on an fp32 copy of the input, the fp32 sigmoid scores,
the top-2-per-group indices, the chosen groups, the group mask (bool), the top-k indices, and with
norm_topk_prob the denominator and the normalised weights. The grouped experts keep, per routed
row, two int64 indexes (the gather of the rows and the return to token order) and the row's weight.
"""
from __future__ import annotations

from . import activations as act
from .model import ModelSpec

MODEL_TYPES = ("deepseek_v32",)


def _dims(spec: ModelSpec) -> dict[str, int]:
    return dict(spec.family_dims)


def fused_sdpa(spec: ModelSpec, element_bytes: int) -> bool:
    """Whether CUDA runs the masked SDPA in a fused kernel (cuDNN on sm90, memory-efficient on sm80).

    Both need the q/k and v head dims to be multiples of the GEMM alignment (8 elements for 16-bit
    types, 4 for fp32: sdp_utils.cpp); otherwise, with a mask and unequal head dims, only the math
    kernel is left (as on the CPU).
    """
    align = 8 if element_bytes == 2 else 4
    return spec.head_dim % align == 0 and spec.value_head_dim % align == 0


def attention_linears(spec: ModelSpec) -> list[tuple[str, int, int]]:
    """(name, in, out) of one layer's attention linears as PEFT's all-linear sees them: MLA's five and
    the indexer's three (wq_b, wk, weights_proj; adapted, but trained by nothing: the indexer runs
    without gradients)."""
    h, rq, rkv, nh = spec.hidden_size, spec.q_lora_rank, spec.kv_lora_rank, spec.num_heads
    dqk, dr, dv = spec.head_dim, spec.qk_rope_head_dim, spec.value_head_dim
    d = _dims(spec)
    ih, idim = d["index_n_heads"], spec.index_head_dim
    return [("q_a", h, rq), ("q_b", rq, nh * dqk), ("kv_a", h, rkv + dr), ("kv_b", rkv, nh * (dqk - dr + dv)),
            ("o", nh * dv, h), ("indexer_wq_b", rq, ih * idim), ("indexer_wk", h, idim),
            ("indexer_weights_proj", h, ih)]


def graded_shapes(spec: ModelSpec, shapes: list[tuple[int, ...]], lora: bool, rank: int) -> list[tuple[int, ...]]:
    """`shapes` (the trainable tensors) without the indexer's: it runs under `torch.no_grad()`, so its
    parameters (LoRA: its adapters) never get a gradient, and the optimizer keeps no state for them.

    Full fine-tuning: the three linears and the key LayerNorm (weight, bias: in the shapes' last,
    lumped tensor); LoRA: the adapters PEFT puts on the three linears. A shape equal to another
    tensor's is removed once: which one does not change the bytes.
    """
    out = list(shapes)
    for _ in range(spec.num_layers):
        for name, fin, fout in attention_linears(spec):
            if not name.startswith("indexer_"):
                continue
            for s in ([(rank, fin), (fout, rank)] if lora else [(fout, fin)]):
                if s in out:
                    out.remove(s)
    if not lora and out and len(out[-1]) == 1:  # k_norm's weight and bias, among param_shapes' extras
        rest = out[-1][0] - 2 * spec.index_head_dim * spec.num_layers
        out[-1:] = [(rest,)] if rest > 0 else []
    return out


def attention_terms(spec: ModelSpec, p: act.Precision, *, seq: int, attention: str = "sdpa",
                    lora: bool = False) -> tuple[int, int]:
    """(attention, seq-dependent) bytes per token saved by one DSA attention block.

    The block's input (the input norm's output) is counted by the caller's norms, read by two
    linears here (q_a_proj and kv_a_proj_with_mqa) where llama reads it with three. LoRA: each
    adapter's lora_B also saves lora_A's rank-wide output, which `activations.layer_terms` leaves
    out on every family (it does not know the rank); so does this.
    """
    a, nh = p.act, spec.num_heads
    rq, rkv, dqk, dv, dr = spec.q_lora_rank, spec.kv_lora_rank, spec.head_dim, spec.value_head_dim, spec.qk_rope_head_dim
    lora_in = 2 if p.mixed else 4
    # the two inner RMSNorms read a linear's output (compute dtype under autocast)
    norm_in = 2 if p.mixed else a
    b = act._rmsnorm(rq, norm_in, p, lora) + act._rmsnorm(rkv, norm_in, p, lora)
    # q_b_proj and kv_b_proj save their input: the norm output (autocast: its own bf16 copy; LoRA:
    # the adapter's fp32 copy, the frozen linear saving nothing)
    b += (lora_in if lora else (2 if p.mixed else a)) * (rq + rkv)
    q = a * nh * dqk                                            # cat(q_nope, q_rot): a new tensor (autocast: its bf16 copy)
    k = a * nh * dqk                                            # expand_kv's new key tensor
    v = a * nh * (dqk - dr + dv)                                # a view of kv_b_proj's output: its storage
    o_in = (lora_in if lora else a) * nh * dv                   # o_proj's input, copied back to tokens
    if attention == "eager":
        # matmul saves Q and K, softmax its fp32 output, `@ V` the cast back and V; no logsumexp,
        # and the additive mask is only added (not saved)
        return b + q + k + v + o_in, nh * seq * (4 + (a if a != 4 else 0))
    if not fused_sdpa(spec, a):
        # the math kernel: fp32 copies of the scaled Q, the scaled K and V (saved by its two matmuls)
        # and the fp32 softmax; the kernel's inputs (Q, K, V) are not saved, their storages freed
        # unless something else keeps them (V: kv_b_proj's output, kept by nothing else here)
        return b + 4 * nh * (2 * dqk + dv) + o_in, 4 * nh * seq
    out, lse = a * nh * dv, 4 * nh                              # the fused kernel's output and logsumexp
    return b + q + k + v + out + lse + o_in, a * seq            # the additive bias from the bool mask


def prefill_peak(spec: ModelSpec, tokens: int, batch: int, b: int, attention: str) -> int:
    """The widest moment of a DSA layer's attention in a prefill (no_grad), in bytes: transformers'
    indexer, or the attention after it, with the rows the layer holds meanwhile.

    Rows (compute dtype, per token): the embedding output, the layer's input and its normed copy;
    q_b_proj's output, the latent (kv_a_proj), the low-rank query, the rotated q_rot, Q, K and
    kv_b_proj's output (V is a view of it); inside the indexer its query (wq_b, rotated, cat), its
    normed key and rotated k_rot; cos and sin (per position, rope width). The causal mask: bool
    1 x 1 x seq x seq under SDPA (expanded over the batch as a view), the additive one per sequence in
    the compute dtype under eager.

    Indexer (fp32): `matmul(q.float(), k.float().unsqueeze(1))` broadcasts the keys over the
    queries' positions, which for batch > 1 copies them (batch x seq x index_head_dim x seq) beside
    the scores (batch x seq x index_heads x seq); then scaling and relu each hold two score tensors;
    then the scores beside the head-weighted index scores and their masked copy. After it: the top-k
    (int32), the bool index mask and its AND with the causal mask (SDPA) or the masked additive mask
    (eager). Attention: under eager, the compute-dtype scores with the mask added beside their fp32
    copy and the fp32 softmax; under SDPA, the fused kernel's additive bias and output, or (head
    dims that no fused kernel takes) the math kernel's fp32 Q, K, V, scaled Q and two fp32 score
    tensors beside the bias.
    """
    d = _dims(spec)
    n, t, q = batch * tokens, tokens, batch * tokens * tokens
    h, nh, dqk, dr, dv = spec.hidden_size, spec.num_heads, spec.head_dim, spec.qk_rope_head_dim, spec.value_head_dim
    rq, rkv = spec.q_lora_rank, spec.kv_lora_rank
    ih, idim, topk = d["index_n_heads"], spec.index_head_dim, min(d["index_topk"], tokens)
    rows = n * b * (3 * h + nh * dqk + (rkv + dr) + rq + nh * dr + 2 * nh * dqk + nh * (dqk - dr + dv))
    positions = 2 * t * dr * b
    eager = attention == "eager"
    causal = q * b if eager else t * t
    # the indexer
    idx_rows = n * b * (2 * ih * idim + ih * dr + idim + dr)
    scores = 4 * q * ih
    first = 4 * n * ih * idim + 4 * batch * t * idim + (4 * q * idim if batch > 1 else 0) + scores
    masked = scores + 8 * q + (0 if eager else q)
    indexer = rows + idx_rows + causal + max(first, 2 * scores, masked)
    # the attention after it: top-k indices, the index mask, the combined mask
    masks = causal + 4 * n * topk + q + (q * b if eager else q)
    if eager:
        attn = q * nh * (b + 8)
    elif fused_sdpa(spec, b):
        attn = q * b + q + n * nh * (dv * b + 4)                  # bias (and its logical_not), output, logsumexp
    else:
        attn = q * b + 4 * n * nh * (3 * dqk + dv) + 2 * 4 * q * nh
    return int(max(indexer, rows + masks + attn) + positions)


def router_terms(spec: ModelSpec, p: act.Precision) -> int:
    """Bytes per token the DeepSeek-V3 router and the grouped experts' bookkeeping keep (beyond the
    template's expert terms)."""
    d = _dims(spec)
    h, e, k = spec.hidden_size, spec.num_experts, spec.experts_per_token
    g, tg = d["n_group"], d["topk_group"]
    rb = 2 if p.mixed else 4                                    # the router runs in fp32 (autocast: bf16)
    copy = 2 * h if p.mixed else (4 * h if p.act != 4 else 0)   # the linear's input: an fp32 copy (autocast: bf16)
    b = copy + rb * e + 8 * 2 * g + 8 * tg + e + 8 * k          # sigmoid, group top-2, groups, mask, top-k
    if d["norm_topk_prob"]:
        b += rb + rb * k                                        # the denominator, the normalised weights
    return b + k * (2 * 8 + rb)                                 # per routed row: two indexes, its weight


def adjust(spec: ModelSpec, layer: int, p: act.Precision, t: dict[str, int], *, seq: int, attention: str,
           lora: bool) -> dict[str, int]:
    """`activations.layer_terms`' llama template `t` made a DSA layer's."""
    t = dict(t)
    h = spec.hidden_size
    # template attention: q/k/v/o of q_dim and kv_dim; scores (eager); three linears on the norm output
    attn, scores = attention_terms(spec, p, seq=seq, attention=attention, lora=lora)
    t["attention"], t["scores"] = attn, scores
    if lora:
        t["norms"] -= (2 if p.mixed else 4) * h                 # one adapter copy fewer (two linears, not three)
    elif p.mixed:
        t["norms"] -= 2 * h                                     # one autocast copy fewer
    if spec.is_moe and spec.moe_layers[layer]:
        # the template's router: fp32 logits and softmax; a wrapped router's input (LoRA) in the compute
        # dtype: this router keeps its own input copy (router_terms) either way
        t["mlp"] += router_terms(spec, p) - 8 * spec.num_experts
        if lora and p.act != 4:
            t["norms"] -= p.act * h
    return t
