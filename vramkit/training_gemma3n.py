"""Activations Gemma 3n's text model keeps for backward, tensor by tensor (bytes, whole micro-batch).

What is trained is the language model: Gemma3nForCausalLM on a gemma3n_text config, and for a
multimodal gemma3n config its text model with its head (what a user fine-tuning on text runs: the
vision and audio towers take no input, so they save nothing and get no gradients; as transformers
builds them they are still loaded, so their weights count in `weights` but not in `trainable_params`
or the optimizer unless LoRA freezes everything: see `frozen_tower_params`).

Read from transformers 5.24's modeling_gemma3n.py and PyTorch's derivative formulas, and checked by
listing every tensor autograd saves (saved_tensors_hooks under FakeTensorMode) beside MemTracker
(tests/reference/training_hybrids.json and training_gemma3n.json). Per decoder layer:

- AltUp predict: the layer input is `altup` stacked streams (A x hidden, residual dtype), kept
  whole; the router's RMSNorm over stream 0, its linear's input, tanh of the routed logits (fp32,
  A wide), the prediction coefficients' input and output (A x A per token), and the bf16 copy of the
  streams the coefficient matmul casts (under autocast). Its output `predictions` (A streams) is
  what the input norm saves when it is fp32.
- Gemma3nRMSNorm: `x.float()` (a copy unless fp32), two fp32 per-row scalars, `normed` (fp32, for
  the weight's gradient; not when frozen) and, for a 16-bit weight, `weight.float()`.
- Laurel: left's input, right's input (rank wide), the post-Laurel norm.
- Attention: Q/K RMSNorms over head_dim and V's without weight, SDPA's Q, K, V (after RoPE; under
  autocast a bf16 copy of the fp32 rotated Q and K), output and logsumexp. A KV-sharing layer
  (num_kv_shared_layers) has no K/V projections or norms; under autocast SDPA still casts the
  shared fp32 K anew, so it saves a bf16 K of its own.
- Four hidden-wide norms around attention and MLP, the gated MLP (gate, act, up, product); on
  the sparse layers (activation_sparsity_pattern) the gaussian top-k keeps the gate output for
  `std`, its per-row std, and relu's output.
- AltUp correct: the router again on the layer's output, `innovation` repeated to A streams
  (residual dtype), the correction coefficients; the active stream's clone for the output scale;
  the per-layer-input gate (per-layer width), its gelu, the product with the per-layer input,
  the per-layer projection and its norm.

Outside the layers: the per-layer inputs (embedding rows and the projection of the embeddings,
normed over the per-layer width: layers x per-layer width per token, in the residual dtype, saved
by every layer), the embedding's magnitude and the A - 1 extra streams' projections with their
magnitude renormalisation, the same for the unembedding of the last layer's streams, the final norm,
the head's input, the final logit softcap's tanh (vocabulary wide, compute dtype), log_softmax and
the labels. Constants: the RoPE cos/sin of each attention type (per position).

Beside the saved tensors: with the model's default use_cache=True the forward fills a DynamicCache
that the output object holds; under autocast its K is the fp32 rotated K that SDPA did not save
(`cache_bytes`). Under gradient checkpointing (use_cache off) the checkpoints hold the layers'
shared K/V dict and, with a window shorter than the sequence, the boolean sliding mask
(`checkpoint_bytes`); autocast's weight-cast cache holds every layer's bf16 weights until the
forward ends. A sliding layer whose window is shorter than the sequence keeps SDPA's additive mask
and K/V repeated to every head (`_mask_bytes`).
"""
from __future__ import annotations

from . import activations as act
from .model import SLIDING, ModelSpec

TYPES = ("gemma3n_text",)


def applies(spec: ModelSpec) -> bool:
    return spec.model_type in TYPES


def dims(spec: ModelSpec) -> dict:
    return dict(spec.family_dims)


def _lora_in(p: act.Precision) -> int:
    """Bytes per element of the input copy a LoRA adapter keeps (fp32 adapters; bf16 under autocast)."""
    return 2 if p.mixed else 4


def _norm(width: int, copy: bool, trainable: bool) -> int:
    """Gemma3nRMSNorm per token: x.float() (when `copy`: the input is not already fp32 and saved),
    mean of squares and its power -0.5 (fp32 per row), the normed value for the weight's gradient."""
    return (4 * width if copy else 0) + 8 + (4 * width if trainable else 0)


