"""Activations that hybrid layers keep for backward: Gated DeltaNet, Mamba-2 and short convolution.

What is modelled is what transformers' **torch paths** save, the ones every machine without the
kernels runs (and the ones the reference fixture measures, tests/reference/training_hybrids.json,
MemTracker under FakeTensorMode): Gated DeltaNet's `torch_chunk_gated_delta_rule` (chunks of 64,
fp32 inside, a sequential scan over chunks that saves one recurrent state per chunk), Mamba-2's
`torch_forward` (`mamba2_chunk_scan`: chunked SSD, fp32 inside, per-chunk states) and LFM2's
`slow_forward`, each after the `causal_conv1d_fn` fallback (a depthwise conv1d padded by kernel-1).
On CUDA with flash-linear-attention, mamba-ssm and causal-conv1d installed, the fused kernels save
far less (mostly their inputs, recomputing the chunk internals in backward): there this is an
upper bound, not the measured truth.

Bytes are per layer for the whole micro-batch (batch x seq tokens), because the chunked scans pad
the sequence to a multiple of their chunk and keep per-chunk tensors. Terms are named after the
tensors they stand for, read from transformers 5.24's modeling code and PyTorch's derivative
formulas, and checked with saved-tensor hooks. Explained in the chapter on training memory.
"""
from __future__ import annotations

import math

from . import activations as act
from .model import ModelSpec


def _dims(spec: ModelSpec) -> dict[str, int]:
    return dict(spec.mixer_dims)


