"""Speed bounds: how fast decoding and prefill can possibly run on a device.

A lower bound on time is the larger of two: the bytes every step must read from memory divided
by the memory bandwidth, and the floating-point work divided by the peak FLOP/s. Decode reads
every active weight and the whole KV cache for each new token, and does ~2 FLOPs per active
parameter per sequence, so at small batches it is bandwidth-bound. Times are in seconds;
real engines reach some fraction of these bounds. Explained in the chapter on speed
(chapters/*/06-speed.ipynb).
"""
from __future__ import annotations

from dataclasses import dataclass

from .errors import VramkitError, require_positive, unknown
from .hardware import GPU, get_gpu
from .inference import kv_cache_bytes, weights_bytes
from .model import ModelSpec
from .sources import load_model


@dataclass(frozen=True)
class StepBound:
    """The lower bound on one step's time, and which limit sets it."""

    memory_bytes: int        # bytes read from device memory in the step
    flops: int               # floating-point operations in the step
    memory_seconds: float
    compute_seconds: float
    tokens: int              # tokens the step produces (decode) or consumes (prefill)

    @property
    def seconds(self) -> float:
        return max(self.memory_seconds, self.compute_seconds)

    @property
    def bound(self) -> str:
        return "memory" if self.memory_seconds >= self.compute_seconds else "compute"

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds

    @property
    def intensity(self) -> float:
        """Arithmetic intensity: FLOPs per byte read (compare with `ridge_point`)."""
        return self.flops / self.memory_bytes

    @property
    def flops_per_second(self) -> float:
        """The FLOP/s the step attains at its bound: the roofline's height at `intensity`."""
        return self.flops / self.seconds

    def to_json(self) -> dict:
        return {**self.__dict__, "seconds": self.seconds, "bound": self.bound,
                "tokens_per_second": self.tokens_per_second}


def ridge_point(gpu) -> float:
    """FLOPs per byte at which `gpu` turns from memory- to compute-bound (H100 SXM: ~295)."""
    g = get_gpu(gpu)
    if not g.bf16_flops_per_s:
        raise VramkitError(f"GPU '{g.id}' has no FLOP/s figure in the catalog")
    return g.bf16_flops_per_s / g.bandwidth_bytes_per_s


ROUTINGS = ("uniform", "spread", "same")


def experts_touched(num_experts: int, experts_per_token: int, tokens: int, routing: str = "uniform") -> float:
    """Distinct experts one MoE layer reads when `tokens` tokens each pick `experts_per_token`.

    The routing assumption is a parameter, since real routers are neither:
    - "uniform" (default): every token picks k distinct experts uniformly at random, independently of
      the others. An expert escapes one token with probability 1 - k/E, so the expected union is
      E * (1 - (1 - k/E)^B): 82.4 of 128 at B = 16 for Qwen3-30B-A3B (k = 8).
    - "spread": the tokens pick disjoint experts, min(E, k * B) (the upper bound).
    - "same": every token picks the same k experts (the lower bound, k).
    """
    if routing not in ROUTINGS:
        raise unknown("routing", routing, ROUTINGS)
    e, k = num_experts, experts_per_token
    require_positive("tokens", tokens)
    if not 0 < k <= e:
        raise VramkitError(f"experts_per_token must be in [1, {e}], got {k}")
    if routing == "spread":
        return float(min(e, k * tokens))
    if routing == "same":
        return float(k)
    return e * (1 - (1 - k / e) ** tokens)


@dataclass(frozen=True)
class WeightParts:
    """A model's weight bytes in the three parts a decode step reads differently."""

    embedding: int   # the input embedding table (untied): a step reads one row per token
    experts: int     # every routed expert of every MoE layer: a step reads the experts its tokens touch
    other: int       # everything else (attention, dense MLPs, routers, norms, the head): read whole

    @property
    def total(self) -> int:
        return self.embedding + self.experts + self.other


def weight_parts(spec: ModelSpec, weights: str, engine: str = "transformers") -> WeightParts:
    """`weights_bytes(spec, weights)` split into input embedding, routed experts and the rest.

    Per dtype where the storage is mixed: a checkpoint's own tensors (`weights="checkpoint"`,
    e.g. gpt-oss: MXFP4 experts beside bf16 attention), llama.cpp's per-tensor types for GGUF,
    and for the other formats the embedding kept in bf16 as `weights_bytes` keeps it. A tied
    table is also the head, read whole, so it counts as "other".
    """
    from .dtypes import get_format, gguf_tensors, storage_bytes
    from .inference import CHECKPOINT

    total = weights_bytes(spec, weights, engine=engine)
    tied = spec.tie_word_embeddings
    if weights == CHECKPOINT:
        from .checkpoints import checkpoint_tensors

        tensors = checkpoint_tensors(spec)
        emb = 0 if tied else sum(t.nbytes for t in tensors if t.name == "model.embed_tokens.weight")
        exp = sum(t.nbytes for t in tensors if ".experts." in t.name)
        exp += total - sum(t.nbytes for t in tensors)  # an engine that dequantizes experts on load
        return WeightParts(emb, exp, total - emb - exp)
    fmt = get_format(weights)
    if fmt.kind == "gguf":
        tensors = gguf_tensors(spec, fmt.name)
        emb = 0 if tied else sum(t.nbytes for t in tensors if t.name == "token_embd.weight")
        exp = sum(t.nbytes for t in tensors if "_exps." in t.name)
        return WeightParts(emb, exp, total - emb - exp)
    kept = fmt if fmt.bits >= 16 else get_format("bf16")
    parts = spec.breakdown()
    emb = 0 if tied else storage_bytes(parts["embedding"] + parts["position"], kept)
    exp = storage_bytes(parts["experts"], fmt)
    return WeightParts(emb, exp, total - emb - exp)


