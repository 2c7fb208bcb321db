"""Activations kept for backward in a transformers decoder, in bytes per token.

Every term below is a tensor that an autograd node saves during the forward pass (so it stays
alive until backward reaches that node), read from the transformers modeling code and PyTorch's
derivative formulas, and checked against MemTracker in tests/reference/training.json. Sizes are
per token of the batch (multiply by batch * seq); the only exception is eager attention's
score matrix, which grows with the sequence.

Three precisions change what gets saved:
- pure (bf16/fp16/fp32): every tensor is in the model dtype; a linear saves its input, shared by
  all linears reading the same tensor.
- mixed (fp32 weights, bf16 autocast): the residual stream and norms stay fp32; every linear
  casts its fp32 input to its *own* bf16 copy (autocast caches casts of weights, not of
  activations) and saves that copy; the bf16 cast of each weight is saved too (see
  `weight_cast_bytes`).
- LoRA: a frozen linear saves nothing for its weight's gradient; PEFT casts the input of each
  adapter to the adapter dtype (fp32) and `lora_A` saves that copy. On the MoE families in
  `LORA_ON_EXPERTS`, PEFT also adapts the fused 3-D expert weights and the router weight by
  merging the low-rank delta into a full copy of the weight, which backward keeps (see
  `lora_expert_bytes`).

Explained in the chapter on training memory.
"""
from __future__ import annotations

from dataclasses import dataclass

from . import dropout as drop
from .model import SLIDING, ModelSpec

# transformers families whose decoder layer differs from the llama template
FUSED_QKV = ("phi3", "gpt2", "gpt_neox")
FUSED_GATE_UP = ("phi3",)
POST_NORM = ("olmo2",)
# MoE families whose transformers-4 expert and router nn.Linears PEFT (0.21,
# peft.utils.transformers_weight_conversion) maps onto transformers 5's fused expert parameters
# (gate_up_proj at rank 2r, down_proj at rank r) and the router weight when target_modules is
# "all-linear"; they get a lora.ParamWrapper. Other MoE families (qwen2_moe, gpt_oss) keep their
# experts and router frozen and untouched by "all-linear".
LORA_ON_EXPERTS = ("mixtral", "minimax", "qwen3_moe", "deepseek_v2", "deepseek_v3", "olmoe",
                   "glm4_moe", "ernie4_5_moe", "dots1", "hunyuan_v1_moe", "qwen3_next", "minimax_m2",
                   "deepseek_v32")
PARALLEL_RESIDUAL = ("gpt_neox",)
# families with nn.Dropout modules on the residual branches (after attention and after the MLP) and on
# the embeddings; they keep masks when the config's probability is above 0 (vramkit.dropout)
RESID_DROPOUT = ("gpt2", "phi", "phi3", "gpt_neox")
# MoE blocks that run every token through every expert (transformers' Llama4TextMoe repeats the
# tokens num_experts times and scales them by the router's sigmoid scores, zero for the unchosen)
DENSE_ROUTED = ("llama4_text",)


@dataclass(frozen=True)
class Precision:
    """Bytes per element of the things training keeps.

    `weight`: parameters; `act`: outputs of linears and attention; `res`: the residual stream
    and norm internals; `mixed`: whether autocast casts each linear's input separately.
    """

    name: str
    weight: int
    act: int
    res: int
    mixed: bool


PRECISIONS = {
    "mixed": Precision("mixed", 4, 2, 4, True),
    "bf16": Precision("bf16", 2, 2, 2, False),
    "fp16": Precision("fp16", 2, 2, 2, False),
    "fp32": Precision("fp32", 4, 4, 4, False),
}