def _width(spec: ModelSpec, layer: int) -> int:
    return spec.intermediate_sizes[layer] if spec.intermediate_sizes else spec.intermediate_size


def _shared(spec: ModelSpec, layer: int) -> bool:
    return bool(spec.kv_shared_from) and spec.kv_shared_from[layer] >= 0


def _reads(p: act.Precision, width: int, n: int, lora_rank: int, new: bool = True) -> int:
    """What `n` linears reading one tensor `width` wide save of it: under LoRA each adapter's copy and
    its rank-wide middle; under autocast each linear's own bf16 cast; else the tensor once (when `new`:
    not already saved by something else)."""
    if lora_rank:
        return n * _lora_in(p) * (width + lora_rank)
    if p.mixed:
        return n * 2 * width
    return p.act * width if new else 0


def layer_bytes(spec: ModelSpec, layer: int, precision: str, *, seq: int, batch: int,
                lora_rank: int = 0) -> int:
    """Bytes decoder layer `layer` saves for backward (whole micro-batch), weight casts aside.

    The layer's input streams are counted here (each layer's output is the next one's input; the
    last layer's output in `outside_bytes`). `lora_rank` > 0: PEFT all-linear LoRA, every base
    weight, norm weight and AltUp scale frozen.
    """
    p = act.PRECISIONS[precision]
    d = dims(spec)
    A, r, P = d["altup"], d["laurel_rank"], d["per_layer"]
    h, q, kv = spec.hidden_size, spec.q_dim, spec.kv_dim
    heads, kvh, i = spec.num_heads, spec.num_kv_heads, _width(spec, layer)
    a, res, R = p.act, p.res, lora_rank
    train = not R
    fp32 = res == 4                       # the residual streams are fp32 (mixed, fp32)
    small = a if a != 4 else 0            # a tanh output cast back to the compute dtype (a copy unless fp32)
    b = 0
    # -- AltUp predict ---------------------------------------------------------------------
    b += res * A * h                                             # the input streams
    b += _norm(h, not fp32, train) + _reads(p, h, 1, R)          # router norm on stream 0, router's input
    b += 4 * A                                                   # tanh of the routed logits (fp32)
    b += _reads(p, A, 1, R, new=bool(small)) if R else small * A  # prediction coefficients' input
    b += (2 * A * h if p.mixed else 0) + a * A * A               # the matmul: cast streams, coefficients
    # -- input norm, Laurel ----------------------------------------------------------------
    b += (4 * A * h if fp32 else 0) + _norm(h, not fp32, train)  # fp32: x.float() is a view of the predictions
    b += _reads(p, h, 2 if _shared(spec, layer) else 4, R)       # laurel left, q (k, v) read the normed input
    b += _reads(p, r, 1, R) + _norm(h, True, train)              # laurel right's input, post-Laurel norm
    # -- attention -------------------------------------------------------------------------
    b += _norm(q, True, train) - 8 + 8 * heads                   # q_norm over head_dim (per head scalars)
    b += a * q + a * q + 4 * heads                               # SDPA's Q, output, logsumexp
    b += _lora_in(p) * (q + R) if R else 0                       # o_proj reads SDPA's output (bf16: no cast)
    # with a mask transformers repeats K and V to every query head (its use_gqa_in_sdpa): SDPA keeps
    # those copies, q wide, instead of K and V
    windowed = _mask_bytes(spec, layer, p, seq=seq, batch=batch) > 0
    if _shared(spec, layer) and windowed:
        b += 2 * a * q
    elif _shared(spec, layer):
        b += a * kv if p.mixed else 0                            # autocast's own bf16 copy of the shared fp32 K
    else:
        sdpa_kv = q if windowed else kv
        b += _norm(kv, True, train) - 8 + 8 * kvh + a * sdpa_kv  # k_norm, SDPA's K
        b += 4 * kv + 8 * kvh + a * sdpa_kv                      # v_norm (no weight), SDPA's V
    b += _norm(h, True, train)                                   # post-attention norm
    # -- MLP -------------------------------------------------------------------------------
    b += _norm(h, True, train) + _reads(p, h, 2, R)              # pre-feedforward norm; gate, up read it
    b += 3 * a * i + (_lora_in(p) * (i + R) if R else a * i)     # gate (act's input), act, up; down's input
    if d["sparse_layers"][layer]:
        b += a * i + a                                           # gaussian top-k: relu's output, the std
    b += _norm(h, True, train)                                   # post-feedforward norm
    # -- AltUp correct, per-layer input ------------------------------------------------------
    b += _norm(h, True, train) + _reads(p, h, 1, R) + 4 * A      # router on the layer's output
    b += res * A * h                                             # innovation repeated to every stream
    b += 0 if R else small * A                                   # correction coefficients' input (frozen: none)
    b += a * A                                                   # the coefficients (+1) for the product
    if d["correct_scale"] and train:
        b += res * h                                             # the active stream's clone, for the scale
    b += _reads(p, h, 1, R)                                      # per-layer-input gate's input
    b += 2 * a * P                                               # gelu's input, its output (for the product)
    b += _reads(p, P, 1, R)                                      # per-layer projection's input
    b += _norm(h, True, train)                                   # post-per-layer-input norm
    return b * seq * batch + _mask_bytes(spec, layer, p, seq=seq, batch=batch)


