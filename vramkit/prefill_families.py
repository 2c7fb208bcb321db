"""Prefill peaks of the 2026 attention families where transformers' modeling code differs from
the classic decoder that `vramkit.inference._prefill_peak` describes, in bytes.

Each rule is the widest moment read from transformers 5.24's modeling code and checked against
MemTracker under FakeTensorMode (tests/reference/prefill_2026.json). The caller takes the larger of
this and the classic peak, so a rule only has to describe the moment the classic formula misses.

- llama4_text: `Llama4TextMoe` sends every token to every expert (`hidden_states.repeat(E, 1)`
  times the router scores, then batched matmuls over all E experts): at the experts' down
  projection the repeated input, gate_up's output, the activation product and the output (E
  copies of the rows each), beside five hidden-wide rows (embedding output, layer input, attention
  output, residual, normed copy) and the router's logits and scores. Its chunked layers keep a
  batch x tokens x tokens mask even under SDPA (bool; eager: one per attention type in the compute
  dtype), and the rotary table is complex64 (8 bytes per tokens x head_dim / 2). Its eager
  attention keeps the scores and their masked copy in the compute dtype (no fp32 softmax).
- olmo3, smollm3: under SDPA with a window shorter than the prompt, the sliding mask twice (bool,
  and SDPA's additive copy in the compute dtype).
- gemma3n_text: AltUp's stacked streams, the per-layer inputs and Laurel beside every moment
  (attention, the end of a layer), the sliding masks (see `_gemma3n`).
- minimax_m2, glm4_moe: the routed experts weight their outputs in fp32 (2 x 4 bytes more per
  routed row and hidden element than the compute dtype's gather and grouped_mm output).
"""
from __future__ import annotations

from .model import CHUNKED, ModelSpec


def _llama4(spec: ModelSpec, tokens: int, batch: int, b, attention: str, kinds: int) -> int:
    n, h, q = batch * tokens, spec.hidden_size, spec.num_heads * spec.head_dim
    e, w = spec.num_experts, spec.moe_intermediate_size
    chunked = any(t == CHUNKED for t in spec.layer_types)
    masks = kinds * batch * tokens * tokens * b if attention == "eager" else \
        (batch * tokens * tokens if chunked else 0)
    rotary = 4 * tokens * spec.head_dim
    moe = n * b * (5 * h + e * (2 * h + 3 * w) + 2 * e) if spec.is_moe else 0
    eager = 0
    if attention == "eager":
        # the scores and their masked copy in the compute dtype (softmax stays in it), the
        # QK-normed Q and K, V repeated to every head
        scores = batch * spec.num_heads * tokens * tokens
        eager = n * b * (3 * h + q + (2 * q if 1 < spec.num_kv_heads < spec.num_heads else 0)) + 2 * scores * b
    return int(max(moe, eager) + masks + rotary)


def _sliding_sdpa(spec: ModelSpec, tokens: int, batch: int, b, attention: str, kinds: int) -> int:
    # OLMo 3, SmolLM3: under SDPA with a window shorter than the prompt, the model's bool sliding
    # mask and the attention's additive copy of it in the compute dtype, beside the rotated Q, K and V
    # repeated to every head, SDPA's output and its fp32 log-sum-exp, the embedding and layer input.
    windows = [w for w in (spec.sliding_window,) if w]
    if attention != "sdpa" or not windows or min(windows) >= tokens:
        return 0
    n, h, q = batch * tokens, spec.hidden_size, spec.num_heads * spec.head_dim
    kv = 2 * q if 1 < spec.num_kv_heads < spec.num_heads else 2 * spec.num_kv_heads * spec.head_dim
    rotary = (16 if spec.model_type == "olmo3" else 2 * b) * tokens * spec.head_dim
    return int(n * b * (2 * h + 2 * q + kv) + 4 * batch * spec.num_heads * tokens
               + batch * tokens * tokens * (1 + b) + rotary)


