"""Does it fit: the largest context and batch, the best quantization, the layers to offload.

Every answer compares `InferenceMemory.total_bytes` with the device's usable bytes less a
`headroom` fraction kept free (fragmentation, other processes, the desktop). Explained in the
chapter "What fits my GPU" (chapters/*/07-fit.ipynb).
"""
from __future__ import annotations

from dataclasses import dataclass

from .dtypes import get_format
from .errors import VramkitError
from .hardware import GPU, get_gpu
from .inference import default_weights, infer_memory, kv_cache_bytes, overhead_bytes, weights_bytes
from .model import ModelSpec
from .sources import load_model

# From best to worst quality: the order in which to try formats when memory is short. GGUF
# K-quant mixes by llama.cpp's measured perplexity (tools/quantize), 16-bit first.
QUALITY_ORDER = ("bf16", "fp8_e4m3", "int8", "q8_0", "q6_k", "q5_k_m", "q4_k_m", "nf4", "q3_k_m", "q2_k")


def engine_formats(engine: str = "transformers") -> tuple[str, ...]:
    """QUALITY_ORDER restricted to what `engine` runs: GGUF types for llama.cpp (plus 16-bit), the
    others for transformers, vLLM and MLX (transformers dequantizes a GGUF file when it loads it, so
    a GGUF type saves it no memory)."""
    from .dtypes import get_format

    def gguf(name: str) -> bool:
        fmt = get_format(name)
        return fmt.kind == "gguf" or bool(getattr(fmt, "mix", False))

    return tuple(n for n in QUALITY_ORDER if gguf(n) == (engine == "llama.cpp") or n == "bf16")

MAX_CONTEXT = 1 << 24  # search bound for the largest context (16M tokens)


def budget_bytes(gpu: GPU, headroom: float = 0.0) -> int:
    """Usable bytes of `gpu` less a `headroom` fraction kept free."""
    if not 0 <= headroom < 1:
        raise VramkitError(f"headroom must be a fraction in [0, 1), got {headroom!r}")
    return int(gpu.usable_bytes() * (1 - headroom))


@dataclass(frozen=True)
class FitReport:
    """One configuration on one device."""

    fits: bool
    total_bytes: int
    budget_bytes: int
    free_bytes: int          # negative when it does not fit
    max_context: int         # at this batch, as far as memory goes (0: not even one token)
    trained_context: int     # the model's max_position_embeddings (0: unknown); beyond it quality drops
    max_batch: int           # at this context
    best_weights: str | None  # best-quality format that fits at this context and batch
    gpu_layers: int          # llama.cpp: decoder layers that fit on the GPU at these weights

    def to_json(self) -> dict:
        return dict(self.__dict__)


def _largest(ok, hi: int) -> int:
    """The largest n in [0, hi] with ok(n) true, for a monotone `ok` (ok(0) is assumed true)."""
    lo = 0
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if ok(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


def max_context(model, gpu, batch: int = 1, headroom: float = 0.0, **kw) -> int:
    """The largest context (tokens) whose total memory fits the budget at `batch`."""
    spec, device = load_model(model), get_gpu(gpu)
    budget = budget_bytes(device, headroom)
    return _largest(lambda n: n == 0 or infer_memory(spec, n, batch, gpu=device, **kw).total_bytes <= budget,
                    MAX_CONTEXT)


def max_batch(model, gpu, context: int, headroom: float = 0.0, limit: int = 1 << 16, **kw) -> int:
    """The largest batch of `context`-token sequences that fits the budget."""
    spec, device = load_model(model), get_gpu(gpu)
    budget = budget_bytes(device, headroom)
    return _largest(lambda b: b == 0 or infer_memory(spec, context, b, gpu=device, **kw).total_bytes <= budget,
                    limit)


def best_weights(model, gpu, context: int, batch: int = 1, headroom: float = 0.0,
                 candidates=None, **kw) -> str | None:
    """The best-quality weight format that fits, or None when even the smallest does not.

    `candidates` (best first) defaults to the formats the engine runs, `engine_formats(engine)`.
    """
    spec, device = load_model(model), get_gpu(gpu)
    budget = budget_bytes(device, headroom)
    if candidates is None:
        candidates = engine_formats(kw.get("engine", "transformers"))
    for name in candidates:
        if infer_memory(spec, context, batch, weights=name, gpu=device, **kw).total_bytes <= budget:
            return get_format(name).name
    return None


def gpu_layers(model, gpu, context: int, weights: str = "q4_k_m", kv_dtype: str = "fp16",
               headroom: float = 0.0) -> int:
    """llama.cpp partial offload: how many decoder layers (weights and their KV) fit on the GPU.

    The output head and the compute buffer sit on the GPU; the token embedding stays in system
    memory (llama.cpp keeps token_embd on the CPU). Each offloaded layer brings its share of the
    weights and of the KV cache.
    """
    spec: ModelSpec = load_model(model)
    device = get_gpu(gpu)
    budget = budget_bytes(device, headroom) - overhead_bytes(spec, "llama.cpp", context, device.unified_memory)
    total_w = weights_bytes(spec, weights, engine="llama.cpp")
    parts = spec.breakdown()
    layers_share = (parts["attention"] + parts["mlp"] + parts["experts"] + parts["router"]
                    + parts["norms"]) / spec.params()
    head_w = total_w * parts["lm_head"] // spec.params()  # a tied head reuses token_embd on the CPU
    per_layer = total_w * layers_share / spec.num_layers
    kv_layer = kv_cache_bytes(spec, context, 1, kv_dtype, "llama.cpp") / spec.num_layers
    room = budget - head_w
    if room <= 0:
        return 0
    return min(spec.num_layers, int(room // (per_layer + kv_layer)))


def fit(model, gpu, context: int, batch: int = 1, weights: str | None = None, kv_dtype: str | None = None,
        engine: str = "transformers", headroom: float = 0.0) -> FitReport:
    """Does `model` fit on `gpu` at `context` x `batch`, and what is the most that does.

    `weights` defaults to the checkpoint's own format (its quantization_config), else bf16.
    """
    spec, device = load_model(model), get_gpu(gpu)
    weights = weights or default_weights(spec)
    kw = dict(weights=weights, kv_dtype=kv_dtype, engine=engine)
    mem = infer_memory(spec, context, batch, gpu=device, **kw)
    budget = budget_bytes(device, headroom)
    return FitReport(
        fits=mem.total_bytes <= budget, total_bytes=mem.total_bytes, budget_bytes=budget,
        free_bytes=budget - mem.total_bytes,
        max_context=max_context(spec, device, batch, headroom, **kw),
        trained_context=spec.max_position_embeddings,
        max_batch=max_batch(spec, device, context, headroom, **kw),
        best_weights=best_weights(spec, device, context, batch, headroom, kv_dtype=kv_dtype, engine=engine),
        gpu_layers=gpu_layers(spec, device, context, weights, kv_dtype or "fp16", headroom),
    )
