"""The widest moment of a hybrid model's mixer layer during a transformers prefill, in bytes.

What transformers 5's **torch paths** hold (the ones every machine without flash-linear-attention,
mamba-ssm and causal-conv1d runs, and the ones tests/reference/prefill_2026.json measures with
MemTracker under FakeTensorMode) at the peak of the last mixer layer, under `no_grad`:

- Gated DeltaNet (Qwen3-Next, Qwen3.5), `torch_chunk_gated_delta_rule`: inside the first chunk
  step, four fp32 (value heads x chunk x chunk) tensors per padded token (the decay matrix, the
  masked attention, the UT solve's product and its copy), the padded fp32 Q, K (value-head wide,
  after repeat_interleave), k x beta, V and v x beta, the decay and beta rows, beside the conv's
  output, z (kept for the gated norm) and the a/b projections.
- Mamba-2 (Bamba, Granite 4.0-H, Nemotron-H, Falcon-H1), `torch_forward` / `mamba2_chunk_scan`:
  at `(Y_diag + Y_off).contiguous()`, seven fp32 inner-wide rows per padded token (D's residual, the
  chunked x, Y_diag, C x states, Y_off, their sum and its contiguous copy), the padded B and C
  (heads wide, after repeat_interleave) and B x decay, the intra-chunk decay L, C·Bᵀ and M (heads x
  chunk), four head-wide rows (A chunked, its cumsum, two decays), the inter-chunk decay and the
  states (chunks + 1), beside in_proj's output, the conv's output and dt.
- Mamba (Jamba), `slow_forward`: three fp32 (inner x state) tensors per token (exp(A dt), B dt,
  B dt x), two fp32 inner rows, the per-token scan outputs and their stack, the gate, conv output,
  dt's softplus, in_proj's output and the B/C norms.
- Short convolution (LFM2), `slow_forward`: in_proj's 3 x hidden output, B x x, the padded conv
  output, C x conv and out_proj's input.

Beside the mixer: the embedding output, the layer's input (residual) and its normed copy (3 x
hidden), the rotary cos/sin, and with eager attention the masks the model keeps for its attention
layers. `vramkit.inference.prefill_activation_bytes` takes the larger of this and the attention /
MLP peak.
"""
from __future__ import annotations

from .model import ModelSpec


def _ceil(n: int, k: int) -> int:
    return -(-n // k) * k


def _gated_deltanet(d: dict, h: int, k: int, t: int, batch: int, a) -> int:
    hv, hk, dk, dv, c = d["value_heads"], d["key_heads"], d["key_dim"], d["value_dim"], d["chunk"]
    n, tp = batch * t, batch * _ceil(t, c)
    conv = 2 * hk * dk + hv * dv
    # z is kept for the gated norm: Qwen3-Next's z is a view of the fused in_proj_qkvz output
    z = conv + hv * dv if d.get("in_projections") == 2 else hv * dv
    return (16 * hv * tp * c                      # decay, attention, solve product and copy (fp32)
            + 4 * hv * tp * (3 * dk + 2 * dv)     # padded Q, K, k x beta; padded V, v x beta (fp32)
            + 16 * hv * tp                        # g, its padded copy and cumsum; padded beta (fp32)
            + a * n * (conv + z + 3 * hv)         # conv output; z; the a, b projections and beta
            + c * c)                              # the triangular mask (bool)


def _mamba2(d: dict, h: int, k: int, t: int, batch: int, a) -> int:
    hh, pd, g, s, c = d["heads"], d["head_dim"], d["groups"], d["state"], d["chunk"]
    inner = hh * pd
    n, lp = batch * t, _ceil(t, c)
    tp, chunks = batch * lp, lp // c
    conv, proj = inner + 2 * g * s, 2 * inner + 2 * g * s + hh
    return (a * n * (proj + conv + hh)            # in_proj's output, the conv's output, dt
            + 4 * tp * (7 * inner + 3 * hh * s + 3 * hh * c + 4 * hh)
            + 4 * batch * hh * ((chunks + 1) ** 2 + (chunks + 2) * pd * s))


def _mamba(d: dict, h: int, k: int, t: int, batch: int, a) -> int:
    inner, s = d["inner"], d["state"]
    n = batch * t
    return (4 * n * inner * (3 * s + 2)           # exp(A dt), B dt, B dt x; two fp32 inner rows
            + a * n * (7 * inner + 2 * s)         # in_proj (2), gate, conv, softplus, scan outputs, stack; B/C norms
            + 4 * batch * inner * s + 4 * inner * s)  # the running state, A


def _short_conv(d: dict, h: int, k: int, t: int, batch: int, a) -> int:
    n = batch * t
    return a * (n * 3 * h + n * h + batch * (t + k - 1) * h + 2 * n * h)


MIXERS = {"gated_deltanet": _gated_deltanet, "mamba2": _mamba2, "mamba": _mamba, "short_conv": _short_conv}


def mixer_prefill_peak(spec: ModelSpec, tokens: int, batch: int, element_bytes, masks: int) -> int:
    """Bytes live at the widest moment of a mixer layer (0 when the spec has none or an unknown kind).

    `element_bytes`: bytes per element of the compute dtype; `masks`: bytes of the attention masks
    the model keeps meanwhile (eager attention), counted by the caller.
    """
    rule = MIXERS.get(spec.mixer)
    if rule is None or not spec.mixer_layer_count:
        return 0
    a, h = element_bytes, spec.hidden_size
    positions = 2 * tokens * spec.head_dim * a if spec.attention_layer_count and spec.mixer != "mamba" else 0
    body = rule(dict(spec.mixer_dims), h, spec.mixer_conv_kernel, tokens, batch, a)
    return int(3 * batch * tokens * h * a + body + positions + masks)


def measured(spec: ModelSpec) -> bool:
    """Whether this mixer kind's prefill peak is the measured rule above (tests/reference/prefill_2026.json)."""
    return spec.mixer in MIXERS or not spec.mixer