def _rmsnorm(width: int, in_bytes: int, p: Precision, frozen: bool) -> int:
    """A llama-style RMSNorm: `x.to(fp32)`, `x.pow(2).mean()`, `x * rsqrt(var)`, `weight * x.to(dtype)`.

    `pow` and the multiply by rsqrt save the fp32 view of the input (the input itself when it is
    already fp32, else a 4-byte copy); `weight * normed` saves the normed value cast back to the
    input dtype, unless the weight is frozen (LoRA). rsqrt's per-token scalar is 4 bytes.
    """
    saved = 4 * width + 4
    if not frozen:
        saved += (4 if in_bytes == 4 else in_bytes) * width
    return saved


def _layernorm(width: int, p: Precision) -> int:
    """`native_layer_norm` saves its input plus a per-token mean and rstd (fp32)."""
    return p.res * width + 8


def layer_terms(spec: ModelSpec, layer: int, precision: str, *, seq: int, attention: str = "sdpa",
                lora: bool = False, fp32_linear_out: bool = False) -> dict[str, int]:
    """Bytes saved for backward by decoder layer `layer`, per token, by component.

    Keys: "norms", "attention", "scores" (eager only; already multiplied by `seq`), "mlp",
    "dropout". With `lora`, base weights are frozen and the adapter inputs are saved in fp32
    (PEFT's default adapter dtype) on every linear of the layer; in fp32 (no cast: PEFT's
    `_cast_input_dtype` returns the input itself) the adapters reading one norm share its output.
    `fp32_linear_out`: the linears return fp32 under autocast (bitsandbytes' 4-bit linears cast their
    output back to their input's dtype, fp32 after peft.prepare_model_for_kbit_training), so the MLP's
    intermediates are fp32; SDPA still casts q, k, v to bf16.
    """
    p = PRECISIONS[precision]
    h, q, kv = spec.hidden_size, spec.q_dim, spec.kv_dim
    mt = spec.model_type
    a, res = p.act, p.res
    t = {"norms": 0, "attention": 0, "scores": 0, "mlp": 0, "dropout": 0}
    cast = 2 if p.mixed else 0                   # each linear's own bf16 copy of an fp32 input
    # LoRA: PEFT casts an adapter's input to the adapter dtype (fp32); under autocast lora_A then
    # casts it to bf16 and saves that copy instead
    lora_in = 2 if p.mixed else 4
    n_qkv = 1 if mt in FUSED_QKV else 3

    # --- norms (and the inputs of the linears that read them) -----------------------------
    if mt in ("gpt2", "gpt_neox"):
        norm_out = res                           # LayerNorm output, in the residual dtype
        t["norms"] += _layernorm(h, p) + (0 if mt == "gpt_neox" else _layernorm(h, p))
        t["norms"] += 8 if mt == "gpt_neox" else 0   # second LayerNorm's stats (same input)
    elif mt in POST_NORM:
        norm_out = 0
        t["norms"] += 2 * _rmsnorm(h, a if p.mixed else res, p, lora)
    else:
        norm_out = res
        t["norms"] += 2 * _rmsnorm(h, res, p, lora)
    # inputs saved by the q/k/v and gate/up linears
    n_in = n_qkv + (1 if mt in FUSED_GATE_UP or not spec.mlp_gated else 2)
    moe_layer = spec.is_moe and spec.moe_layers[layer]
    if lora and moe_layer:
        # no gate/up nn.Linear in a MoE block: adapter copies for q/k/v and the shared expert's
        # gate, up (and its sigmoid gate); a wrapped router reads the block input with a weight that
        # now needs a gradient, so its linear saves that input (compute dtype)
        shared = (2 + spec.shared_expert_gate) if spec.shared_expert_size else 0
        t["norms"] += lora_in * h * (n_qkv + shared)
        t["norms"] += a * h if mt in LORA_ON_EXPERTS else 0
    elif lora and (p.mixed or p.act != 4):
        t["norms"] += lora_in * h * n_in        # one copy per adapter
    elif lora:                                   # fp32: no copies, each norm's output saved once
        t["norms"] += res * h * (1 if mt in POST_NORM else 2)
    elif p.mixed:
        t["norms"] += cast * h * n_in
    elif mt not in POST_NORM:
        t["norms"] += norm_out * h * 2           # one shared norm output per block
        if mt in ("gpt2",):
            t["norms"] -= 0
    else:
        t["norms"] += res * h                    # post-norm: the block input feeds q/k/v

    # --- attention --------------------------------------------------------------------------
    heads = spec.num_heads
    rot = 4 if p.mixed else a                    # rotary with fp32 cos/sin promotes q, k to fp32
    if spec.qk_norm == "head" or spec.qk_norm == "proj":
        t["attention"] += _rmsnorm(q, a, p, lora) + _rmsnorm(kv, a, p, lora) - 8
    # SDPA saves q, k, v (in the compute dtype; a bf16 copy when rotary made them fp32), its output
    # and a per-head fp32 logsumexp.
    t["attention"] += a * (q + 2 * kv) + a * q + 4 * heads
    del rot
    # the o_proj input (output transposed back to tokens) and the residual add need nothing more
    # (in fp32 no cast: the adapter saves the transposed-back output, which SDPA's output layout makes
    # the very tensor SDPA saved; eager's matmul output is transposed into a new one)
    if lora and (p.mixed or p.act != 4 or attention == "eager"):
        t["attention"] += lora_in * q
    if attention == "eager":
        window = spec.sliding_window if (spec.layer_types and spec.layer_types[layer] == SLIDING) else None
        del window                               # eager still materialises the full seq x seq matrix
        # softmax(fp32) output is saved by its backward, the cast back to the compute dtype by @ V;
        # eager repeats K and V to every query head (repeat_kv) and the matmuls save the copies.
        soft = 4 + (a if a != 4 else 0)
        if drop.of(spec)["attention"] > 0:
            # attention dropout: its bool mask, and the dropped-out copy that @ V saves instead of the cast
            soft = 4 + 1 + a
        t["scores"] += heads * seq * soft
        t["attention"] += a * 2 * (q - kv) if q != kv else 0

    # --- MLP --------------------------------------------------------------------------------
    i = spec.intermediate_size
    a = 4 if fp32_linear_out else a
    if spec.is_moe and spec.moe_layers[layer]:
        t["mlp"] += _moe_terms(spec, p, lora)
    elif spec.mlp_gated:
        # gate out (saved by act), act out and up out (saved by the product), product (saved by
        # down_proj: in LoRA its fp32 copy instead)
        t["mlp"] += a * 4 * i if not lora else a * 3 * i + lora_in * i
    elif mt == "gpt2":
        # gelu_new in Python: 0.5*x*(1+tanh(c*(x+0.044715*x^3))): pow saves x, tanh its output,
        # the final product saves 0.5*x and (1+tanh); c_proj saves the activation output.
        t["mlp"] += a * 5 * i if not lora else a * 4 * i + lora_in * i
    else:
        # exact GELU saves its input; the down projection saves the output
        t["mlp"] += a * 2 * i if not lora else a * i + lora_in * i

    # --- dropout masks (bool, 1 byte per element) --------------------------------------------
    if mt in RESID_DROPOUT and drop.of(spec)["hidden"] > 0:
        t["dropout"] += 2 * h                    # bool masks after attention and after the MLP
    if mt == "deepseek_v32":  # MLA, the DSA mask and DeepSeek-V3's router (vramkit.activations_dsa)
        from . import activations_dsa
        t = activations_dsa.adjust(spec, layer, p, t, seq=seq, attention=attention, lora=lora)
    return t


