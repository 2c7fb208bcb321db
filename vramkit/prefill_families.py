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
  dtype), and the rotary table is complex64 (8 bytes per tokens x head_dim / 2).
"""
from __future__ import annotations

from .model import CHUNKED, ModelSpec


def _llama4(spec: ModelSpec, tokens: int, batch: int, b, attention: str, kinds: int) -> int:
    n, h = batch * tokens, spec.hidden_size
    e, w = spec.num_experts, spec.moe_intermediate_size
    chunked = any(t == CHUNKED for t in spec.layer_types)
    masks = kinds * batch * tokens * tokens * b if attention == "eager" else \
        (batch * tokens * tokens if chunked else 0)
    rotary = 4 * tokens * spec.head_dim
    moe = n * b * (5 * h + e * (2 * h + 3 * w) + 2 * e) if spec.is_moe else 0
    return int(moe + masks + rotary)


RULES = {"llama4_text": _llama4}


def family_prefill_peak(spec: ModelSpec, tokens: int, batch: int, element_bytes, attention: str,
                        kinds: int) -> int:
    """The family's own widest moment (0 when the classic peak describes the family).

    `element_bytes`: bytes per element of the compute dtype; `kinds`: attention types with layers.
    """
    rule = RULES.get(spec.model_type)
    return rule(spec, tokens, batch, element_bytes, attention, kinds) if rule else 0
