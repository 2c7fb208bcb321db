"""Does it fit: the largest context and batch, the best quantization, the layers to offload.

Every answer compares `InferenceMemory.total_bytes` with the device's usable bytes less a
`headroom` fraction kept free (fragmentation, other processes, the desktop), `DEFAULT_HEADROOM`
unless the caller says otherwise. Explained in the chapter "What fits my GPU" (chapters/*/07-fit.ipynb).
"""
from __future__ import annotations

from .dtypes import get_format
from .errors import VramkitError
from .hardware import GPU, get_gpu
from .inference import CUDA_CONTEXT_BYTES, default_weights, infer_memory, kv_cache_bytes, overhead_bytes, weights_bytes
from .model import ModelSpec
from .monotone import largest_true
from .record import record
from .sources import load_model

# From best to worst quality: the order in which to try formats when memory is short. GGUF
# K-quant mixes by llama.cpp's measured perplexity (tools/quantize), 16-bit first.
QUALITY_ORDER = ("bf16", "fp8_e4m3", "int8", "q8_0", "q6_k", "q5_k_m", "q4_k_m", "nf4", "q3_k_m", "q2_k")


def engine_formats(engine: str = "transformers", gpu=None) -> tuple[str, ...]:
    """QUALITY_ORDER restricted to what `engine` runs on `gpu` (vramkit.engines.runs): GGUF types
    for llama.cpp (plus 16-bit), MLX's affine formats for MLX, the others for transformers and vLLM;
    FP8 only where the engine has kernels for that GPU generation, fp16 where bf16 is refused."""
    from .engines import runs

    order = QUALITY_ORDER if engine != "mlx" else ("bf16", "mlx-8bit", "mlx-4bit")
    out = tuple(n for n in order if runs(engine, n, gpu))
    if "bf16" not in out and runs(engine, "fp16", gpu):
        out = ("fp16",) + out
    return out

MAX_CONTEXT = 1 << 24  # search bound for the largest context (16M tokens)

# The share of the usable memory every answer keeps free unless told otherwise: a plan that fills
# the card to the last byte fails on the caching allocator's block rounding and fragmentation, a
# desktop's few hundred MB, a second process. 5% of a 24 GB card is about 1.2 GB. Pass headroom=0.0
# for the bare arithmetic. (vLLM plans inside its own --gpu-memory-utilization instead.)
DEFAULT_HEADROOM = 0.05


def budget_bytes(gpu: GPU, headroom: float = DEFAULT_HEADROOM) -> int:
    """Usable bytes of `gpu` less a `headroom` fraction kept free."""
    if not 0 <= headroom < 1:
        raise VramkitError(f"headroom must be a fraction in [0, 1), got {headroom!r}")
    return int(gpu.usable_bytes() * (1 - headroom))


@record
class FitReport:
    """One configuration on one device."""

    fits: bool
    total_bytes: int
    budget_bytes: int
    free_bytes: int          # negative when it does not fit
    headroom: float          # the fraction of the usable memory kept free (budget_bytes = usable x (1 - headroom))
    max_context: int         # at this batch, as far as memory goes (0: not even one token)
    trained_context: int     # the model's max_position_embeddings (0: unknown); beyond it quality drops
    max_batch: int           # at this context
    best_weights: str | None  # best-quality format that fits at this context and batch
    gpu_layers: int          # llama.cpp: decoder layers that fit on the GPU at these weights
    gpus_needed: int | None = None  # the fewest GPUs of this kind that serve it (vLLM: tensor parallel)
    max_concurrency: float | None = None  # vLLM: max_model_len requests the pool holds

    def to_json(self) -> dict:
        return dict(self.__dict__)


def serves(mem, batch: int, budget: int) -> bool:
    """Whether this plan serves `batch` sequences: vLLM must start and its pool hold `batch` requests of
    max_model_len (its pre-allocation is the same whatever the batch); other engines must fit the budget."""
    if mem.engine == "vllm" and mem.plan is not None:
        return bool(mem.plan.fits) and mem.plan.max_concurrency >= batch
    if mem.plan is not None and len(mem.plan.devices) > 1:  # `budget` is one device's
        return all(d.total_bytes <= budget for d in mem.plan.devices)
    return mem.total_bytes <= budget


