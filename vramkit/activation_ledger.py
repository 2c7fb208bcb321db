"""The per-layer activation ledger: every tensor a decoder layer saves for backward, one row each.

`vramkit.activations.layer_terms` sums these tensors by component (and is what `train_memory`
uses, checked against MemTracker in tests/reference/training.json); this module lists them one by
one (which tensor, how wide per token, in which dtype, saved by which op) so a reader can see where
the bytes of a layer go. tests/test_activation_ledger.py checks that the rows add up to
`layer_terms` exactly, for every precision and attention implementation covered.

Covered: llama-style dense decoders (separate q/k/v and gate/up/down linears, RMSNorm, optional
per-head QK norm: Llama, Mistral, Qwen 2/3, SmolLM, ...), full fine-tuning. Others raise
VramkitError: their tensors are summed in `layer_terms` but not itemized here.

Also here: Korthikanti et al.'s per-layer formula, term by term (`korthikanti_terms`), from the
catalog's copy of the paper's section 4.1, for the chapter to set beside the ledger.
"""
from __future__ import annotations

from dataclasses import dataclass

from . import activations as act
from .errors import VramkitError, require_positive, unknown
from .model import ModelSpec

DTYPE = {2: "bf16", 4: "fp32"}


@dataclass(frozen=True)
class LedgerRow:
    """One saved tensor. `width`: elements per token (None for a tensor whose size does not follow
    the tokens: the bf16 weight copies); `bytes`: its size for the ledger's tokens, an int."""

    part: str           # "norms", "attention", "scores", "mlp" or "weight_casts" (layer_terms' keys)
    tensor: str
    saved_by: str
    width: int | None
    dtype: str
    bytes: int
    paper: str = ""     # the Korthikanti term (catalog key) this tensor plays the part of; "" for none


def _covered(spec: ModelSpec) -> None:
    mt = spec.model_type
    if (mt in act.FUSED_QKV or mt in act.FUSED_GATE_UP or mt in act.POST_NORM or mt in ("gpt2", "gpt_neox")
            or spec.is_moe or spec.is_mla or spec.is_hybrid or not spec.mlp_gated or spec.norm_bias
            or spec.architecture != "decoder" or spec.qk_norm == "proj"):
        raise VramkitError(f"{spec.source or mt}: the activation ledger itemizes llama-style dense decoders "
                           "(q/k/v, gate/up/down, RMSNorm); expected e.g. llama-3.1-8b or qwen3-8b")