def _windowed(spec: ModelSpec, seq: int) -> bool:
    """Sliding layers need a mask: their window is shorter than the sequence (else transformers passes
    none and SDPA runs is_causal)."""
    return bool(spec.sliding_window) and spec.sliding_window < seq and SLIDING in (spec.layer_types or ())


def _mask_bytes(spec: ModelSpec, layer: int, p: act.Precision, *, seq: int, batch: int) -> int:
    """A sliding layer whose window is shorter than the sequence gets transformers' boolean mask; SDPA
    turns it into an additive mask in the compute dtype (batch x seq x seq) on every call, and the
    memory-efficient kernel keeps it for backward as its attention bias."""
    if _windowed(spec, seq) and spec.layer_types[layer] == SLIDING:
        return p.act * batch * seq * seq
    return 0


def outside_bytes(spec: ModelSpec, precision: str, *, seq: int, batch: int, lora_rank: int = 0,
                  input_grads: bool = False) -> int:
    """Bytes saved outside the decoder layers (whole micro-batch): per-layer inputs, AltUp's stream
    projections in and out, the final norm, the head's input, the softcap's tanh, log_softmax and
    the labels, and the constants (RoPE tables, fp32 copies of 16-bit norm weights).

    `input_grads`: LoRA with gradient checkpointing, where PEFT / Trainer call
    enable_input_require_grads, so the (frozen) embedding's output requires a gradient again."""
    p = act.PRECISIONS[precision]
    d = dims(spec)
    A, P, L = d["altup"], d["per_layer"], spec.num_layers
    h, v = spec.hidden_size, spec.vocab_size
    a, res, R = p.act, p.res, lora_rank
    train = not R
    stream = 2 * res * h + 2 * res                               # an extra stream: its projection in the residual
    #                                                              dtype, the clamp's input, sqrt, the rescaled copy
    per_token = 8 if train else 0                                # the per-layer embedding's indices
    per_token += _reads(p, h, 1, R, new=False)                   # per_layer_model_projection's input
    per_token += _norm(L * P, True, train) - 8 + 8 * L           # its norm over the per-layer width
    per_token += res * L * P                                     # the per-layer inputs, read by every layer
    # the embedding and its magnitude (mean, root); a frozen embedding's output needs no gradient, and
    # only the root (a factor of every stream's rescaling) is kept
    per_token += res * h + 2 * res if train or input_grads else res
    per_token += (A - 1) * (_reads(p, h, 1, R, new=False) + stream)
    per_token += res * A * h + 2 * res                           # the last layer's streams, their magnitude
    per_token += (A - 1) * (_reads(p, h, 1, R, new=False) + stream)
    per_token += _norm(h, True, train)                           # final norm (over the streams' mean)
    per_token += 0 if R else (2 * h if p.mixed else a * h)       # the head's input (a frozen head: none)
    if d["softcap"]:
        per_token += a * v                                       # tanh's output
    per_token += 4 * v + 8                                       # log_softmax (fp32), the shifted labels
    const = 2 * seq * spec.head_dim * res * len(set(spec.layer_types or ("full",)))   # cos, sin per type
    if p.weight != 4:  # 16-bit weights: each norm call's fp32 copy of its weight
        norms = sum(8 * h + spec.head_dim * (1 if _shared(spec, j) else 2) for j in range(L))
        const += 4 * (norms + P + h)
    return per_token * seq * batch + const