def max_context(model, gpu, batch: int = 1, headroom: float = DEFAULT_HEADROOM, **kw) -> int:
    """The largest context (tokens) whose total memory fits the budget at `batch`."""
    spec, device = load_model(model), get_gpu(gpu)
    budget = budget_bytes(device, headroom)
    version = (kw.get("options") or {}).get("vllm_version")
    if kw.get("engine") == "vllm" and version != "0.6":
        from .engines.vllm import longest_model_len

        # vLLM's pool is the same whatever max_model_len (V1): one plan, then the block arithmetic.
        # Its defaults depend on max_model_len only through the V0 profile, which is asked per length.
        mem = infer_memory(spec, 4096, batch, gpu=device, **kw)
        return longest_model_len(spec, mem.plan, batch, MAX_CONTEXT)
    return largest_true(lambda n: n == 0 or serves(infer_memory(spec, n, batch, gpu=device, **kw), batch, budget),
                    MAX_CONTEXT)


def max_batch(model, gpu, context: int, headroom: float = DEFAULT_HEADROOM, limit: int = 1 << 16, **kw) -> int:
    """The largest batch of `context`-token sequences that fits the budget."""
    spec, device = load_model(model), get_gpu(gpu)
    budget = budget_bytes(device, headroom)
    if kw.get("engine") == "vllm":
        mem = infer_memory(spec, context, 1, gpu=device, **kw)
        return min(limit, int(mem.plan.max_concurrency)) if mem.plan.fits else 0
    return largest_true(lambda b: b == 0 or serves(infer_memory(spec, context, b, gpu=device, **kw), b, budget),
                    limit)


def best_weights(model, gpu, context: int, batch: int = 1, headroom: float = DEFAULT_HEADROOM,
                 candidates=None, **kw) -> str | None:
    """The best-quality weight format that fits, or None when even the smallest does not.

    `candidates` (best first) defaults to the formats the engine runs, `engine_formats(engine)`.
    """
    spec, device = load_model(model), get_gpu(gpu)
    budget = budget_bytes(device, headroom)
    from .engines import runs

    engine = kw.get("engine", "transformers")
    if candidates is None:
        candidates = engine_formats(engine, device)
    for name in (n for n in candidates if runs(engine, n, device)):  # never a refused format
        if serves(infer_memory(spec, context, batch, weights=name, gpu=device, **kw), batch, budget):
            return get_format(name).name
    return None