def _moe_terms(spec: ModelSpec, p: Precision, lora: bool) -> int:
    """Routed experts per token: router logits and softmax (fp32), and for each of the k chosen
    experts a gathered copy of the token, the gate/up output, the activation, the product."""
    k, mi, h, e = spec.experts_per_token, spec.moe_intermediate_size, spec.hidden_size, spec.num_experts
    if spec.model_type in DENSE_ROUTED:  # every expert runs on every token, weighted by its router score
        k = e
    a = p.act
    router = 4 * e * 2
    per_expert = a * h + a * 2 * mi + a * mi + a * mi + a * h
    s = spec.shared_expert_size
    # the shared expert is a plain gated MLP: under LoRA its down_proj saves an fp32 input copy
    shared = (a * 3 * s + (2 if p.mixed else 4) * s if lora else a * 4 * s) if s else 0
    return router + k * per_expert + shared


def lora_expert_bytes(spec: ModelSpec, layer: int, precision: str, rank: int) -> tuple[int, int]:
    """LoRA on a MoE layer's experts and router (PEFT lora.ParamWrapper): (saved, backward_temp) bytes.

    Not per token: the sizes follow the weights. In forward, ParamWrapper registers a
    parametrization that returns `baddbmm(W, B, A, alpha=scaling)` (one adapter; `W + delta` for the
    2-D router): a merged copy of each wrapped weight in the weight's dtype. The experts' matmuls
    save it for backward, so every layer keeps its merged gate_up_proj, down_proj and router
    weights from its forward until its backward. baddbmm also saves the two factors cast to the
    weight dtype (a copy when the fp32 adapters differ from it). In backward, the gradient of a
    merged weight is full size before baddbmm reduces it to the factors; the larger one is the
    backward temporary. Zero for layers and families PEFT leaves alone.
    """
    if not (spec.is_moe and spec.moe_layers[layer] and spec.model_type in LORA_ON_EXPERTS):
        return 0, 0
    p = PRECISIONS[precision]
    e, h, mi = spec.num_experts, spec.hidden_size, spec.moe_intermediate_size
    gate_up, down, router = e * 2 * mi * h, e * h * mi, e * h
    merged = (gate_up + down + router) * p.weight
    factors = e * 2 * rank * (2 * mi + h) + e * rank * (mi + h)   # gate_up at rank 2r, down at r
    cast = factors * p.weight if p.weight != 4 else 0
    return merged + cast, max(gate_up, down) * p.weight