def cache_bytes(spec: ModelSpec, precision: str, *, seq: int, batch: int) -> int:
    """The DynamicCache the forward fills (use_cache=True, the config's default), held by the output
    object: only what no node saved counts. Under autocast the fp32 rotated K (SDPA saved its bf16
    cast); in a sliding layer that gets a mask, the K and V before transformers repeated them to every
    head (SDPA saved the repeated copies)."""
    p = act.PRECISIONS[precision]
    b = 0
    for j in range(spec.num_layers):
        if _shared(spec, j):
            continue
        windowed = _mask_bytes(spec, j, p, seq=seq, batch=batch) > 0
        b += (4 if p.mixed else (p.act if windowed else 0)) + (p.act if windowed else 0)
    return b * spec.kv_dim * seq * batch


def checkpoint_bytes(spec: ModelSpec, precision: str, *, seq: int, batch: int) -> int:
    """Gradient checkpointing (use_cache off): what the checkpoints hold from forward to backward
    beyond the layers' inputs: the shared K/V dict (the K and V of the last non-shared layer of
    each attention type) and the boolean sliding mask (batch x seq x seq) when the window is shorter
    than the sequence. (Under FakeTensorMode transformers cannot see that the positions are not packed
    and builds both masks whatever the window: the reference run holds batch x seq x seq bytes per
    attention type more than CUDA does.)"""
    p = act.PRECISIONS[precision]
    kinds = len(set(spec.layer_types or ("full",)))
    b = batch * seq * seq if _windowed(spec, seq) else 0
    if spec.kv_shared_from and any(j >= 0 for j in spec.kv_shared_from):
        k = 4 if p.mixed else p.act
        b += kinds * (k + p.act) * spec.kv_dim * seq * batch
    return b


def checkpoint_input_bytes(spec: ModelSpec, precision: str, *, seq: int, batch: int) -> int:
    """What one checkpointed layer keeps: its input streams (A x hidden, residual dtype)."""
    return act.PRECISIONS[precision].res * dims(spec)["altup"] * spec.hidden_size * seq * batch


def forward_transient_bytes(spec: ModelSpec, precision: str, *, seq: int, batch: int) -> int:
    """Alive at the loss beyond the generic logits and their fp32 copy: the final norm's output held by
    the model's output object (fp32 under autocast, not saved: the head saved its bf16 cast) and the
    padded labels."""
    p = act.PRECISIONS[precision]
    return (4 * spec.hidden_size * seq * batch if p.mixed else 0) + 8 * (seq + 1) * batch


def linear_params(spec: ModelSpec) -> int:
    """Elements of every nn.Linear weight but the head: attention and MLP, the AltUp router and
    coefficients, Laurel, the per-layer gate and projection, the model's per-layer projection and
    the AltUp stream projections (mixed precision saves a bf16 cast of each)."""
    return sum(fin * fout for fin, fout in _linears(spec))


def lora_cast_bytes(spec: ModelSpec, precision: str, rank: int, adapters: int, input_grads: bool = False) -> int:
    """Mixed-precision LoRA: what autocast's weight casts add to (or take from) the base weights' casts.

    Every used adapter's bf16 cast is saved by its matmul; the frozen embedding's output needs no
    gradient, so the linears reading it (the per-layer model projection, the extra AltUp streams'
    projections) save neither their base weight's cast nor lora_A's; a frozen weight is not in
    autocast's cache, so the AltUp router, called twice per layer, saves two casts of it.
    `adapters`: the adapters' elements; `input_grads` as in `outside_bytes` (the embedding's output
    needs a gradient: its readers save their casts).
    """
    if not act.PRECISIONS[precision].mixed:
        return 0
    d, h, L = dims(spec), spec.hidden_size, spec.num_layers
    A = d["altup"]
    from_embedding = 0 if input_grads else h * L * d["per_layer"] + (A - 1) * h * h + A * rank * h
    unused = L * rank * 2 * A                                    # correction coefficients' adapters (never run)
    return 2 * (adapters - unused - from_embedding + L * h * A)


