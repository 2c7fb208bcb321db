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

from .errors import VramkitError, require_positive
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


def active_weight_bytes(spec: ModelSpec, weights: str) -> int:
    """Bytes of the weights one token reads: all of a dense model, the visited experts of an MoE."""
    total = weights_bytes(spec, weights)
    return total * spec.active_params() // spec.params()


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


def decode_step(model, gpu, context: int, batch: int = 1, weights: str = "bf16", kv_dtype: str = "bf16") -> StepBound:
    """One decode step for `batch` sequences at `context` tokens: (weights + KV) / bandwidth.

    Each step reads the active weights once (shared by the batch) and each sequence's KV cache;
    it does 2 FLOPs per active parameter per sequence plus 4 per cached K/V element (QK^T and PV).
    """
    spec, g = load_model(model), get_gpu(gpu)
    require_positive("context", context)
    require_positive("batch", batch)
    kv = kv_cache_bytes(spec, context, batch, kv_dtype)
    read = active_weight_bytes(spec, weights) + kv
    flops = 2 * spec.active_params() * batch + 2 * spec.attention_layer_count * batch * context * spec.num_heads * (
        spec.head_dim + spec.value_head_dim)
    return StepBound(read, flops, _seconds(read, g.bandwidth_bytes_per_s), _seconds(flops, g.bf16_flops_per_s), batch)


def prefill(model, gpu, tokens: int, batch: int = 1, weights: str = "bf16") -> StepBound:
    """Prefilling `tokens` tokens of `batch` sequences: usually compute-bound.

    2 FLOPs per active parameter per token, plus causal attention: 2 x layers x heads x
    (qk + v head dims) x tokens^2 / 2 per sequence. It reads the weights once.
    """
    spec, g = load_model(model), get_gpu(gpu)
    require_positive("tokens", tokens)
    require_positive("batch", batch)
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