def _minimax_m2(spec: ModelSpec, tokens: int, batch: int, b, attention: str, kinds: int) -> int:
    # MiniMax-M2's experts weight their outputs in fp32: the k routed copies of every row in the
    # compute dtype (gathered input, grouped_mm output) and in fp32 (gathered output, weighted).
    n, h, k = batch * tokens, spec.hidden_size, spec.experts_per_token
    return int(n * (4 * h * b + k * h * (2 * b + 8) + spec.num_experts * b) + 2 * tokens * spec.head_dim * b)


def _gemma3n(spec: ModelSpec, tokens: int, batch: int, b, attention: str, kinds: int) -> int:
    # Gemma 3n carries `altup_num_inputs` streams of the hidden state: at every moment the stacked
    # streams and their corrected copy (2 x A x hidden), six hidden rows (embedding output, the extra
    # streams' projection and norms, the normed input, Laurel's output) and the per-layer inputs
    # (layers x per-layer width). At the end of a layer three stacked copies, fourteen hidden rows
    # and two fp32 ones (the per-layer-input norm). Masks: the bool sliding mask under SDPA
    # (plus its additive copy in the compute dtype inside attention), one per type under eager.
    n, h, q, t = batch * tokens, spec.hidden_size, spec.num_heads * spec.head_dim, tokens
    extra = dict(spec.extra_params)
    alt = extra["altup_projections"] // (2 * h * h) + 1
    per_layer = (extra["per_layer_projection"] // (h * spec.num_layers + 1)) * spec.num_layers
    rows = n * b * (2 * alt * h + 6 * h + per_layer)
    kv = 2 * q if 1 < spec.num_kv_heads < spec.num_heads else 2 * spec.num_kv_heads * spec.head_dim
    window = spec.sliding_window or tokens
    rotary = 4 * t * spec.head_dim * b
    if attention == "eager":
        masks = kinds * batch * t * t * b
        attn = rows + n * b * (q + kv) + batch * spec.num_heads * t * t * (b + 8) + masks
    else:
        masks = batch * t * t if window < t else 0
        attn = rows + n * b * (2 * q + kv) + 4 * batch * spec.num_heads * t + masks \
            + (batch * t * t * b if window < t else 0)
    end = n * b * (3 * alt * h + 14 * h + per_layer) + 8 * n * h + masks
    widest = max(spec.intermediate_sizes or (spec.intermediate_size,))
    mlp = rows + n * b * 3 * widest + masks  # not reached by the measured configs
    return int(max(attn, end, mlp) + rotary)


def _deepseek_v32(spec: ModelSpec, tokens: int, batch: int, b, attention: str, kinds: int) -> int:
    # DeepSeek-V3.2: the DSA indexer's fp32 scores and the masked attention (vramkit.activations_dsa)
    from .activations_dsa import prefill_peak
    return prefill_peak(spec, tokens, batch, b, attention)


RULES = {"llama4_text": _llama4, "olmo3": _sliding_sdpa, "smollm3": _sliding_sdpa, "minimax_m2": _minimax_m2,
         "glm4_moe": _minimax_m2, "gemma3n_text": _gemma3n, "deepseek_v32": _deepseek_v32}
# Measured but not matched yet (tests/reference/prefill_2026.json): the classic peak stands, flagged
# as an estimate (`InferenceMemory.activation_estimated`).
UNMEASURED: set[str] = set()
# Rules that describe eager attention themselves (the classic eager terms do not hold there).
OWN_EAGER = {"llama4_text"}


def family_prefill_peak(spec: ModelSpec, tokens: int, batch: int, element_bytes, attention: str,
                        kinds: int) -> int:
    """The family's own widest moment (0 when the classic peak describes the family).

    `element_bytes`: bytes per element of the compute dtype; `kinds`: attention types with layers.
    """
    rule = RULES.get(spec.model_type)
    return rule(spec, tokens, batch, element_bytes, attention, kinds) if rule else 0
