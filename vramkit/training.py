"""Training memory: the peak of allocated tensor memory during a training step, and what is alive then.

A step has phases, and the memory alive in each differs:

1. forward: weights + optimizer states (from the previous step) + the activations each layer
   saves for backward, growing layer by layer; at its end the loss briefly holds the logits in
   the compute dtype, their fp32 copy and log_softmax's output together.
2. backward: starts with every saved activation alive plus the loss's vocab-wide fp32 gradients;
   then, layer by layer from the top, saved activations are freed while gradients appear.
3. optimizer step: weights + gradients + states + the step's temporaries.
4. zero_grad(set_to_none=True) frees the gradients.

`peak_bytes` is the largest of these moments in the steady state (second step: the states exist
from the first), and `breakdown` is what is alive at that moment; it is not the sum of each
component's own maximum (those are in `maxima`). The numbers follow DESIGN's definition of
peak_bytes (tensor memory comparable to torch.cuda.max_memory_allocated); CUDA context and
allocator caching are reported apart in `overhead_bytes`.

Checked against MemTracker peaks in tests/reference/training.json (tests/test_training.py). Hybrid
layers (Gated DeltaNet, Mamba, Mamba-2, short convolution) and the 2026 families' extra terms are in
vramkit.training_hybrid: what transformers' PyTorch paths save (tests/reference/training_hybrids.json),
not the fused CUDA kernels, which save less. Gemma 3n (AltUp streams, Laurel, per-layer inputs) is
vramkit.training_gemma3n (tests/reference/training_gemma3n.json).
Explained in the chapter on training memory.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from . import activations as act
from . import activations_dsa as dsa
from . import activations_encoder as enc
from . import activations_t5 as t5
from . import fused_loss as fl
from . import kbit_prepare as kbit
from . import optimizers as opt
from . import training_gemma3n as g3n
from . import training_hybrid as hyb
from .errors import VramkitError, require_positive, unknown
from .model import ModelSpec
from .monotone import largest_true

PRECISIONS = tuple(act.PRECISIONS)
# "math": SDPA's math kernel (PyTorch's fallback, e.g. on a CPU with dropout and a bias that needs a
# gradient): modelled for T5 only, where it is what the CPU reference measured.
ATTENTIONS = ("sdpa", "flash", "eager", "math")
COMPONENTS = ("weights", "gradients", "optimizer", "activations", "temporary")
# FSDP sharding strategies as the ZeRO stage that shards the same things: FSDP1's
# ShardingStrategy names, and FSDP2's `fully_shard` (reshard_after_forward=True, the default, frees
# the gathered parameters after each layer's forward: stage 3; False keeps them until backward, so
# the peak holds them unsharded as stage 2 does).
FSDP = {"full_shard": 3, "shard_grad_op": 2, "no_shard": 0,
        "fully_shard": 3, "fully_shard_no_reshard": 2}
# NF4 with double quantization (bitsandbytes): 4 bits per weight, one 8-bit absmax per 64 weights,
# and one fp32 scale per 256 absmax blocks -> 0.5 + 1/64 + 4/(64*256) bytes per weight.
NF4_BLOCK, NF4_DQ_BLOCK = 64, 256
# CUDA context + cuBLAS workspace + allocator slack, reported apart from peak_bytes.
CUDA_CONTEXT_BYTES = 500 * 2**20
ALLOCATOR_SLACK = 0.05


@dataclass
class TrainingMemory:
    """Peak training memory (bytes) and what is alive at the peak.

    `breakdown`: the five components at the peak moment (they add up to `peak_bytes`).
    `peak_phase`: "forward_end", "backward" or "optimizer_step". `phases`: the total at each
    phase's own peak. `maxima`: each component's largest value over the step (not simultaneous).
    `overhead_bytes`: CUDA context and allocator caching, not inside `peak_bytes`.
    `phase_breakdown`: the five components at each phase's own peak (a step's memory timeline).
    `paged_optimizer_bytes`: a bitsandbytes paged optimizer's state buffers in CUDA unified memory
    (vramkit.optimizers.paged_state_bytes), per GPU; not in `peak_bytes`, the breakdown or
    `total_with_overhead_bytes`, as max_memory_allocated does not count them. They take GPU memory
    while it is free and move to host memory when it is not.
    """

    peak_bytes: int
    breakdown: dict[str, int]
    peak_phase: str
    phases: dict[str, int]
    maxima: dict[str, int]
    overhead_bytes: int
    params: int
    trainable_params: int
    settings: dict = field(default_factory=dict)
    host_bytes: int = 0      # what offloading keeps in CPU memory (per GPU rank), not in peak_bytes
    phase_breakdown: dict[str, dict[str, int]] = field(default_factory=dict)
    paged_optimizer_bytes: int = 0

    def to_json(self) -> dict:
        """The `vramkit train --json` contract (DESIGN.md): plain ints in bytes."""
        d = asdict(self)
        d["total_with_overhead_bytes"] = self.peak_bytes + self.overhead_bytes
        return d


# ---- parameter tensors -------------------------------------------------------------------

def linear_shapes(spec: ModelSpec) -> list[tuple[str, int, int]]:
    """(name, in_features, out_features) of every linear in one decoder layer, as PEFT sees them.

    Fused projections (phi3 qkv_proj/gate_up_proj, gpt2 c_attn/c_fc, gpt-neox query_key_value)
    are one linear each, which matters for LoRA (one adapter pair per linear).
    """
    h, q, kv, i = spec.hidden_size, spec.q_dim, spec.kv_dim, spec.intermediate_size
    vo = spec.num_heads * spec.value_head_dim
    mt = spec.model_type
    if mt in act.FUSED_QKV:
        attn = [("qkv", h, q + 2 * kv), ("o", vo, h)]
    elif mt in dsa.MODEL_TYPES:  # MLA's low-rank projections and the DSA indexer's linears
        attn = dsa.attention_linears(spec)
    else:
        attn = [("q", h, q), ("k", h, kv), ("v", h, kv), ("o", vo, h)]
    if mt in act.FUSED_GATE_UP:
        mlp = [("gate_up", h, 2 * i), ("down", i, h)]
    elif spec.mlp_gated:
        mlp = [("gate", h, i), ("up", h, i), ("down", i, h)]
    else:
        mlp = [("up", h, i), ("down", i, h)]
    return attn + mlp


def param_shapes(spec: ModelSpec) -> list[tuple[int, ...]]:
    """Shapes of the model's parameter tensors (biases and norms included), for the optimizer.

    The shapes decide the for-loop optimizer's temporaries (largest tensor) and Adafactor's
    factored states; their element count equals `spec.params()` up to small MLA/MoE extras.
    """
    if spec.is_hybrid:  # layers of different kinds: vramkit.training_hybrid
        return hyb.param_shapes(spec)
    if g3n.applies(spec):  # AltUp, Laurel, per-layer inputs: vramkit.training_gemma3n
        return g3n.param_shapes(spec)
    h, v = spec.hidden_size, spec.vocab_size
    shapes: list[tuple[int, ...]] = [(v, h)]
    if spec.learned_positions:
        shapes.append((spec.learned_positions, h))
    for layer in range(spec.num_layers):
        for _, fin, fout in linear_shapes(spec)[:-3 if spec.mlp_gated and spec.model_type not in act.FUSED_GATE_UP else -2]:
            shapes.append((fout, fin))
        moe = spec.is_moe and spec.moe_layers[layer]
        if moe:
            shapes.append((spec.num_experts, h))
            shapes.append((spec.num_experts, 2 * spec.moe_intermediate_size, h))
            shapes.append((spec.num_experts, h, spec.moe_intermediate_size))
        else:
            for _, fin, fout in linear_shapes(spec)[-3 if spec.mlp_gated and spec.model_type not in act.FUSED_GATE_UP else -2:]:
                shapes.append((fout, fin))
        shapes += [(h,)] * spec.norms_per_layer * (2 if spec.norm_bias else 1)
    shapes.append((h,))
    if not spec.tie_word_embeddings:
        shapes.append((v, h))
    counted = sum(math.prod(s) for s in shapes)
    rest = spec.params() - counted           # biases, QK norms, sinks, MLA extras: small vectors
    if rest > 0:
        shapes.append((rest,))
    return shapes


def lora_shapes(spec: ModelSpec, rank: int, targets: str = "all-linear") -> list[tuple[int, ...]]:
    """Shapes of LoRA's A (r x in) and B (out x r) matrices on the targeted linears of every layer.

    A MoE layer has no gate/up/down nn.Linear: its MLP names select the shared expert's linears
    (and its 1-wide sigmoid gate), and with "all-linear" on the families in
    `activations.LORA_ON_EXPERTS` PEFT also wraps the router weight (rank r) and the fused expert
    parameters: gate_up_proj at rank 2r (the two transformers-4 linears it fuses), down_proj at
    rank r, each as lora_A = Linear(in, rank * experts), lora_B = Linear(rank * experts, out).
    """
    names = _lora_targets(spec, targets)
    if g3n.applies(spec):
        g3n.check_lora_targets(spec, targets)
        return g3n.lora_shapes(spec, rank)
    if spec.is_hybrid:  # mixer layers have their own linears, some layers no attention or MLP
        return hyb.lora_shapes(spec, rank, None if targets == "all-linear" else names)
    out = []
    for layer in range(spec.num_layers):
        moe = spec.is_moe and spec.moe_layers[layer]
        for name, fin, fout in linear_shapes(spec):
            if name not in names or (targets == "all-linear" and hyb.peft_skips_mlp(spec)
                                     and name in ("gate", "up", "down", "gate_up")):
                continue  # (PEFT maps these names onto the fused experts: no nn.Linear of them is wrapped)
            if moe and name in ("gate", "up", "down", "gate_up"):
                s = spec.shared_expert_size
                if not s:
                    continue
                fin, fout = (s, fout) if name == "down" else (fin, s * (2 if name == "gate_up" else 1))
            out += [(rank, fin), (fout, rank)]
        if moe and spec.shared_expert_gate and "gate" in names:
            out += [(rank, spec.hidden_size), (1, rank)]
        if moe and targets == "all-linear" and spec.model_type in act.LORA_ON_EXPERTS:
            e, h, mi = spec.num_experts, spec.hidden_size, spec.moe_intermediate_size
            out += [(rank, h), (e, rank)]                                   # router
            out += [(2 * rank * e, h), (2 * mi, 2 * rank * e)]              # gate_up_proj
            out += [(rank * e, mi), (h, rank * e)]                          # down_proj
    return out


def _lora_targets(spec: ModelSpec, targets: str) -> set[str]:
    all_names = {n for n, _, _ in linear_shapes(spec)}
    if targets == "all-linear":
        return all_names
    if targets == "attention":
        return {n for n in all_names if n in ("q", "k", "v", "o", "qkv")
                or n in ("q_a", "q_b", "kv_a", "kv_b")}  # MLA (vramkit.activations_dsa)
    names = {t.strip().removesuffix("_proj") for t in targets.split(",") if t.strip()}
    for n in names:
        if n not in all_names:
            raise unknown(f"--lora-targets module for {spec.model_type}", n, sorted(all_names))
    return names


# ---- the model ------------------------------------------------------------------------------

def train_memory(spec: ModelSpec, *, seq: int, batch: int = 1, precision: str = "mixed",
                 optimizer: str = "adamw", optimizer_impl: str = "trainer",
                 gradient_checkpointing: bool = False, lora_rank: int = 0,
                 lora_targets: str = "all-linear", qlora: bool = False, zero: int | str = 0,
                 gpus: int = 1, offload: bool = False, attention: str = "sdpa",
                 keep_outputs: bool = False, gradient_accumulation: int = 1,
                 fused_loss: str = "none", activation_offload: bool = False,
                 prepare_kbit: bool = False) -> TrainingMemory:
    """Peak memory of a training step per GPU, in bytes, with the breakdown at the peak.

    `optimizer_impl`: "trainer" (the default: what Trainer runs, fused AdamW with torch >= 2.8),
    "foreach" (a plain torch.optim optimizer on CUDA), "for-loop" or "fused".
    `precision`: "mixed" (fp32 weights, bf16 autocast, fp32 grads and states: Trainer(bf16=True)),
    "bf16"/"fp16" (everything in 16 bits) or "fp32". `lora_rank` > 0 trains PEFT LoRA adapters
    (fp32, PEFT's default) on `lora_targets`; `qlora` stores the frozen base linears in NF4.
    `zero` 1/2/3 (or an FSDP strategy name) shards states / +gradients / +weights over `gpus`;
    `offload` keeps the sharded optimizer states (and, at stage 3, the parameters: only the layer
    in flight and the prefetched one stay gathered on the GPU) in CPU memory, in `host_bytes`.
    `keep_outputs`: the hand-written loop (`out = model(**batch); out.loss.backward()`) that keeps
    the output object, and so the logits, alive through backward; Trainer's loop (the default)
    keeps only the loss. `gradient_accumulation` N: N micro-batches of `batch` sequences per
    optimizer step; from the second on, forward and backward run with every gradient allocated.
    `fused_loss`: "liger" is Liger-Kernel's fused linear cross-entropy (`use_liger_kernel=True`), which
    never makes the vocabulary-wide logits (vramkit.fused_loss: modelled from Liger's source, checked
    against an emulation of its allocations, not Liger running).
    `activation_offload`: the forward and loss under `torch.autograd.graph.save_on_cpu`: every tensor
    autograd saves is copied to host memory (`host_bytes`) and copied back when its backward node runs.
    With `gradient_checkpointing` only the layers' inputs (and the head's saved tensors) go there; each
    layer's recompute in backward runs on the GPU, outside the hooks.
    `prepare_kbit`: QLoRA after `peft.prepare_model_for_kbit_training` (vramkit.kbit_prepare): every
    parameter the 4-bit linears do not hold is fp32, and so are the activations outside the matmuls.
    Its default use_gradient_checkpointing=True is `gradient_checkpointing=True` here.
    """
    s = _check(spec, seq, batch, precision, optimizer, optimizer_impl, lora_rank, lora_targets,
               qlora, zero, gpus, attention)
    require_positive("gradient_accumulation", gradient_accumulation)
    if fused_loss not in fl.FUSED_LOSSES:
        raise unknown("fused loss", fused_loss, fl.FUSED_LOSSES)
    if fused_loss != "none" and (spec.architecture != "decoder" or not spec.lm_head):
        raise VramkitError(f"fused_loss: {fused_loss!r} replaces a causal LM's vocabulary loss; "
                           f"{spec.model_type} ({spec.architecture}) has none to replace")
    liger = fused_loss == "liger"
    if liger and g3n.applies(spec):
        raise VramkitError(f"fused_loss: 'liger' is not modeled for {spec.model_type} (its softcapped head)")
    offload_act = bool(activation_offload)
    if offload_act and (spec.architecture != "decoder" or not spec.lm_head):
        raise VramkitError(f"activation_offload: modelled for causal LMs only, not {spec.model_type} "
                           f"({spec.architecture})")
    zero = s["zero"]
    if prepare_kbit:
        kbit.check(spec, qlora)
    s.update(fused_loss=fused_loss, activation_offload=offload_act, prepare_kbit=bool(prepare_kbit))
    s.update(gradient_checkpointing=bool(gradient_checkpointing), offload=bool(offload),
             keep_outputs=bool(keep_outputs), gradient_accumulation=gradient_accumulation)
    accumulating = gradient_accumulation > 1
    o = opt.get_optimizer(optimizer)
    p = act.PRECISIONS[precision]
    tokens = seq * batch
    lora = lora_rank > 0 or qlora
    if qlora and not lora_rank:
        lora_rank = 16
    n_params = spec.params()

    # -- weights, gradients, optimizer states -------------------------------------------------
    linear_w = _linear_params(spec)                     # decoder linears (quantized by QLoRA)
    if lora:
        trainable = lora_shapes(spec, lora_rank, lora_targets)
        train_bytes = 4                                 # PEFT up-casts adapters to fp32
        base = n_params * p.weight
        if qlora:
            nf4 = linear_w // 2 + -(-linear_w // NF4_BLOCK) + 4 * -(-linear_w // (NF4_BLOCK * NF4_DQ_BLOCK))
            # per quantized tensor: its 16-entry NF4 code, the double quant's 256-entry fp32 code and
            # fp32 offset (bitsandbytes QuantState; measured in training_optimizers.json)
            nf4 += _linear_tensors(spec) * (16 * 4 + 256 * 4 + 4)
            base = (n_params - linear_w) * 2 + nf4      # the rest stays bf16
            if prepare_kbit:                            # ... or is up-cast to fp32
                base += kbit.upcast_bytes(spec, linear_w)
        n_train = sum(math.prod(x) for x in trainable)
        weights = base + n_train * train_bytes
    else:
        trainable = param_shapes(spec)
        train_bytes = p.weight
        n_train = n_params
        if g3n.applies(spec):  # text-only training: the towers of a multimodal config get no gradients
            n_train = spec.language_model_params()
        weights = n_params * p.weight
    graded = trainable
    if spec.model_type in dsa.MODEL_TYPES:  # DSA's indexer trains without gradients: no grads, no states
        graded = dsa.graded_shapes(spec, trainable, lora, lora_rank)
    grads = (n_train - sum(map(math.prod, trainable)) + sum(map(math.prod, graded))) * train_bytes
    states = opt.state_bytes(o, graded, train_bytes)
    paged = opt.paged_state_bytes(o, graded)         # unified memory, outside PyTorch's allocator
    states -= paged
    step_temp = opt.step_temporary_bytes(o, optimizer_impl, graded, train_bytes)

    if zero and not lora and p.mixed:
        # DeepSpeed's mixed precision: 16-bit weights and gradients, fp32 master copy in the optimizer
        weights, grads = 2 * n_params, 2 * n_params
        states = states + 4 * n_params
    if zero >= 1:
        states = -(-states // gpus)
        paged = -(-paged // gpus)
        step_temp = -(-step_temp // gpus)
    if zero >= 2:
        grads = -(-grads // gpus)
    if zero >= 3:
        weights = -(-weights // gpus)
    host = 0
    if offload and zero:
        # ZeRO-Offload: the optimizer step runs on the CPU over the rank's shard of the states (and,
        # in DeepSpeed's mixed precision, the fp32 master weights); at stage 3 the parameters are
        # offloaded too (offload_param) and the GPU holds only what is gathered for the layer in
        # flight and the one prefetched after it. Modelled from DeepSpeed's design; no fixture.
        host = states + step_temp + paged               # (on a CPU bitsandbytes pages nothing)
        states, step_temp, paged = 0, 0, 0
        if zero >= 3:
            widest = max([spec.layer_params(i) for i in range(spec.num_layers)]
                         + [spec.vocab_size * spec.hidden_size])
            gathered = 2 * widest * (2 if (p.mixed or p.weight == 2) else p.weight)
            host += weights
            weights = min(weights * gpus, gathered)

    # -- activations --------------------------------------------------------------------------
    if prepare_kbit:  # fp32 outside the 4-bit matmuls (autocast still casts what it casts)
        precision = kbit.activation_precision(precision)
        p = act.PRECISIONS[precision]
    encoder = spec.architecture == "encoder"
    if encoder:  # BERT-style: post-LN layers, token types, a classification or masked-LM head
        heads = enc.head_terms(spec, precision, seq=seq)
        layer = [enc.layer_terms(spec, i, precision, seq=seq, attention=attention) for i in range(spec.num_layers)]
    else:
        heads = act.head_terms(spec, precision, lora=lora)
        layer = [act.layer_terms(spec, i, precision, seq=seq, attention=attention, lora=lora,
                                 fp32_linear_out=prepare_kbit and p.mixed) for i in range(spec.num_layers)]
    per_layer = [sum(t.values()) * tokens for t in layer]
    if spec.is_hybrid:  # recurrent / convolution mixers, single-block layers (vramkit.training_hybrid)
        per_layer = [hyb.layer_bytes(spec, i, precision, seq=seq, batch=batch, attention=attention, lora=lora)
                     for i in range(spec.num_layers)]
    per_layer = [x + hyb.family_extra_bytes(spec, i, precision, seq=seq, batch=batch, lora=lora)
                 for i, x in enumerate(per_layer)]
    gem = g3n.applies(spec)
    if gem:  # Gemma 3n: AltUp streams, Laurel, per-layer inputs (vramkit.training_gemma3n)
        per_layer = [g3n.layer_bytes(spec, i, precision, seq=seq, batch=batch, lora_rank=lora_rank if lora else 0)
                     for i in range(spec.num_layers)]
    seq2seq = spec.architecture == "encoder-decoder"
    if seq2seq:  # T5: activations_t5 (the encoder's layers spread over the decoder's for the walk)
        per_layer, t5_head, t5_loss = _t5_activations(spec, precision, seq, batch, attention)
    # LoRA on MoE experts: merged expert weights saved per layer, their gradient in the layer's backward
    experts = [act.lora_expert_bytes(spec, i, precision, lora_rank) if lora else (0, 0)
               for i in range(spec.num_layers)]
    per_layer = [x + m for x, (m, _) in zip(per_layer, experts)]
    liger_b = None
    if liger:  # no lm_head linear (its saved input) and no log_softmax: Liger's grad_input instead
        liger_b = fl.liger_bytes(tokens, spec.hidden_size, spec.vocab_size, p.act, train_bytes if not lora
                                 else p.weight, head_trainable=not lora, autocast=p.mixed,
                                 input_bytes=p.res)
        heads = dict(heads, head_input=0, log_softmax=0, liger_grad_input=liger_b.saved // tokens)
    head_bytes = t5_head if seq2seq else sum(heads.values()) * tokens
    if gem:
        head_bytes = g3n.outside_bytes(spec, precision, seq=seq, batch=batch, lora_rank=lora_rank if lora else 0,
                                       input_grads=lora and gradient_checkpointing)
    # mixed: every linear's weight is cast to bf16 and the copy saved for backward, frozen or not
    # (a frozen weight's copy is still needed for the input's gradient)
    head_w = spec.vocab_size * spec.hidden_size if spec.lm_head else 0
    # (Liger's matmuls use autocast's cast of the head weight only inside the loss: a transient)
    casts = 0 if qlora else act.weight_cast_bytes(linear_w + (0 if liger else head_w), precision)
    if prepare_kbit and not liger:
        casts = kbit.head_cast_bytes(spec, precision)
    layer_casts = 0 if qlora else act.weight_cast_bytes(linear_w, precision) // max(spec.num_layers, 1)
    if gem and lora and not qlora:  # autocast's casts of the adapters, the frozen embedding's readers
        casts += g3n.lora_cast_bytes(spec, precision, lora_rank, n_train, input_grads=gradient_checkpointing)
    if gem and not qlora:  # (the model-level AltUp and per-layer projections are no layer's)
        layer_casts = act.weight_cast_bytes(g3n.layer_linear_params(spec), precision) // spec.num_layers
    loss = enc.loss_transient_bytes(spec, precision) if encoder else act.loss_transient_bytes(spec, precision)
    if seq2seq:
        loss = t5_loss
    fwd_loss, bwd_loss = (x * tokens for x in loss)
    # Gemma 3n: the output object holds the DynamicCache (use_cache, off under checkpointing) whose
    # fp32 K nothing saved, and the final norm's output; Trainer's loop frees them before backward
    g3n_cache = g3n.cache_bytes(spec, precision, seq=seq, batch=batch) if gem and not gradient_checkpointing else 0
    if gem:
        fwd_loss += g3n_cache + g3n.forward_transient_bytes(spec, precision, seq=seq, batch=batch)
        if gradient_checkpointing and not lora:  # autocast's cache keeps every trainable weight's cast
            fwd_loss += layer_casts * spec.num_layers  # until the forward ends (frozen ones are not cached)
    liger_grad = 0
    if liger:
        # under autocast, bf16 casts of the head weight: `x @ W.t()` casts the transposed view anew
        # (autocast caches casts of trainable leaf tensors, not of views) while `grad @ W`'s cached
        # cast persists: two at once; a frozen head (LoRA) is never cached: one at a time
        fwd_loss = liger_b.forward_transient + (1 if lora else 2) * act.weight_cast_bytes(head_w, precision)
        bwd_loss = 0
        liger_grad = liger_b.head_grad
    if gradient_checkpointing:
        # only each layer's input survives the forward; one layer is recomputed at a time in backward
        kept = [p.res * spec.hidden_size * tokens for _ in range(spec.num_layers)]
        if gem:  # the layers' input streams; the checkpoints also hold the shared K/V and the masks
            kept = [g3n.checkpoint_input_bytes(spec, precision, seq=seq, batch=batch)] * spec.num_layers
            kept[0] += g3n.checkpoint_bytes(spec, precision, seq=seq, batch=batch)
        activ = sum(kept) + head_bytes + (casts - layer_casts * spec.num_layers)
    else:
        kept = [x + layer_casts for x in per_layer]
        activ = sum(kept) + head_bytes + (casts - layer_casts * spec.num_layers)

    # -- phases (steady state: the states exist) ------------------------------------------
    # The logits: freed after the loss in Trainer's loop, alive through backward when the loop keeps
    # the outputs (MemTracker files them as activations: they were made in forward).
    kept_logits = hyb.logits_bytes(spec, p) * spec.vocab_size * tokens if keep_outputs and not liger else 0
    kept_logits += g3n_cache if keep_outputs else 0     # (Gemma 3n's cache lives in the output object too)
    # Gradient accumulation: a later micro-batch starts with every gradient of the earlier ones alive.
    held_grads = grads if accumulating else 0
    moments = {}
    # Liger makes the head weight's gradient inside the loss: a gradient from then on (with accumulation,
    # a new tensor added into the held one: a temporary)
    early = (0, liger_grad) if accumulating else (liger_grad, 0)
    gpu_act, log_sm = activ, 0
    if offload_act:
        # save_on_cpu: the saved tensors live on the host from forward to backward (tensors saved by
        # several nodes are packed once per node; the weights the linears save are packed too). The GPU
        # keeps them only while they are in use: at the loss, the logits, their fp32 copy and the
        # log_softmax output; at the start of backward, the unpacked log_softmax output beside the two
        # vocab-wide gradients. Checked against an emulation of save_on_cpu (training_offload.json).
        host += activ + (0 if (p.mixed or qlora) else (linear_w + head_w) * p.weight)
        log_sm = 0 if liger else 4 * spec.vocab_size * tokens
        gpu_act = 0
    fwd_early = early if not offload_act else (0, 0)   # Liger's saved gradients go to the host too
    moments["forward_end"] = dict(weights=weights, gradients=held_grads + fwd_early[0], optimizer=states,
                                  activations=gpu_act, temporary=fwd_loss + fwd_early[1] + log_sm)
    moments["backward"] = dict(weights=weights, gradients=held_grads + early[0], optimizer=states,
                               activations=gpu_act + kept_logits, temporary=bwd_loss + early[1] + log_sm)
    # walking down the layers: activations freed, gradients appear
    g_layers = grads - _head_grad(spec, grads, n_train, lora)
    g_head = grads - g_layers
    # an untied input embedding gets its gradient after the first layer's backward, when that layer's
    # activations are freed: not alive in the walk below (matters for small models, large vocabularies)
    g_layers -= _embedding_grad(spec, grads, n_train, lora)
    if gem and not lora:  # the per-layer embedding's gradient comes after every layer's
        g_layers -= g3n.untimely_grad_params(spec) * (grads // max(n_train, 1))
    remaining = activ - head_bytes - (casts - layer_casts * spec.num_layers) - 4 * spec.vocab_size * tokens * 0
    acc_grad = g_head
    for j in reversed(range(spec.num_layers)):
        remaining -= kept[j]
        live_layer = (per_layer[j] + layer_casts) if gradient_checkpointing else kept[j]
        # a mixer whose peak comes inside its own backward: what it saved after that point is freed, and
        # the gradients of its parameters before that point do not exist yet (vramkit.training_hybrid)
        live_layer -= hyb.backward_released_bytes(spec, j, p, seq=seq, batch=batch, lora=lora)
        pending = hyb.backward_pending_params(spec, j, lora_rank) * (grads // max(n_train, 1))
        temp = (enc.backward_temp_bytes(spec, precision) * tokens if encoder else
                hyb.backward_temp_bytes(spec, j, p, seq=seq, batch=batch)
                or _layer_backward_temp(spec, p, tokens)) + experts[j][1]
        if seq2seq:  # T5: the position bias's gradient, one attention block at a time
            temp += t5.bias_grad_bytes(spec, precision, seq=seq, attention=attention) * tokens
        total_act = remaining + live_layer + kept_logits
        if offload_act and gradient_checkpointing:
            # the layer's input comes back from the host and its recompute runs on the GPU, outside the
            # save_on_cpu block (checkpoint's own hooks keep the recomputed tensors)
            total_act = live_layer + p.res * spec.hidden_size * tokens + kept_logits
        elif offload_act:  # one node's saved tensors unpacked at a time: the MLP product's two inputs
            total_act = 2 * p.act * spec.intermediate_size * tokens + kept_logits
        if keep_outputs:  # the output's cache (Jamba: vramkit.training_hybrid.kept_cache_bytes)
            total_act += hyb.kept_cache_bytes(spec, j, p, seq=seq, batch=batch,
                                              gradient_checkpointing=gradient_checkpointing)
        # an encoder's peak comes inside a layer's backward, before that layer's weight gradients
        done = acc_grad
        acc_grad += g_layers // max(spec.num_layers, 1)
        if offload_act and gradient_checkpointing and not accumulating:
            # the recomputed layer is the largest thing alive, and only at the start of its backward: the
            # gradients then are the upper layers' and the first one this layer makes (its MLP's output
            # projection's); the rest appear as the recomputed tensors are freed
            down = 0 if lora else spec.intermediate_size * spec.hidden_size * (grads // max(n_train, 1))
            m = dict(weights=weights, gradients=done + down, optimizer=states, activations=total_act,
                     temporary=temp)
        elif accumulating:  # the layer's new gradients are made, then added into the held ones in place
            m = dict(weights=weights, gradients=grads, optimizer=states, activations=total_act,
                     temporary=temp + g_layers // max(spec.num_layers, 1) - pending)
        else:
            m = dict(weights=weights, gradients=done if encoder else acc_grad - pending, optimizer=states,
                     activations=total_act, temporary=temp)
        if sum(m.values()) > sum(moments["backward"].values()):
            moments["backward"] = m
    tied = _tied_head_grad(spec, grads, n_train, lora) if not zero else 0
    if tied:
        # A tied embedding's two gradients (the head's, the embedding's) meet in autograd's input buffer,
        # which adds them out of place before the one AccumulateGrad: three vocab x hidden tensors at the
        # end of backward, with every other gradient made. Liger's head gradient was made in forward.
        m = dict(weights=weights, gradients=grads if accumulating else grads - tied, optimizer=states,
                 activations=tied if liger else 0, temporary=(2 if liger else 3) * tied)
        if sum(m.values()) > sum(moments["backward"].values()):
            moments["backward"] = m
    moments["optimizer_step"] = dict(weights=weights, gradients=grads, optimizer=states, activations=0,
                                     temporary=step_temp)
    totals = {k: sum(v.values()) for k, v in moments.items()}
    phase = max(totals, key=lambda k: totals[k])
    peak = totals[phase]
    maxima = {c: max(m[c] for m in moments.values()) for c in COMPONENTS}
    overhead = CUDA_CONTEXT_BYTES + int(ALLOCATOR_SLACK * peak)
    return TrainingMemory(peak_bytes=peak, breakdown=dict(moments[phase]), peak_phase=phase,
                          phases=totals, maxima=maxima, overhead_bytes=overhead, params=n_params, host_bytes=host,
                          trainable_params=n_train, settings=s,
                          phase_breakdown={k: dict(v) for k, v in moments.items()}, paged_optimizer_bytes=paged)


def _linear_params(spec: ModelSpec) -> int:
    """Elements of the decoder layers' linear weights (attention and MLP matrices, experts, routers);
    for T5 also the encoder's and the cross-attention's (the encoder count less its RMS norms)."""
    if g3n.applies(spec):  # with AltUp's, Laurel's and the per-layer linears
        return g3n.linear_params(spec)
    b = spec.breakdown()
    n = b["attention"] + b["mixer"] + b["mlp"] + b["experts"] + b["router"]
    if spec.architecture == "encoder-decoder":
        n += b.get("cross_attention", 0) + b.get("encoder", 0) - (2 * spec.encoder_layers + 1) * spec.hidden_size
    return n


def _linear_tensors(spec: ModelSpec) -> int:
    """How many linear weight tensors the decoder layers hold (what QLoRA quantizes one by one)."""
    if g3n.applies(spec):
        return g3n.linear_count(spec)
    return spec.num_layers * len(linear_shapes(spec))


def _t5_activations(spec: ModelSpec, precision: str, seq: int, batch: int, attention: str):
    """T5's saved activations (activations_t5): per decoder layer with an equal share of the encoder's
    layers, the bytes outside the layers, and the loss's (forward, backward) bytes per token."""
    tokens = seq * batch
    kw = dict(seq=seq, attention=attention)
    enc_total = spec.encoder_layers * t5.encoder_layer_bytes(spec, precision, **kw) * tokens
    dec = t5.decoder_layer_bytes(spec, precision, **kw) * tokens
    n = max(spec.num_layers, 1)
    per_layer = [dec + enc_total // n + (enc_total % n if j == 0 else 0) for j in range(spec.num_layers)]
    head = (t5.outside_layers_bytes(spec, precision) * tokens
            + t5.constant_bytes(spec, precision, seq=seq, batch=batch, attention=attention))
    return per_layer, head, t5.loss_transient_bytes(spec, precision)


def _head_grad(spec: ModelSpec, grads: int, n_train: int, lora: bool) -> int:
    """Bytes of gradient produced before the first decoder layer's backward: the output head's."""
    if lora or not n_train:
        return 0
    per = grads // n_train
    if not spec.lm_head:  # a classification head: its few weights
        return sum(n for _, n in spec.components if n > 0 and _ in ("pooler", "classifier")) * per
    return spec.vocab_size * spec.hidden_size * per + spec.hidden_size * per


def _tied_head_grad(spec: ModelSpec, grads: int, n_train: int, lora: bool) -> int:
    """Bytes of one gradient of a decoder's tied embedding / head weight (0 when untied or frozen)."""
    if lora or not n_train or not spec.tie_word_embeddings or not spec.lm_head or spec.architecture != "decoder":
        return 0
    return spec.vocab_size * spec.hidden_size * (grads // n_train)


def _embedding_grad(spec: ModelSpec, grads: int, n_train: int, lora: bool) -> int:
    """Bytes of the untied input embedding's gradient of a decoder (0 when tied, frozen, or not a decoder)."""
    if lora or not n_train or spec.tie_word_embeddings or not spec.lm_head or spec.architecture != "decoder":
        return 0
    return spec.vocab_size * spec.hidden_size * (grads // n_train)


def _layer_backward_temp(spec: ModelSpec, p: act.Precision, tokens: int) -> int:
    """Gradients of a layer's intermediate tensors in flight during its backward (MLP-wide)."""
    return 3 * p.act * spec.intermediate_size * tokens


def _check(spec, seq, batch, precision, optimizer, impl, lora_rank, lora_targets, qlora, zero, gpus,
           attention) -> dict:
    hyb.check_trainable(spec)
    if spec.is_hybrid and not hyb.supported(spec):
        # a mixer whose saved tensors are not modelled (vramkit.training_hybrid): refuse rather than guess
        raise VramkitError(f"{spec.source or spec.model_type}: training memory of {spec.mixer or 'MLP-only'} "
                           f"hybrid layers is not modeled yet ('params' and 'infer' are)")
    seq, batch, gpus = require_positive("seq", seq), require_positive("batch", batch), require_positive("gpus", gpus)
    lora_rank = require_positive("lora_rank", lora_rank, allow_zero=True)
    if precision not in PRECISIONS:
        raise unknown("precision", precision, PRECISIONS)
    opt.get_optimizer(optimizer)
    opt.check_impl(impl)
    if attention not in ATTENTIONS:
        raise unknown("attention", attention, ATTENTIONS)
    if attention == "math" and spec.architecture != "encoder-decoder":
        raise VramkitError(f"attention: 'math' (SDPA's math kernel) is modelled for T5 only; "
                           f"{spec.model_type} takes sdpa, flash or eager")
    if isinstance(zero, str):
        if zero in ("0", "1", "2", "3"):  # not str.isdigit: '³' is a digit to it, not to int()
            zero = int(zero)
        elif zero in FSDP:
            zero = FSDP[zero]
        else:
            raise unknown("ZeRO stage / FSDP strategy", zero, [*map(str, range(4)), *FSDP])
    if zero not in (0, 1, 2, 3):
        raise VramkitError(f"zero: expected a ZeRO stage 0, 1, 2 or 3, got {zero!r}")
    if lora_rank > spec.hidden_size:
        raise VramkitError(f"lora_rank: {lora_rank} is larger than the hidden size {spec.hidden_size} "
                           f"of {spec.model_type}; expected 1..{spec.hidden_size}")
    if lora_rank or qlora:
        _lora_targets(spec, lora_targets)
    return dict(seq=seq, batch=batch, precision=precision, optimizer=opt.get_optimizer(optimizer).name,
                optimizer_impl=impl, optimizer_impl_resolved=opt.resolve_impl(opt.get_optimizer(optimizer), impl),
                lora_rank=lora_rank, lora_targets=lora_targets, qlora=bool(qlora), zero=zero, gpus=gpus,
                attention=attention)


def zero_model_states(params: int, stage: int, gpus: int, k: int = 12) -> int:
    """Bytes of model states per GPU under ZeRO, as in the ZeRO paper (arXiv 1910.02054), Figure 1.

    Mixed-precision Adam keeps 2 bytes of 16-bit weights, 2 of 16-bit gradients and K = 12 bytes of
    fp32 master weights, momentum and variance per parameter: (2 + 2 + K) * params on one GPU.
    Stage 1 shards the K bytes over `gpus`, stage 2 also the gradients, stage 3 also the weights.
    Activations and temporaries are not in this figure.
    """
    require_positive("params", params)
    require_positive("gpus", gpus)
    if stage not in (0, 1, 2, 3):
        raise VramkitError(f"zero: expected a ZeRO stage 0, 1, 2 or 3, got {stage!r}")
    sharded = {0: 0, 1: k, 2: k + 2, 3: k + 4}[stage]
    return (2 + 2 + k - sharded) * params + -(-sharded * params // gpus)


def largest_trainable(spec: ModelSpec, gpu_bytes: int, *, vary: str = "batch", seq: int = 2048,
                      batch: int = 1, limit: int = 1 << 20, **kwargs) -> int:
    """The largest batch (vary="batch") or sequence length (vary="seq") whose peak plus runtime
    overhead fits in `gpu_bytes`; 0 when even 1 does not fit. Other arguments as `train_memory`.

    Memory grows monotonically with both, so a binary search finds the exact limit.
    """
    require_positive("gpu_bytes", gpu_bytes)
    if vary not in ("batch", "seq"):
        raise unknown("quantity to vary", vary, ("batch", "seq"))

    def fits(n: int) -> bool:
        args = dict(seq=seq, batch=batch, **kwargs)
        args[vary] = n
        m = train_memory(spec, **args)
        return m.peak_bytes + m.overhead_bytes <= gpu_bytes

    if not fits(1):
        return 0
    lo, hi = 1, 2
    while hi <= limit and fits(hi):
        lo, hi = hi, hi * 2
    return largest_true(fits, min(hi, limit + 1) - 1, lo)