def layer_linear_params(spec: ModelSpec) -> int:
    """Elements of the decoder layers' nn.Linear weights only (the model-level projections apart)."""
    d = dims(spec)
    model_level = spec.hidden_size * spec.num_layers * d["per_layer"] + 2 * (d["altup"] - 1) * spec.hidden_size ** 2
    return linear_params(spec) - model_level


def linear_count(spec: ModelSpec) -> int:
    """How many nn.Linear weights `linear_params` counts (what QLoRA quantizes one by one)."""
    return len(_linears(spec))


def _linears(spec: ModelSpec, names: set[str] | None = None) -> list[tuple[int, int]]:
    """(in, out) of the nn.Linear layers PEFT's all-linear targets (all but lm_head); `names` keeps
    only the attention and MLP linears named (q, k, v, o, gate, up, down)."""
    d = dims(spec)
    A, r, P, L = d["altup"], d["laurel_rank"], d["per_layer"], spec.num_layers
    h, q, kv = spec.hidden_size, spec.q_dim, spec.kv_dim
    out = []
    for j in range(L):
        i = _width(spec, j)
        layer = [("q", h, q), ("k", h, kv), ("v", h, kv), ("o", q, h), ("gate", h, i), ("up", h, i), ("down", i, h)]
        if _shared(spec, j):
            layer = [x for x in layer if x[0] not in ("k", "v")]
        out += [(fin, fout) for n, fin, fout in layer if names is None or n in names]
        if names is None:
            out += [(h, A), (A, A * A), (A, A), (h, r), (r, h), (h, P), (P, h)]
    if names is None:
        out += [(h, L * P)] + [(h, h)] * (2 * (A - 1))
    return out


def lora_shapes(spec: ModelSpec, rank: int, names: set[str] | None = None) -> list[tuple[int, ...]]:
    """LoRA A (r x in) and B (out x r) shapes on PEFT's targets: all-linear (None) wraps every linear
    above, AltUp's correction coefficients included (they get adapters, though the forward calls
    F.linear on their clamped weight and never runs them)."""
    shapes: list[tuple[int, ...]] = []
    for fin, fout in _linears(spec, names):
        shapes += [(rank, fin), (fout, rank)]
    return shapes


def param_shapes(spec: ModelSpec) -> list[tuple[int, ...]]:
    """Shapes of the language model's parameters (what text-only training gives gradients): the
    embedding, every linear, the per-layer embedding table, and the rest (norms, AltUp output
    scales) as one vector, so the count is `language_model_params()` exactly. The multimodal towers
    take no input in text-only training: no gradients, and no optimizer states (AdamW makes them lazily)."""
    e = dict(spec.extra_params)
    shapes: list[tuple[int, ...]] = [(spec.vocab_size, spec.hidden_size)]
    shapes += [(fout, fin) for fin, fout in _linears(spec)]
    if e.get("per_layer_embedding"):
        shapes.append((e["per_layer_embedding"] // (spec.num_layers * dims(spec)["per_layer"]),
                       spec.num_layers * dims(spec)["per_layer"]))
    rest = spec.language_model_params() - sum(a * b for a, b in shapes)
    return shapes + ([(rest,)] if rest > 0 else [])


def check_lora_targets(spec: ModelSpec, targets: str) -> None:
    """Only PEFT's all-linear is modelled: with named targets the AltUp, Laurel and per-layer paths
    before the first adapted linear need no gradient and save nothing, a different accounting."""
    from .errors import VramkitError

    if targets != "all-linear":
        raise VramkitError(f"{spec.source or spec.model_type}: LoRA training memory of Gemma 3n is modeled "
                           f"for --lora-targets all-linear only, not {targets!r}")


def untimely_grad_params(spec: ModelSpec) -> int:
    """Parameters whose gradient appears only at the end of backward (after every layer's), not
    spread over the layers: the per-layer embedding table and the model's per-layer projection."""
    e = dict(spec.extra_params)
    return e.get("per_layer_embedding", 0) + e.get("per_layer_projection", 0)