def gpus_needed(model, gpu, context: int, batch: int = 1, headroom: float = DEFAULT_HEADROOM, limit: int = 64, **kw) -> int | None:
    """The fewest GPUs of kind `gpu` that serve `batch` x `context`, or None within `limit`.

    vLLM: tensor parallelism over 1, 2, 4, 8 GPUs (sizes that divide the attention heads), then
    pipeline stages of 8-way TP (16, 24, ... GPUs over nodes), each with vLLM's own plan; other
    engines split the layers evenly (device_map="auto", llama.cpp's layer split).
    """
    spec, device = load_model(model), get_gpu(gpu)
    budget = budget_bytes(device, headroom)
    options = dict(kw.pop("options", None) or {})
    kw.pop("gpus", None)
    if kw.get("engine") == "vllm":
        layouts = [(tp, 1) for tp in (1, 2, 4, 8) if spec.num_heads % tp == 0]
        layouts += [(8, pp) for pp in range(2, limit // 8 + 1) if spec.num_heads % 8 == 0]
        for tp, pp in layouts:
            o = {**options, "tensor_parallel_size": tp, "pipeline_parallel_size": pp}
            if serves(infer_memory(spec, context, batch, gpu=device, options=o, **kw), batch, budget):
                return tp * pp
        return None
    for n in range(1, limit + 1):
        mem = infer_memory(spec, context, batch, gpu=device, gpus=n, options=options, **kw)
        if n == 1 and mem.total_bytes <= budget:
            return 1
        if n > 1 and all(d.total_bytes <= budget for d in mem.plan.devices):
            return n
    return None


def gpu_layers(model, gpu, context: int, weights: str = "q4_k_m", kv_dtype: str = "fp16",
               headroom: float = DEFAULT_HEADROOM) -> int:
    """llama.cpp partial offload: how many decoder layers (weights and their KV) fit on the GPU.

    For a GGUF file type this is llama.cpp's own plan (vramkit.engines.llama_cpp): the largest
    -ngl whose device total (layers, KV, compute buffer, CUDA context) fits, less the head, which
    -ngl offloads first; the token embedding stays in system memory. For other formats, a
    proportional estimate: each layer brings its share of the weights and of the KV cache.
    """
    spec: ModelSpec = load_model(model)
    device = get_gpu(gpu)
    from .dtypes import GGUF_FILE_TYPES

    if str(weights).upper() in GGUF_FILE_TYPES + ("Q3_K", "Q4_K", "Q5_K"):
        from .engines.base import EngineRequest
        from .engines.llama_cpp import max_gpu_layers

        request = EngineRequest(spec=spec, context=context, weights=weights, kv_dtype=kv_dtype, gpu=device)
        return max(max_gpu_layers(spec, request, budget_bytes(device, headroom)) - 1, 0)
    budget = budget_bytes(device, headroom) - overhead_bytes(spec, "llama.cpp", context, device.unified_memory)
    total_w = weights_bytes(spec, weights, engine="llama.cpp")
    parts = spec.breakdown()
    layers_share = (parts["attention"] + parts["mixer"] + parts["mixer_other"] + parts["mlp"] + parts["experts"]
                    + parts["router"] + parts["norms"]) / spec.params()
    head_w = total_w * parts["lm_head"] // spec.params()  # a tied head reuses token_embd on the CPU
    per_layer = total_w * layers_share / spec.num_layers
    kv_layer = kv_cache_bytes(spec, context, 1, kv_dtype, "llama.cpp") / spec.num_layers
    room = budget - head_w
    if room <= 0:
        return 0
    return min(spec.num_layers, int(room // (per_layer + kv_layer)))


def _gpu_layers_or_none(spec, device, context, weights, kv_dtype, headroom):
    """llama.cpp's layers on the GPU, or None where vramkit's llama.cpp plan cannot answer (hybrid
    and chunked-attention layers are refused there, in one line of their own)."""
    try:
        return gpu_layers(spec, device, context, weights, kv_dtype or "fp16", headroom)
    except VramkitError:
        return None


def fit(model, gpu, context: int, batch: int = 1, weights: str | None = None, kv_dtype: str | None = None,
        engine: str = "transformers", headroom: float = DEFAULT_HEADROOM, options: dict | None = None,
        gpus: int = 1) -> FitReport:
    """Does `model` fit on `gpu` at `context` x `batch`, and what is the most that does.

    `weights` defaults to the checkpoint's own format (its quantization_config), else bf16.
    With vLLM every answer is vLLM's own plan (the same as `infer_memory`'s): it fits when vLLM
    starts and its pre-allocated pool holds `batch` requests of `context` tokens.
    """
    spec, device = load_model(model), get_gpu(gpu)
    weights = weights or default_weights(spec)
    kw = dict(weights=weights, kv_dtype=kv_dtype, engine=engine, options=options, gpus=gpus)
    mem = infer_memory(spec, context, batch, gpu=device, **kw)
    budget = budget_bytes(device, headroom)
    if engine == "vllm":  # vLLM takes what it pre-allocates: the budget is its requested memory
        budget = mem.preallocated_bytes + CUDA_CONTEXT_BYTES * len(mem.plan.devices)
    fits = serves(mem, batch, budget)  # per device
    if engine != "vllm" and gpus > 1:
        budget *= gpus  # reported for all the devices together, like total_bytes
    return FitReport(
        fits=fits, total_bytes=mem.total_bytes, budget_bytes=budget,
        free_bytes=budget - mem.total_bytes, headroom=0.0 if engine == "vllm" else headroom,
        max_context=max_context(spec, device, batch, headroom, **kw),
        trained_context=spec.max_position_embeddings,
        max_batch=max_batch(spec, device, context, headroom, **kw),
        best_weights=best_weights(spec, device, context, batch, headroom, kv_dtype=kv_dtype, engine=engine,
                                  options=options, gpus=gpus),
        gpu_layers=_gpu_layers_or_none(spec, device, context, weights, kv_dtype, headroom),
        gpus_needed=gpus_needed(spec, device, context, batch, headroom,
                                **{k: v for k, v in kw.items() if k != "gpus"}),
        max_concurrency=mem.plan.max_concurrency if engine == "vllm" else None,
    )