def layer_ledger(spec: ModelSpec, *, seq: int, batch: int = 1, precision: str = "mixed",
                 attention: str = "sdpa", layer: int = 0) -> list[LedgerRow]:
    """The tensors decoder layer `layer` saves for backward in a full fine-tuning step of `batch`
    sequences of `seq` tokens, as rows; their bytes add up to `layer_terms` x tokens plus the
    layer's share of the mixed-precision weight copies (what `train_memory` counts per layer)."""
    from .training import ATTENTIONS

    _covered(spec)
    seq, batch = require_positive("seq", seq), require_positive("batch", batch)
    if precision not in act.PRECISIONS:
        raise unknown("precision", precision, tuple(act.PRECISIONS))
    if attention not in ATTENTIONS:
        raise unknown("attention", attention, ATTENTIONS)
    p = act.PRECISIONS[precision]
    tokens = seq * batch
    h, q, kv, i, heads = spec.hidden_size, spec.q_dim, spec.kv_dim, spec.intermediate_size, spec.num_heads
    a, res = DTYPE[p.act], DTYPE[p.res]
    rows: list[LedgerRow] = []

    def row(part, tensor, saved_by, width, nbytes_per_el, paper=""):
        rows.append(LedgerRow(part, tensor, saved_by, width, DTYPE[nbytes_per_el],
                              width * nbytes_per_el * tokens, paper))

    # two RMSNorms (input_layernorm before attention, post_attention_layernorm before the MLP)
    for where in ("input_layernorm", "post_attention_layernorm"):
        if p.res == 4:
            row("norms", f"{where}: input x (fp32)", "pow(2) and x * rsqrt", h, 4, "layernorm")
        else:
            row("norms", f"{where}: x.to(fp32)", "pow(2) and x * rsqrt", h, 4, "layernorm")
        row("norms", f"{where}: rsqrt(mean(x²) + eps)", "x * rsqrt", 1, 4)
        row("norms", f"{where}: normed x ({res}, the input's dtype)", "weight * x", h, p.res, "layernorm")
    if p.mixed:
        # autocast casts each linear's fp32 input to its own bf16 copy (casts of activations are not cached)
        for name in ("q_proj", "k_proj", "v_proj", "gate_proj", "up_proj"):
            row("norms", f"bf16 copy of the normed x for {name}", name, h, 2,
                "qkv_input" if name[0] in "qkv" else "fc1_input")
    else:
        row("norms", "normed x (norm output)", "q_proj, k_proj, v_proj", h, p.res, "qkv_input")
        row("norms", "normed x (norm output)", "gate_proj, up_proj", h, p.res, "fc1_input")

    # attention
    if spec.qk_norm == "head":
        for name, width in (("q_norm", q), ("k_norm", kv)):
            row("attention", f"{name}: x.to(fp32)", "pow(2) and x * rsqrt", width, 4)
            row("attention", f"{name}: normed, cast back to {a}", "weight * x", width, p.act)
    eager = attention == "eager"
    if not eager:
        row("attention", f"Q after RoPE ({heads} heads)", "SDPA (flash / efficient)", q, p.act, "qk")
        row("attention", f"K after RoPE ({spec.num_kv_heads} KV heads)", "SDPA", kv, p.act, "qk")
        row("attention", f"V ({spec.num_kv_heads} KV heads)", "SDPA", kv, p.act, "attn_v")
        row("attention", "SDPA output (token-major: also o_proj's input)", "SDPA and o_proj", q, p.act, "proj_input")
        row("attention", "logsumexp, one per head and token", "SDPA", heads, 4)
    else:
        row("attention", f"Q after RoPE ({heads} heads)", "Q @ Kᵀ", q, p.act, "qk")
        row("attention", f"K repeated to {heads} heads (repeat_kv)", "Q @ Kᵀ", q, p.act, "qk")
        row("attention", f"V repeated to {heads} heads (repeat_kv)", "P @ V", q, p.act, "attn_v")
        row("attention", "attention output, transposed to tokens", "o_proj", q, p.act, "proj_input")
        # layer_terms keeps SDPA's 4 B per head here in eager too (its rows are shared): a negligible over-count
        row("attention", "per-head fp32 scalars (SDPA's logsumexp; eager keeps none)", "(counted by vramkit)", heads, 4)
        soft = 4 + (p.act if p.act != 4 else 0)
        rows.append(LedgerRow("scores", f"softmax(Q Kᵀ) in fp32: {heads} heads × {seq:,} keys", "softmax",
                              heads * seq, "fp32", heads * seq * 4 * tokens, "softmax"))
        if soft > 4:
            rows.append(LedgerRow("scores", f"softmax cast back to {a}: {heads} heads × {seq:,} keys", "P @ V",
                                  heads * seq, a, heads * seq * p.act * tokens, "attn_v"))
    # MLP (SwiGLU): down_proj(act(gate_proj(x)) * up_proj(x))
    row("mlp", "gate_proj output", "SiLU", i, p.act, "gelu_input")
    row("mlp", "SiLU(gate) output", "SiLU(gate) * up", i, p.act, "gelu_input")
    row("mlp", "up_proj output", "SiLU(gate) * up", i, p.act, "gelu_input")
    row("mlp", "SiLU(gate) * up (down_proj's input)", "down_proj", i, p.act, "fc2_input")
    if p.mixed:
        # train_memory's per-layer share of the copies (decoder linears, with their biases and QK norms)
        from .training import _linear_params

        rows.append(LedgerRow("weight_casts", "bf16 copies of the layer's weight matrices", "each matmul",
                              None, "bf16", act.weight_cast_bytes(_linear_params(spec), precision) // spec.num_layers))
    return rows


def ledger_total(rows: list[LedgerRow]) -> int:
    """Bytes of all rows (an int)."""
    return sum(r.bytes for r in rows)


def korthikanti_terms(*, seq: int, batch: int, hidden: int, heads: int) -> list[dict]:
    """Korthikanti et al.'s per-layer activation terms (arXiv 2205.05198, section 4.1), each with
    its coefficient as published and its bytes for these sizes: a GPT layer (LayerNorm, GeLU MLP
    of 4h, 16-bit activations, 1-byte dropout masks, attention scores materialized). The terms add
    up to the published s*b*h*(34 + 5*a*s/h)."""
    from . import catalog

    published = catalog.published("korthikanti-activation")
    s, b, h, a = seq, batch, hidden, heads
    out = []
    for t in published["terms"]:
        sbh, as2b = t["sbh"], t["as2b"]
        out.append({"key": t["key"], "block": t["block"], "tensor": t["tensor"], "sbh": sbh, "as2b": as2b,
                    "bytes": sbh * s * b * h + as2b * a * s * s * b})
    return out


def korthikanti_bytes(*, seq: int, batch: int, hidden: int, heads: int) -> int:
    """The published total s*b*h*(34 + 5*a*s/h), computed in integers: 34*s*b*h + 5*a*s²*b bytes."""
    return 34 * seq * batch * hidden + 5 * heads * seq * seq * batch