def head_terms(spec: ModelSpec, precision: str, *, lora: bool = False) -> dict[str, int]:
    """Saved per token after the last layer: final norm, the lm_head input, the loss.

    transformers' ForCausalLMLoss upcasts the logits to fp32 and runs cross_entropy; log_softmax
    saves its fp32 output (4 bytes x vocab per token), usually the largest single activation.
    """
    p = PRECISIONS[precision]
    h, v = spec.hidden_size, spec.vocab_size
    if spec.model_type in ("gpt2", "gpt_neox"):
        norm = _layernorm(h, p)
    else:
        norm = _rmsnorm(h, p.res, p, lora)
    head_in = (2 * h if p.mixed else p.res * h) if not lora else 0
    emb = 0
    if spec.model_type in RESID_DROPOUT and drop.of(spec)["embedding"] > 0:
        emb = h                                  # embedding dropout mask
    return {"final_norm": norm, "head_input": head_in, "log_softmax": 4 * v, "embedding": emb}


def loss_transient_bytes(spec: ModelSpec, precision: str) -> tuple[int, int]:
    """(forward, backward) peak extra bytes per token around the loss.

    Forward: the compute-dtype logits and their fp32 copy exist together with log_softmax's
    output. Backward: nll_loss's gradient and log_softmax's gradient (both fp32, vocab-wide).
    """
    p = PRECISIONS[precision]
    v = spec.vocab_size
    logits = p.act * v
    upcast = 4 * v if p.act != 4 else 0
    return logits + upcast, 8 * v


def weight_cast_bytes(linear_params: int, precision: str) -> int:
    """Mixed precision: bf16 copies of every linear weight, saved by the matmuls until backward."""
    return 2 * linear_params if PRECISIONS[precision].mixed else 0