def _ceil(n: int, k: int) -> int:
    return -(-n // k) * k


def short_conv_bytes(spec: ModelSpec, p: act.Precision, *, seq: int, batch: int, lora: bool = False) -> int:
    """LFM2's gated short convolution: BCx = in_proj(x) (3h), Bx = B * x, conv(Bx), y = C * conv_out.

    The products save B, x and C (views of BCx: its whole storage), the conv saves its input Bx and
    its output (padded by kernel - 1 taps) is saved by `C * conv_out`; out_proj saves y.
    """
    h, k, t = spec.hidden_size, spec.mixer_conv_kernel, seq * batch
    a = p.act
    out_in = _lora_in(p) if lora else a                         # out_proj's input (LoRA: the adapter's copy)
    return a * 3 * h * t + a * h * t + a * h * batch * (seq + k - 1) + out_in * h * t + (2 * h * k if p.mixed else 0)


def gated_deltanet_bytes(spec: ModelSpec, p: act.Precision, *, seq: int, batch: int, lora: bool = False) -> int:
    """Qwen3-Next / Qwen3.5 Gated DeltaNet through `torch_chunk_gated_delta_rule`.

    Before the scan: the conv's input and padded output (conv_dim wide), beta's sigmoid, the decay's
    softplus (fp32), the fp32 L2-normalised Q and K (value-head wide, after repeat_interleave). The
    scan pads to a multiple of 64 and keeps, per value head and padded token, fp32 values of width
    chunk (the pairwise decay, the UT system, the intra-chunk attention), key_dim and value_dim;
    under autocast every matmul operand is also cast to bf16. The chunk loop keeps one recurrent
    state (key_dim x value_dim, fp32) per chunk and its per-chunk operands. After: the gated
    RMSNorm over value_dim (fp32 inside) and out_proj's input.
    """
    d = _dims(spec)
    hv, dk, dv, c = d["value_heads"], d["key_dim"], d["value_dim"], d["chunk"]
    hk = d["key_heads"]
    k, a = spec.mixer_conv_kernel, p.act
    t = seq * batch
    lp = _ceil(seq, c)
    tp = lp * batch
    n = lp // c
    conv = 2 * hk * dk + hv * dv
    b = a * conv * t + a * conv * batch * (seq + k - 1)        # conv input, conv output (padded)
    b += a * hv * t + 8 * hv * t                                # beta; softplus in and out (fp32)
    b += 2 * (4 * hv * dk + 4 * hv) * t                         # l2norm of Q and K (fp32 copy, 1/norm)
    b += 4 * hv * (1 + dv + dk) * tp                            # padded beta, value, key (fp32)
    b += c * c                                                  # the triangular mask (bool)
    if p.mixed:  # matmul operands cast to bf16 beside their fp32 originals
        b += hv * tp * (12 * c + 20 * dk + 4 * dv + 12)
        loop = (6 * c * dk + 8 * dk * dv + 4 * c * dv + 2 * c * c) * n - 4 * c * dk
        b += batch * hv * loop
    else:
        b += hv * tp * 4 * (4 * c + 3 * dk + dv + 3)
        # the loop's matmuls keep the intra-chunk attention and the decayed Q and K whole, and one
        # state and one v_new per chunk
        b += hv * tp * 4 * (c + 2 * dk) + batch * hv * (4 * dk * dv + 4 * c * dv) * n
    b += 4 * batch * hv * n                                     # per-chunk decay
    # gated RMSNorm over value_dim: fp32 input copy, 1/rms, the normed value in the input dtype,
    # the weighted product (fp32 under autocast), gate.float() and its silu; out_proj's input
    wprod = 4 if p.mixed else a
    b += (4 * hv * dv + 4 * hv + a * hv * dv + wprod * hv * dv + 8 * hv * dv + a * hv * dv) * t
    if lora:  # frozen A_log and norm weight: their products keep only the frozen side
        b -= (4 * hv + a * hv * dv) * t
        b += (_lora_in(p) - a) * hv * dv * t                    # out_proj's adapter keeps its own copy
    if p.mixed:
        b += 2 * conv * k                                       # bf16 cast of the conv kernel
    return b


def mamba2_bytes(spec: ModelSpec, p: act.Precision, *, seq: int, batch: int, lora: bool = False) -> int:
    """Mamba-2 (Bamba, Granite 4.0-H, Nemotron-H, Falcon-H1) through `torch_forward` / `mamba2_chunk_scan`.

    Before the scan: the conv's input and padded output (conv_dim = inner + 2 groups x state), dt's
    softplus and clamp. The chunked SSD pads to a multiple of `chunk` and works in fp32: the padded
    x for D's residual, x * dt, the segment-sum decays (heads x chunk per padded token), C·Bᵀ,
    the chunk states (heads x head_dim x state per chunk) and the inter-chunk outputs; under
    autocast each einsum's operands are saved as bf16 copies, in fp32 runs as fp32 copies. After:
    the gated RMSNorm over the inner width in fp32, out_proj's input.
    """
    d = _dims(spec)
    hh, pd, g, s, c = d["heads"], d["head_dim"], d["groups"], d["state"], d["chunk"]
    inner = hh * pd
    k, a = spec.mixer_conv_kernel, p.act
    t = seq * batch
    lp = _ceil(seq, c)
    tp = lp * batch
    n = lp // c
    conv = inner + 2 * g * s
    proj = 2 * inner + 2 * g * s + hh
    # Falcon-H1 multiplies in_proj's output by its fp32 mup_vector: under autocast the projected
    # stream (gate, x/B/C, dt) is fp32 from there on
    mup = spec.model_type == "falcon_h1"
    pb = 4 if (mup and p.mixed) else a
    b = 4 * proj if mup else 0                                  # the mup vector, saved once
    b += (2 * conv if p.mixed else a * proj) * t                # conv input (pure: a view of in_proj's output)
    b += a * conv * batch * (seq + k - 1)                       # conv output (padded)
    b += 2 * pb * hh * t                                        # softplus and clamp of dt
    b += 4 * inner * tp                                         # padded x (D residual)
    b += (4 * conv if pb == 4 else 4 * inner) * t               # x.float() (a view of the fp32 conv output)
    b += (4 if pb == 4 else 8) * hh * t                         # dt.float() for x * dt and A * dt
    b += 2 * c * c + 2 * c * c                                  # masks of the two segment sums (bool)
    b += 4 * hh * c * tp                                        # exp(segsum): the intra-chunk decays
    b += 8 * hh * tp                                            # decay_states, state_decay_out
    m = 2 if p.mixed else 4                                     # einsum operand copies
    b += m * 2 * hh * s * tp                                    # C, B for C·Bᵀ
    b += m * hh * c * tp                                        # C·Bᵀ output (saved by the mask product)
    b += m * hh * c * tp + m * inner * tp                       # M and x for Y_diag
    b += 4 * hh * s * tp                                        # B (fp32) for B * decay
    b += m * hh * s * tp + m * inner * tp                       # B_decay and x for the states
    b += m * hh * pd * s * batch * (n + 1)                      # states (with the initial zeros)
    b += m * hh * s * tp + m * hh * pd * s * batch * n          # C and states for C·states
    b += m * inner * tp                                         # C·states (saved by the decay product)
    b += 4 * batch * hh * (n + 1) ** 2 + (2 if p.mixed else 0) * batch * hh * (n + 1) ** 2
    if d.get("gated_norm", 1):
        # x * silu(gate): the padded scan output, gate.float() and silu's output; the grouped RMSNorm
        # keeps the product, 1/rms per group and the normed value (fp32)
        b += 4 * inner * tp + 8 * inner * t + 4 * inner * t + 4 * g * t + 4 * inner * t
    else:  # scan_output * silu(gate): silu keeps the gate (a view of the projected stream), the product both
        b += pb * proj * t + pb * inner * t + 4 * inner * tp
    b += (2 if p.mixed else a) * inner * t                      # out_proj's input
    if lora:  # frozen D, A and norm weight: D * x, A * dt and weight * normed keep only the frozen side
        b -= 4 * inner * tp + (0 if pb == 4 else 4) * hh * t
        b -= 4 * inner * t if d.get("gated_norm", 1) else 0
        b += (_lora_in(p) - (2 if p.mixed else a)) * inner * t  # out_proj's adapter keeps its own copy
    if p.mixed:
        b += 2 * conv * k
    return b


def _lora_in(p: act.Precision) -> int:
    """Bytes per element of the input copy a LoRA adapter keeps (fp32 adapters; bf16 under autocast)."""
    return 2 if p.mixed else 4


def mamba1_bytes(spec: ModelSpec, p: act.Precision, *, seq: int, batch: int, lora: bool = False) -> int:
    """Jamba's Mamba through `slow_forward` / `mamba_selective_scan`'s recurrent loop (one step per token).

    Before the scan: the conv's input and padded output (inner wide), its silu output x (saved by
    D's residual product while D trains; in fp32 by dt B x too), x_proj's input (`_mamba1_x`), the
    RMSNorms over dt, B and C (fp32 inside), dt_proj's input, softplus; A = -exp(A_log) (exp's
    output while A_log trains, A itself for A·dt) and, in bf16, D.float(). The discretised A and
    B·dt are inner x state per token in fp32, and the loop keeps, per token, the fp32 state (inner
    x state) that the next step multiplies, its cast to the input dtype for the output matmul (none
    in fp32: the matmul keeps the state itself) and C's row: this path grows as inner x state x 10
    bytes per token, the largest activation of the layer. After: silu(gate), the D residual sum
    (fp32), out_proj's input. With LoRA the frozen linears keep nothing of their inputs and the
    adapters of x_proj and out_proj keep their own copies; the frozen norm weights keep nothing.
    """
    d = _dims(spec)
    inner, s, r = d["inner"], d["state"], d["dt_rank"]
    k, a, t = spec.mixer_conv_kernel, p.act, seq * batch
    lin_in = _lora_in(p) if lora else (2 if p.mixed else a)     # what x_proj and out_proj keep of their inputs
    b = (2 * inner if p.mixed else a * 2 * inner) * t           # conv input (pure: a view of in_proj's output)
    b += a * inner * batch * (seq + k - 1)                      # conv output (padded)
    # x = silu(conv), kept by x * D while D trains (in fp32 by dt B x too) and, at batch 1, by x_proj
    x_kept, xp_is_x = _mamba1_x(p, batch, lora)
    b += a * inner * t if x_kept or xp_is_x else 0
    b += 0 if xp_is_x else lin_in * inner * t                   # x_proj's input (its own copy)
    # RMSNorms over dt, B, C: fp32 input copy and 1/rms; the normed value cast back while the weight trains
    b += ((4 + (0 if lora else a)) * (r + 2 * s) + 12) * t
    # dt_proj.weight @ dt (not dt_proj's forward: its LoRA adapters are never used) keeps dt while the
    # weight trains; softplus in and out
    b += (0 if lora else a * r * t) + 2 * a * inner * t
    b += (4 if lora else 8) * inner * s                         # A and exp's output (A_log trains)
    b += 4 * inner if p.weight != 4 else 0                      # D.float(), saved by x * D
    # exp(A dt), dt B (fp32); B (the fp32 product of its norm: B.float() is B), x.float() (in fp32: x)
    b += 8 * inner * s * t + 4 * s * t + (4 * inner * t if a != 4 else 0)
    b += _mamba1_loop_bytes(inner, s, a, seq=seq, batch=batch)
    b += (2 * a * inner * t if p.mixed else 0) + a * inner * t  # the gate (pure: in the conv input's storage), silu
    b += 4 * inner * t + lin_in * inner * t                     # y + D x (fp32), out_proj's input
    if p.mixed:
        b += 2 * inner * k
    return b


def _mamba1_x(p: act.Precision, batch: int, lora: bool) -> tuple[bool, bool]:
    """(whether a product keeps x = silu(conv) itself, whether x_proj's saved input is x itself).

    `x * D` keeps x while D trains, and in fp32 `dt B * x.float()` keeps x (no copy). x_proj reads x
    through a transpose: at batch 1 the transposed view folds into one matrix and the linear keeps
    x itself; at larger batches it keeps a contiguous copy (a LoRA adapter its own cast copy, which
    in fp32 is x again at batch 1).
    """
    kept = p.act == 4 or not lora
    return kept, batch == 1 and (not lora or (p.act == 4 and not p.mixed))


def _mamba1_loop_bytes(inner: int, s: int, a: int, *, seq: int, batch: int) -> int:
    """What the loop's steps save: `state = dA[:, :, i] * state + dBu[:, :, i]` keeps the previous
    state (fp32; the first step the zeros, in the input dtype), `state.to(input dtype) @ C[:, i]`
    keeps the cast and C's row (a bf16 copy under autocast, a view otherwise: C's a bytes per token
    either way). In fp32 the cast is the state itself: every state, once."""
    if a == 4:
        return batch * (seq + 1) * 4 * inner * s + 4 * s * seq * batch
    return batch * ((seq - 1) * 4 * inner * s + 2 * inner * s + seq * (2 * inner * s + a * s))


MIXERS = {"mamba": mamba1_bytes, "short_conv": short_conv_bytes, "gated_deltanet": gated_deltanet_bytes, "mamba2": mamba2_bytes}
# nn.Linear layers that read a mixer layer's normed input (each saves its own copy under autocast / LoRA)
IN_PROJECTIONS = {"short_conv": 1, "mamba2": 1, "mamba": 1}
# hybrids whose gated MLP is one fused input linear (Granite 4.0-H's shared_mlp.input_linear)
FUSED_MLP = ("granitemoehybrid",)
# families whose RMSNorm multiplies by (1 + weight) in fp32 (Qwen3-Next, Qwen3.5)
ZERO_CENTERED_NORMS = ("qwen3_next", "qwen3_5_text", "qwen3_5_moe_text")


def backward_temp_bytes(spec: ModelSpec, layer: int, p: act.Precision, *, seq: int, batch: int) -> int:
    """Gradients in flight inside a mixer layer's backward where they outgrow the MLP's (0: the default).

    Mamba-1 (Jamba): the sum of `mamba1_backward_terms`'s in-flight gradients, at the peak moment
    described there.
    """
    if spec.mixer == "mamba" and spec.has_mixer(layer):
        terms = mamba1_backward_terms(spec, layer, p, seq=seq, batch=batch, lora=False)
        return sum(v for k, v in terms.items() if k.startswith("grad_"))
    return 0


def backward_released_bytes(spec: ModelSpec, layer: int, p: act.Precision, *, seq: int, batch: int,
                            lora: bool) -> int:
    """Bytes of a mixer layer's own saved activations already freed at its backward's peak (0: none).

    Mamba-1 (Jamba): the `freed_` terms of `mamba1_backward_terms`.
    """
    if spec.mixer == "mamba" and spec.has_mixer(layer):
        terms = mamba1_backward_terms(spec, layer, p, seq=seq, batch=batch, lora=lora)
        return sum(v for k, v in terms.items() if k.startswith("freed_"))
    return 0


def backward_pending_params(spec: ModelSpec, layer: int, lora_rank: int = 0) -> int:
    """Trainable parameters of a mixer layer whose gradients do not exist yet at its backward's peak.

    Mamba-1 (Jamba): the peak is inside the scan's backward, after the MLP's and out_proj's weight
    gradients and before every other of the layer's own: in_proj, x_proj, dt_proj, the conv, A_log,
    D, the three inner RMSNorms and the layer's input norm. With LoRA, the adapters of in_proj,
    x_proj and dt_proj, and dt_proj's of the Mamba layers above (`slow_forward` multiplies
    `dt_proj.weight` directly, so dt_proj's adapters never get a gradient at all). D's gradient is
    made (D multiplies x after the scan).
    """
    if not (spec.mixer == "mamba" and spec.has_mixer(layer)):
        return 0
    if lora_rank:
        in_proj, x_proj, dt_proj, _ = mixer_linears(spec)
        later = sum(map(spec.has_mixer, range(layer + 1, spec.num_layers)))   # dt_proj's, never made
        return lora_rank * (sum(in_proj) + sum(x_proj) + sum(dt_proj) * (1 + later))
    d, h = _dims(spec), spec.hidden_size
    out_proj = d["inner"] * h + (h if d.get("proj_bias") else 0)
    return spec.mixer_linear_params + spec.mixer_other_params - out_proj - d["inner"] + h


def mamba1_backward_terms(spec: ModelSpec, layer: int, p: act.Precision, *, seq: int, batch: int,
                          lora: bool) -> dict[str, int]:
    """The named terms of a Jamba Mamba layer's backward peak (bytes, whole micro-batch).

    The peak is early in the backward of `mamba_selective_scan`'s loop (traced with a dispatch mode
    that lists the live tensors). `state = dA[:, :, i] * state + dBu[:, :, i]` indexes the fp32
    tensors dA = exp(A dt) and dBu = dt B x (inner x state per token) step by step; each step's
    SelectBackward makes a zero-filled gradient of the whole tensor, and autograd's input buffer sums
    them into one gradient of dA and one of dBu. Under a dispatch mode (MemTracker, FakeTensorMode)
    that sum is out of place (`old + new`): at the second step's sum of dBu's gradient four such
    tensors are alive, dBu's held and new gradients, their sum and dA's held one
    (`grad_scan_selects`). Without a dispatch mode the buffer adds in place (`add_`): one tensor
    fewer on a plain CUDA run. Also in flight: the residual stream's gradient, three inner-wide
    gradients in the activation dtype (the gate's from silu, the stacked scan outputs', x's from
    D's residual product), C's gradient being summed step by step (fp32 under autocast: C is the
    fp32 product of its RMSNorm weight) and one step's state gradient (fp32).

    Already freed by then (`freed_`): everything the layer's MLP block saved (with its norm and its
    weights' bf16 casts), what the mixer saved after the scan (the gate's storage under autocast,
    silu(gate), x, y + D x, out_proj's input and weight cast) and the last two steps' saved states.
    """
    d = _dims(spec)
    inner, s = d["inner"], d["state"]
    h, a, t = spec.hidden_size, p.act, seq * batch
    terms = {
        "grad_scan_selects": 4 * 4 * inner * s * t,
        "grad_residual": p.res * h * t,
        "grad_inner": 3 * a * inner * t,
        "grad_c": (4 if p.mixed else a) * s * t,
        "grad_state": 4 * inner * s * batch,
    }
    after_scan = 4 * inner + a * inner                                        # y + D x, silu(gate)
    x_kept, xp_is_x = _mamba1_x(p, batch, lora)
    after_scan += a * inner if x_kept and a != 4 and not xp_is_x else 0      # x (fp32: dBu's x.float() is x)
    after_scan += (_lora_in(p) if lora else (2 if p.mixed else a)) * inner    # out_proj's input
    after_scan += 2 * a * inner if p.mixed else 0                             # the gate (in_proj's output)
    terms["freed_after_scan"] = after_scan * t + (4 * inner if p.weight != 4 else 0)   # and D.float()
    # the last two steps: their casts and C rows, the state one step before them (fp32: two states)
    terms["freed_steps"] = batch * (8 * inner * s if a == 4 else 2 * (2 * inner * s + a * s) + 4 * inner * s)
    terms["freed_mlp"] = _mlp_block_bytes(spec, layer, p, lora) * t
    if p.mixed:
        terms["freed_casts"] = act.weight_cast_bytes(inner * h + _mlp_weight_params(spec, layer), p.name)
    return terms


def kept_cache_bytes(spec: ModelSpec, layer: int, p: act.Precision, *, seq: int, batch: int,
                     gradient_checkpointing: bool) -> int:
    """What a kept output's cache holds at layer `layer`'s backward beyond the saved tensors (bytes).

    Jamba's config defaults to use_cache=True and JambaModel makes a DynamicCache even in training,
    so a loop that keeps the outputs keeps it through backward: the K and V of the attention layers
    above `layer` (their own saved copies are freed once their backward ran; below, they are the
    same tensors) and each Mamba layer's conv state (kernel taps, input dtype) and final recurrent
    state (fp32). With gradient checkpointing the layers get no cache (transformers drops it).
    Other families: 0 (not measured here).
    """
    if spec.model_type != "jamba" or gradient_checkpointing:
        return 0
    d, a = _dims(spec), p.act
    kv = sum(2 * a * spec.kv_dim * seq * batch for i in range(layer + 1, spec.num_layers) if spec.has_attention(i))
    states = (a * spec.mixer_conv_kernel + 4 * d["state"]) * d["inner"] * batch
    return kv + states * sum(map(spec.has_mixer, range(spec.num_layers)))


def _mlp_block_bytes(spec: ModelSpec, layer: int, p: act.Precision, lora: bool) -> int:
    """Per token, what a hybrid layer's MLP block saves (as `layer_bytes` counts it) and its norm."""
    t = act.layer_terms(spec, layer, p.name, seq=1, lora=lora)
    h = spec.hidden_size
    n_in = 1 if (spec.model_type in act.FUSED_GATE_UP + FUSED_MLP or not spec.mlp_gated) else 2
    block_in = _lora_in(p) * h * n_in if lora else (2 * h * n_in if p.mixed else p.res * h)
    has_mlp = (spec.is_moe and spec.moe_layers[layer]) or spec.has_dense_mlp(layer)
    mlp = t["mlp"] + block_in - unadapted_mlp_bytes(spec, layer, p, lora) if has_mlp else 0
    return mlp + act._rmsnorm(h, p.res, p, lora)


def _mlp_weight_params(spec: ModelSpec, layer: int) -> int:
    """Elements of the linear weights of a layer's MLP block (a MoE one: experts, router, shared expert)."""
    h, n = spec.hidden_size, 3 if spec.mlp_gated else 2
    if spec.is_moe and spec.moe_layers[layer]:
        return spec.num_experts * (n * h * spec.moe_intermediate_size + h) + n * h * (spec.shared_expert_size or 0)
    return n * h * spec.intermediate_size if spec.has_dense_mlp(layer) else 0


# Families `train` refuses: what their layers keep is measured (training_hybrids.json) and far from
# the attention + MLP template, but not modelled term by term yet.
UNMODELLED: dict[str, str] = {}  # (Gemma 3n left it: vramkit.training_gemma3n)


def check_trainable(spec: ModelSpec) -> None:
    """Raise the one-line VramkitError for a family whose training activations are not modelled."""
    from .errors import VramkitError

    why = UNMODELLED.get(spec.model_type)
    if why:
        raise VramkitError(f"{spec.source or spec.model_type}: training memory of {why} is not modeled yet "
                           f"(they keep far more than an attention + MLP layer); 'params' and 'infer' are")


def supported(spec: ModelSpec) -> bool:
    return spec.mixer in MIXERS or not spec.mixer


def layer_bytes(spec: ModelSpec, layer: int, precision: str, *, seq: int, batch: int, attention: str,
                lora: bool) -> int:
    """Bytes decoder layer `layer` of a hybrid model keeps for backward (the whole micro-batch).

    Built from `activations.layer_terms` (norms, attention, MLP, per token) by taking out what
    the layer does not have (attention in a mixer layer, the MLP and one norm in Nemotron-H's
    single-block layers) and adding the mixer and the copies its input projections save.
    """
    p = act.PRECISIONS[precision]
    h, tokens = spec.hidden_size, seq * batch
    t = act.layer_terms(spec, layer, precision, seq=seq, attention=attention, lora=lora)
    per_token = sum(t.values())
    lora_in = 2 if p.mixed else 4

    def block_in(k: int) -> int:   # what the linears reading one normed input save
        if lora:
            return lora_in * h * k
        return 2 * h * k if p.mixed else p.res * h

    n_qkv = 1 if spec.model_type in act.FUSED_QKV else 3
    n_mlp_in = 1 if (spec.model_type in act.FUSED_GATE_UP + FUSED_MLP or not spec.mlp_gated) else 2
    attn = t["attention"] + t["scores"] + block_in(n_qkv)
    mlp = t["mlp"] + block_in(n_mlp_in)
    has_attn, has_mixer = spec.has_attention(layer), spec.has_mixer(layer)
    has_mlp = (spec.is_moe and spec.moe_layers[layer]) or spec.has_dense_mlp(layer)
    n_proj = IN_PROJECTIONS.get(spec.mixer, _dims(spec).get("in_projections", 1))
    if spec.norms_per_layer == 1:  # Nemotron-H: one norm, then one of mixer / attention / MLP / MoE
        per_token = act._rmsnorm(h, p.res, p, lora) + (attn if has_attn else 0) + (mlp if has_mlp else 0)
        per_token += block_in(n_proj) if has_mixer else 0
    else:
        if not has_attn:
            per_token -= attn
        if has_mixer and not (has_attn and not p.mixed and not lora):
            per_token += block_in(n_proj)  # (pure precision, Falcon-H1: one shared normed input)
    per_token -= unadapted_mlp_bytes(spec, layer, p, lora)
    if spec.model_type in ZERO_CENTERED_NORMS and not p.mixed and not lora:
        # RMSNorm as x.float() * rsqrt * (1 + weight).float(): the fp32 normed value is what the weight's
        # product keeps (llama's keeps it cast back to the model dtype)
        widths = [h, h] + ([spec.q_dim, spec.kv_dim]
                           if has_attn and spec.qk_norm == "head" else [])
        per_token += sum((4 - p.res) * w for w in widths)
    if has_attn and spec.attention_gate:
        # attn_output * sigmoid(gate): the reshaped output, the sigmoid and the product (o_proj's input)
        per_token += 3 * p.act * spec.q_dim
    b = per_token * tokens
    if has_mixer:
        b += MIXERS[spec.mixer](spec, p, seq=seq, batch=batch, lora=lora)
    return b


def param_shapes(spec: ModelSpec) -> list[tuple[int, ...]]:
    """Parameter tensor shapes of a hybrid model, for the optimizer (states, step temporaries).

    Per layer what it has: attention's q/k/v/o, the mixer's projections as one (rows, hidden)
    matrix and its small tensors (conv kernel, A_log, D, dt_bias, norm) as a vector, the MLP or
    experts; the rest of `spec.params()` (norms, biases) as one vector, so the total is exact.
    """
    from .training import linear_shapes

    h, v = spec.hidden_size, spec.vocab_size
    shapes: list[tuple[int, ...]] = [(v, h)]
    lin = linear_shapes(spec)
    n_attn = 2 if spec.model_type in act.FUSED_QKV else 4
    for i in range(spec.num_layers):
        if spec.has_attention(i):
            shapes += [(fout, fin) for _, fin, fout in lin[:n_attn]]
        if spec.has_mixer(i):
            rows, rest = divmod(spec.mixer_linear_params, h)
            shapes += [(rows, h)] + ([(rest,)] if rest else []) + [(spec.mixer_other_params,)]
        if spec.is_moe and spec.moe_layers[i]:
            shapes.append((spec.num_experts, h))
            shapes.append((spec.num_experts, 2 * spec.moe_intermediate_size, h))
            shapes.append((spec.num_experts, h, spec.moe_intermediate_size))
        elif spec.has_dense_mlp(i):
            shapes += [(fout, fin) for _, fin, fout in lin[n_attn:]]
    if not spec.tie_word_embeddings:
        shapes.append((v, h))
    counted = sum(math.prod(s) for s in shapes)
    rest = spec.params() - counted
    if rest > 0:
        shapes.append((rest,))
    return shapes


# families whose forward returns the logits upcast to fp32 (`self.lm_head(h).float()`)
FP32_LOGITS = ("nemotron_h",)


def logits_bytes(spec: ModelSpec, p: act.Precision) -> int:
    """Bytes per element of the logits the model's output holds (what a loop that keeps it keeps)."""
    return 4 if spec.model_type in FP32_LOGITS else p.act


def peft_skips_mlp(spec: ModelSpec) -> bool:
    """PEFT maps the MLP names (gate_proj, up_proj, down_proj) onto the fused experts of these MoE
    families, and then no nn.Linear of that name is targeted by "all-linear": dense MLPs and shared
    experts get no adapters (measured: qwen3_next, glm4_moe in training_hybrids.json)."""
    return spec.is_moe and spec.model_type in act.LORA_ON_EXPERTS


def unadapted_mlp_bytes(spec: ModelSpec, layer: int, p: act.Precision, lora: bool, tokens: int = 1) -> int:
    """The adapter input copies `activations.layer_terms` counts on MLP linears that PEFT leaves alone."""
    if not (lora and peft_skips_mlp(spec)):
        return 0
    h, lora_in = spec.hidden_size, _lora_in(p)
    if spec.moe_layers[layer]:
        s = spec.shared_expert_size
        return (lora_in * h * 2 + lora_in * s) * tokens if s else 0
    if spec.has_dense_mlp(layer):
        return (lora_in * h * 2 + lora_in * spec.intermediate_size) * tokens
    return 0


def family_extra_bytes(spec: ModelSpec, layer: int, precision: str, *, seq: int, batch: int,
                       lora: bool = False) -> int:
    """What a 2026 attention family's layer keeps beyond the llama template (bytes, whole micro-batch).

    LoRA where PEFT leaves the MLPs alone (`peft_skips_mlp`): no adapter input copies there.
    Llama 4's RoPE layers (the chunked ones) L2-normalise Q and K without a weight (`x.float()` and
    1/norm per head, fp32) and rotate with complex frequencies (complex64, per position).
    """
    from .model import CHUNKED

    extra = 0 if spec.is_hybrid else -unadapted_mlp_bytes(spec, layer, act.PRECISIONS[precision], lora, seq * batch)
    if spec.model_type == "llama4_text" and spec.layer_types and spec.layer_types[layer] == CHUNKED:
        tokens = seq * batch
        extra += (4 * (spec.q_dim + spec.kv_dim) + 4 * (spec.num_heads + spec.num_kv_heads)) * tokens \
            + 8 * (spec.head_dim // 2) * seq
    return extra


def mixer_linears(spec: ModelSpec) -> list[tuple[int, int]]:
    """(in_features, out_features) of the nn.Linear layers in one mixer layer, as PEFT's all-linear sees them."""
    d, h = _dims(spec), spec.hidden_size
    if spec.mixer == "gated_deltanet":
        k, v, hv = d["key_heads"] * d["key_dim"], d["value_heads"] * d["value_dim"], d["value_heads"]
        if d.get("in_projections", 2) == 2:   # Qwen3-Next: in_proj_qkvz, in_proj_ba
            return [(h, 2 * k + 2 * v), (h, 2 * hv), (v, h)]
        return [(h, 2 * k + v), (h, v), (h, hv), (h, hv), (v, h)]   # Qwen3.5: qkv, z, b, a
    if spec.mixer == "mamba2":
        inner = d["heads"] * d["head_dim"]
        return [(h, 2 * inner + 2 * d["groups"] * d["state"] + d["heads"]), (inner, h)]
    if spec.mixer == "mamba":
        inner, s, r = d["inner"], d["state"], d["dt_rank"]
        return [(h, 2 * inner), (inner, r + 2 * s), (r, inner), (inner, h)]
    if spec.mixer == "short_conv":
        return [(h, 3 * h), (h, h)]
    return []


# PEFT (0.21, tuners_utils) refuses LoRA on `out_proj` and `conv1d` of these Mamba-based models, and
# "all-linear" includes out_proj: get_peft_model raises.
PEFT_MAMBA_INCOMPATIBLE = ("falcon_h1", "nemotron_h")


def lora_shapes(spec: ModelSpec, rank: int, names: set[str] | None = None) -> list[tuple[int, ...]]:
    """LoRA A (r x in) and B (out x r) shapes of a hybrid model with PEFT's "all-linear" targets.

    Per layer: attention's q/k/v/o (q_proj twice as wide with an output gate), the mixer's linears
    (`mixer_linears`), the dense MLP or the MoE block's shared expert, its sigmoid gate and, on the
    families in `activations.LORA_ON_EXPERTS`, the router and the fused experts (as
    `training.lora_shapes` wraps them). `names` (q, k, v, o, gate, up, down) other than None keeps
    only those attention and MLP linears, and no mixer linear.
    """
    from .errors import VramkitError

    if names is None and spec.model_type in PEFT_MAMBA_INCOMPATIBLE:
        raise VramkitError(f"{spec.source or spec.model_type}: PEFT refuses LoRA on the Mamba out_proj of "
                           f"{spec.model_type} models, which 'all-linear' targets; name the targets instead "
                           f"(e.g. --lora-targets attention)")
    keep = (lambda n: True) if names is None else (lambda n: n in names or n == "gate_up" and "gate" in names)
    h, q, kv = spec.hidden_size, spec.q_dim, spec.kv_dim
    vo = spec.num_heads * spec.value_head_dim
    out: list[tuple[int, ...]] = []
    mlp_adapted = not peft_skips_mlp(spec)

    def add(fin: int, fout: int) -> None:
        out.extend([(rank, fin), (fout, rank)])

    for i in range(spec.num_layers):
        if spec.has_attention(i):
            for n, fin, fout in (("q", h, q * (2 if spec.attention_gate else 1)), ("k", h, kv), ("v", h, kv),
                                 ("o", vo, h)):
                if keep(n):
                    add(fin, fout)
        if spec.has_mixer(i) and names is None:
            for fin, fout in mixer_linears(spec):
                add(fin, fout)
        if spec.is_moe and spec.moe_layers[i]:
            s = spec.shared_expert_size
            if s and mlp_adapted:
                for n, fin, fout in (("gate", h, s), ("up", h, s), ("down", s, h)) if spec.mlp_gated else \
                        (("up", h, s), ("down", s, h)):
                    if keep(n):
                        add(fin, fout)
            if spec.shared_expert_gate and keep("gate"):
                add(h, 1)
            if spec.model_type in act.LORA_ON_EXPERTS and names is None:
                e, mi = spec.num_experts, spec.moe_intermediate_size
                out += [(rank, h), (e, rank)]
                out += [(2 * rank * e, h), (2 * mi, 2 * rank * e)]
                out += [(rank * e, mi), (h, rank * e)]
        elif spec.has_dense_mlp(i) and mlp_adapted:
            width = spec.intermediate_size
            mlp = (("gate_up", h, 2 * width), ("down", width, h)) if spec.model_type in FUSED_MLP else \
                (("gate", h, width), ("up", h, width), ("down", width, h)) if spec.mlp_gated else \
                (("up", h, width), ("down", width, h))
            for n, fin, fout in mlp:
                if keep(n):
                    add(fin, fout)
    return out