def decode_weight_bytes(spec: ModelSpec, weights: str, batch: int = 1, routing: str = "uniform",
                        engine: str = "transformers") -> int:
    """Weight bytes one decode step of `batch` sequences reads.

    Everything but the input embedding and the routed experts once; one embedding row per
    sequence (at most the table); per MoE layer the experts the batch's tokens touch
    (`experts_touched`, under `routing`), each at its share of the expert bytes.
    """
    require_positive("batch", batch)
    p = weight_parts(spec, weights, engine)
    rows = min(batch, spec.vocab_size)
    read = p.other + p.embedding * rows // spec.vocab_size
    if spec.is_moe and p.experts:
        touched = experts_touched(spec.num_experts, spec.experts_per_token, batch, routing)
        read += int(p.experts * touched / spec.num_experts)
    return read


def active_weight_bytes(spec: ModelSpec, weights: str, batch: int = 1, routing: str = "uniform") -> int:
    """Bytes of the weights a decode step reads (see `decode_weight_bytes`); one token by default."""
    return decode_weight_bytes(spec, weights, batch, routing)


def _seconds(n: int, per_second: int | None) -> float:
    return n / per_second if per_second else 0.0


def step_bound(gpu, memory_bytes: int, flops: int, tokens: int = 1) -> StepBound:
    """The roofline bound of any step that reads `memory_bytes` bytes and does `flops` FLOPs.

    For back-of-the-envelope workloads given as totals (scaling-book's "30B parameters, 100 kB of
    KV per token") and for drawing the roofline itself; `decode_step` and `prefill` count the
    bytes and FLOPs of a real model.
    """
    g = get_gpu(gpu)
    require_positive("memory_bytes", memory_bytes)
    require_positive("tokens", tokens)
    return StepBound(memory_bytes, flops, _seconds(memory_bytes, g.bandwidth_bytes_per_s),
                     _seconds(flops, g.bf16_flops_per_s), tokens)


def decode_step(model, gpu, context: int, batch: int = 1, weights: str | None = None, kv_dtype: str = "bf16",
                routing: str = "uniform", engine: str = "transformers") -> StepBound:
    """One decode step for `batch` sequences at `context` tokens: (weights + KV) / bandwidth.

    Each step reads the weights once, shared by the batch (`decode_weight_bytes`: one embedding
    row per sequence, and of an MoE the union of the experts the batch's tokens touch under
    `routing`), and each sequence's KV cache; it does 2 FLOPs per active parameter per sequence
    plus 4 per cached K/V element (QK^T and PV). `weights` defaults to the checkpoint's own
    format (its quantization_config), else bf16; `engine` matters where it changes what is held
    (gpt-oss's MXFP4 experts: bf16 in transformers without kernels, packed in vLLM).
    """
    from .inference import default_weights

    spec, g = load_model(model), get_gpu(gpu)
    require_positive("context", context)
    require_positive("batch", batch)
    weights = weights or default_weights(spec)
    kv = kv_cache_bytes(spec, context, batch, kv_dtype)
    read = decode_weight_bytes(spec, weights, batch, routing, engine) + kv
    flops = 2 * spec.active_params() * batch + 2 * spec.attention_layer_count * batch * context * spec.num_heads * (
        spec.head_dim + spec.value_head_dim)
    return StepBound(read, flops, _seconds(read, g.bandwidth_bytes_per_s), _seconds(flops, g.bf16_flops_per_s), batch)


def prefill(model, gpu, tokens: int, batch: int = 1, weights: str | None = None) -> StepBound:
    """Prefilling `tokens` tokens of `batch` sequences: usually compute-bound.

    2 FLOPs per active parameter per token, plus causal attention: 2 x layers x heads x
    (qk + v head dims) x tokens^2 / 2 per sequence. It reads the weights once.
    """
    from .inference import default_weights

    spec, g = load_model(model), get_gpu(gpu)
    require_positive("tokens", tokens)
    require_positive("batch", batch)
    weights = weights or default_weights(spec)
    attn = spec.attention_layer_count * spec.num_heads * (spec.head_dim + spec.value_head_dim) * tokens * tokens
    flops = batch * (2 * spec.active_params() * tokens + attn)
    read = weights_bytes(spec, weights)
    return StepBound(read, flops, _seconds(read, g.bandwidth_bytes_per_s), _seconds(flops, g.bf16_flops_per_s),
                     batch * tokens)


def offload_decode_step(model, gpu: GPU | str, gpu_layers: int, context: int, weights: str = "q4_k_m",
                        kv_dtype: str = "fp16", cpu_bandwidth_bytes_per_s: int = 60 * 10**9) -> StepBound:
    """Decode with `gpu_layers` of the decoder on the GPU and the rest in system RAM (llama.cpp -ngl).

    Each part is read at its own memory's bandwidth, one after the other; the default CPU side is
    dual-channel DDR5 (about 60 GB/s). The slow part dominates: one layer in RAM costs
    gpu_bandwidth / cpu_bandwidth layers on the GPU.
    """
    spec, g = load_model(model), get_gpu(gpu)
    if not 0 <= gpu_layers <= spec.num_layers:
        raise VramkitError(f"gpu_layers must be in [0, {spec.num_layers}], got {gpu_layers}")
    per_layer = (active_weight_bytes(spec, weights) + kv_cache_bytes(spec, context, 1, kv_dtype)) / spec.num_layers
    on_gpu, on_cpu = int(per_layer * gpu_layers), int(per_layer * (spec.num_layers - gpu_layers))
    seconds = on_gpu / g.bandwidth_bytes_per_s + on_cpu / cpu_bandwidth_bytes_per_s
    return StepBound(on_gpu + on_cpu, 2 * spec.active_params(), seconds, 0.0, 1)
