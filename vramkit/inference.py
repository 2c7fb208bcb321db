"""Inference memory: weights + KV cache + activations + runtime overhead.

Explained in the chapter on inference and the KV cache (chapters/*/04-inference.ipynb).
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from .dtypes import get_format, storage_bytes
from .errors import VramkitError, require_positive
from .model import SLIDING, ModelSpec, memo

# Engines that cache DeepSeek's compressed latent (kv_lora_rank + rope dims per token and layer).
# transformers 5 does (tests/reference/static.json); transformers 4.x and mlx-lm's deepseek_v3
# expand it per head (K: nope + rope dims, V: v_head_dim) before the cache update, which the "mlx"
# profile follows.
LATENT_KV_ENGINES = ("transformers", "vllm", "llama.cpp", "sglang")


def kv_elements_per_token(spec: ModelSpec, layer: int, engine: str = "transformers") -> int:
    """K and V elements one token adds to layer `layer`'s cache, per sequence."""
    if spec.is_mla:
        # transformers 5 caches the latent too: the normed kv_lora_rank part in the keys slot and
        # the shared rope key in the values slot, expanding per head only inside attention
        # (tests/reference/static.json). Older transformers (4.x) cached the expanded K and V.
        if engine in LATENT_KV_ENGINES:
            return spec.kv_lora_rank + spec.qk_rope_head_dim
        return spec.num_heads * (spec.head_dim + spec.value_head_dim)
    return spec.num_kv_heads * (spec.head_dim + spec.value_head_dim)


def cached_tokens(spec: ModelSpec, layer: int, context: int, engine: str = "transformers") -> int:
    """Tokens layer `layer` holds after `context` tokens.

    transformers' sliding-window cache keeps the last `sliding_window - 1` tokens: the next
    token's own K/V completes the window.
    """
    if spec.layer_types and spec.layer_types[layer] == SLIDING and spec.sliding_window:
        keep = spec.sliding_window - 1 if engine == "transformers" else spec.sliding_window
        return min(context, keep)
    return context


def kv_cache_bytes(spec: ModelSpec, context: int, batch: int = 1, kv_dtype: str = "bf16",
                   engine: str = "transformers") -> int:
    """Bytes of the K and V tensors held after a prefill of `context` tokens for `batch` sequences.

    Explained in {ref}`kv-cache`. GQA shrinks it by num_heads/num_kv_heads; a sliding-window layer
    holds at most its window; MLA engines hold the compressed latent.
    """
    context, batch = require_positive("context", context), require_positive("batch", batch)
    spec = _as_spec(spec)
    fmt = get_format(kv_dtype)
    # Per layer: elements per token x the tokens the layer holds, summed over the layers (kv_groups
    # has added up the layers that hold the same number of tokens).
    elements = sum(per_token * min(context, cap) for cap, per_token in kv_groups(spec, engine))
    return storage_bytes(elements * batch, fmt)


ALL_TOKENS = 1 << 62  # "keeps every token": larger than any context


def _as_spec(model) -> ModelSpec:
    """`model` itself when it is a ModelSpec, else what load_model reads from it (a name, a path, a dict)."""
    if isinstance(model, ModelSpec):
        return model
    from .sources import load_model

    return load_model(model)


def kv_groups(spec: ModelSpec, engine: str = "transformers") -> tuple[tuple[int, int], ...]:
    """The layers grouped by how many tokens each keeps at most (ALL_TOKENS: the whole context):
    ((cap, K/V elements per token of those layers together), ...).

    A spec's layers do not change between calls, so the loop over the layers runs once per spec
    and engine (`memo`); a sweep or a solver then costs one multiplication per group.
    """
    def group() -> tuple[tuple[int, int], ...]:
        groups: dict[int, int] = {}
        for i in range(spec.num_layers):
            cap = cached_tokens(spec, i, ALL_TOKENS, engine)
            groups[cap] = groups.get(cap, 0) + kv_elements_per_token(spec, i, engine)
        return tuple(groups.items())

    return memo(spec, ("kv_groups", engine), group)


# ---- weights ---------------------------------------------------------------------------------

# Tensors that 4/8-bit loaders (bitsandbytes, fp8, GPTQ/AWQ) leave in the compute dtype: they are
# not nn.Linear weights inside the decoder layers.
_KEPT_IN_COMPUTE_DTYPE = ("embedding", "position", "lm_head", "norms")


def weights_bytes(spec: ModelSpec, weights: str = "bf16", compute_dtype: str = "bf16") -> int:
    """Bytes of the weights when stored in `weights`.

    16- and 32-bit formats store every parameter so. GGUF types follow llama.cpp's per-tensor
    rules (`dtypes.gguf_model_bytes`). Other quantized formats (int8, int4, nf4, fp8, mxfp4)
    quantize the decoder's linear layers and keep embeddings, the head and norms in
    `compute_dtype`, as bitsandbytes and the fp8 loaders do.
    """
    spec = _as_spec(spec)
    fmt = get_format(weights)
    if fmt.kind == "gguf" or getattr(fmt, "mix", False):
        from .dtypes import gguf_model_bytes

        return gguf_model_bytes(spec, fmt.name)
    if fmt.bits >= 16:
        return storage_bytes(spec.params(), fmt)
    parts = spec.breakdown()
    kept = sum(parts[k] for k in _KEPT_IN_COMPUTE_DTYPE)
    return storage_bytes(spec.params() - kept, fmt) + storage_bytes(kept, compute_dtype)


# ---- activations during prefill --------------------------------------------------------------


def prefill_activation_bytes(spec: ModelSpec, tokens: int, batch: int = 1, dtype: str = "bf16",
                             attention: str = "sdpa") -> int:
    """Peak bytes of the temporaries while transformers prefills `tokens` tokens for `batch` sequences.

    What `model(ids, use_cache=True, logits_to_keep=1)` under `no_grad` holds at its peak besides
    the weights and the K/V bytes of `kv_cache_bytes`, as transformers 5's modeling code allocates it
    (checked against MemTracker in tests/reference/prefill.json: 150 cases, 13 architectures).
    Nothing is kept between layers, so the peak is the widest moment of the last layer, where
    n = batch x tokens rows of these live tensors (widths in elements of `dtype`):

    - MLP: the embedding output, the layer's input, the residual after attention and its normed copy
      (4 x hidden) plus the MLP's own tensors: gated 3 x intermediate (act(gate), up, product),
      4 x with a fused gate_up (phi3), plain GELU 2 x, gpt2's Python `gelu_new` 4 x. gpt2 also keeps
      the attention output and its position rows. A routed MoE layer gathers the k = experts_per_token
      copies of every row: k x max(hidden + 4 x expert width, 4 x hidden) (grouped_mm).
    - Attention: 3 x hidden plus Q, K, V and the rotary temporaries of Q (3 x q width); a QK norm
      holds two fp32 copies of Q. Eager attention adds per head the bf16 scores, their fp32 copy
      and the fp32 softmax (gpt2: two scores in the compute dtype), one batch x tokens x tokens
      mask per attention type, and for GQA (more than one KV head) the K and V repeated to every head.
    - The head: the final normed rows and the last position's logits (twice with Gemma 2's softcap).

    Plus the rotary cos/sin table (2 x tokens x head_dim, shared by the batch) and, beyond a sliding
    window, the rest of the prefill's K/V that a sliding layer's cache slice keeps alive.
    """
    tokens, batch = require_positive("tokens", tokens), require_positive("batch", batch)
    spec = _as_spec(spec)
    el = get_format(dtype)
    b = el.bits / 8  # bytes per element of the compute dtype
    # Whole bytes (bf16, fp16, fp32, fp8) keep every product below a plain int: exact, and far faster
    # than Fraction arithmetic, which a sweep or the fit solver would pay thousands of times.
    b = int(b) if b.denominator == 1 else b
    fp32_per_b = 8 // b if isinstance(b, int) and 8 % b == 0 else Fraction(8) / b  # two fp32 copies, in units of b
    n, h = batch * tokens, spec.hidden_size
    q_dim, kv_dim = spec.num_heads * spec.head_dim, spec.num_kv_heads * spec.value_head_dim
    gpt2 = spec.model_type == "gpt2"
    # MLP phase (elements per row).
    dense = spec.intermediate_size * (
        4 if gpt2 or spec.model_type == "phi3" else 3 if spec.mlp_gated else 2)
    mlp = dense if not spec.moe_layers or not all(spec.moe_layers) else 0
    if spec.is_moe:
        e = spec.moe_intermediate_size
        mlp = max(mlp, spec.experts_per_token * max(h + (4 if spec.mlp_gated else 2) * e, 4 * h),
                  h + 3 * spec.shared_expert_size)
    peak = n * ((5 * h if gpt2 else 4 * h) + mlp) * b
    types = set(spec.layer_types) or {"full_attention"}
    scores = batch * spec.num_heads * tokens * tokens
    if attention == "eager":
        # The model keeps its masks for every layer; gpt2's block keeps the last softmax too.
        peak += len(types) * batch * tokens * tokens * b + (scores * b if gpt2 else 0)
    # Attention phase.
    if gpt2:
        attn = n * 6 * h * b
    else:
        # Q, K, V beside the rotary temporaries of Q; a QK norm's two fp32 copies of Q (Gemma 3
        # projects K and V first, Qwen 3 and OLMo 2 norm Q before projecting K and V).
        rope = q_dim + 2 * kv_dim + 3 * q_dim
        norm = q_dim * (1 + fp32_per_b) + (2 * kv_dim if spec.model_type == "gemma3_text" else 0)
        attn = n * (3 * h + max(rope, norm if spec.qk_norm != "none" else 0)) * b
    peak = max(peak, attn)
    if attention == "eager" and gpt2:
        # The fused QKV rows stay alive; the scores and their scaled copy, one mask.
        peak = max(peak, n * 6 * h * b + scores * 2 * b + batch * tokens * tokens * b)
    elif attention == "eager":
        # Rotated Q (and K, V repeated to every head under GQA) beside the bf16 scores, their fp32
        # copy and the fp32 softmax, and one mask per attention type.
        # (repeat_kv copies only when 1 < kv heads < heads: one KV head expands as a view.)
        rows = 3 * h + q_dim + (2 * q_dim if 1 < spec.num_kv_heads < spec.num_heads else 0)
        peak = max(peak, n * rows * b + scores * (b + 8) + len(types) * batch * tokens * tokens * b)
    # The head: final normed rows and the logits of the last position.
    peak = max(peak, n * h * b + batch * spec.vocab_size * b * (2 if spec.model_type == "gemma2" else 1))
    positions = tokens * h if gpt2 else 2 * tokens * spec.head_dim
    slices = storage_bytes(batch * tokens * sum(n for _, n in kv_groups(spec)), el) \
        - kv_cache_bytes(spec, tokens, batch, dtype)
    return int(peak + positions * b) + slices


# ---- runtime overhead by engine --------------------------------------------------------------

# CUDA context with lazy module loading (CUDA >= 11.7): about 300-500 MiB per process (PyTorch
# issues 107667, 20532; vLLM reports 0.35 GiB of non-torch memory on an RTX 3090), plus the
# cuBLAS workspace. We take 512 MiB; the chapter on what fits shows the measured spread.
CUDA_CONTEXT_BYTES = 512 * 2**20

# The published measurements behind CUDA_CONTEXT_BYTES: (source, setting, low, high) in bytes, as
# each report states them (MB taken as 10**6 bytes, MiB and GiB as binary). `lazy` marks CUDA >= 11.7
# with lazy module loading, what current PyTorch and vLLM run; the rest load every kernel up front.
# Shown in the chapter "What fits my GPU".
CUDA_CONTEXT_REPORTS = (
    {"source": "pytorch/pytorch#107667", "setting": "CUDA >= 11.7, lazy loading", "lazy": True,
     "low": 300 * 10**6, "high": 300 * 10**6},
    {"source": "vllm-project/vllm#10517", "setting": "vLLM non-torch memory, RTX 3090", "lazy": True,
     "low": 35 * 2**30 // 100, "high": 35 * 2**30 // 100},
    {"source": "pytorch/pytorch#107667", "setting": "CUDA < 11.7, all kernels loaded", "lazy": False,
     "low": 1000 * 10**6, "high": 1000 * 10**6},
    {"source": "pytorch/pytorch#20532", "setting": "V100, PyTorch 1.1", "lazy": False,
     "low": 300 * 10**6, "high": 400 * 10**6},
    {"source": "pytorch/pytorch#28113", "setting": "K40c, PyTorch 1.3, across machines", "lazy": False,
     "low": 200 * 10**6, "high": 700 * 10**6},
    {"source": "pytorch/pytorch#28394", "setting": "Titan V, PyTorch 1.3", "lazy": False,
     "low": 1008 * 10**6, "high": 1008 * 10**6},
    {"source": "pytorch/pytorch#7320", "setting": "K80, PyTorch 0.4, CUDA 8", "lazy": False,
     "low": 306 * 2**20, "high": 306 * 2**20},
)

ENGINES = ("transformers", "vllm", "llama.cpp", "mlx")


@dataclass(frozen=True)
class InferenceMemory:
    """The memory of serving `model` at `context` tokens for `batch` sequences, in bytes."""

    weights_bytes: int
    kv_cache_bytes: int
    activation_bytes: int
    overhead_bytes: int
    engine: str
    context: int
    batch: int
    weights: str
    kv_dtype: str
    kv_bytes_per_token: int
    gpu: str | None = None
    gpu_usable_bytes: int | None = None
    preallocated_bytes: int | None = None   # vLLM: gpu_memory_utilization x memory
    kv_tokens_capacity: int | None = None   # vLLM: tokens of KV the pre-allocated pool holds

    @property
    def total_bytes(self) -> int:
        return self.weights_bytes + self.kv_cache_bytes + self.activation_bytes + self.overhead_bytes

    @property
    def fits(self) -> bool | None:
        if self.gpu_usable_bytes is None:
            return None
        return self.total_bytes <= self.gpu_usable_bytes

    def to_json(self) -> dict:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["total_bytes"] = self.total_bytes
        d["fits"] = self.fits
        return d


def _check_engine(engine: str) -> str:
    if not isinstance(engine, str) or engine not in ENGINES:
        from .errors import unknown

        raise unknown("engine", engine, ENGINES)
    return engine


def llama_cpp_compute_bytes(spec: ModelSpec, context: int, ubatch: int = 512, flash_attention: bool = True) -> int:
    """llama.cpp's compute buffer: the graph's scratch for one micro-batch of `ubatch` tokens.

    It holds the fp32 logits of the micro-batch and, without flash attention, its fp32
    attention scores against the whole context; with flash attention the widest activation
    (the MLP) bounds it. An estimate of the order llama.cpp prints ('compute buffer size').
    """
    ub = min(ubatch, context)
    width = max(spec.intermediate_size, spec.moe_intermediate_size * max(spec.experts_per_token, 1))
    n = 4 * ub * (spec.vocab_size + 3 * width)
    if not flash_attention:
        n += 4 * ub * spec.num_heads * context
    return n


def overhead_bytes(spec: ModelSpec, engine: str, context: int, unified_memory: bool = False) -> int:
    """Memory the engine needs beyond weights, KV cache and activations.

    On Apple silicon (`unified_memory`, or the "mlx" engine) there is no CUDA context: Metal's
    limit is the working set, applied to the device instead. llama.cpp's compute buffer exists
    on every backend.
    """
    _check_engine(engine)
    context_bytes = 0 if unified_memory or engine == "mlx" else CUDA_CONTEXT_BYTES
    if engine == "llama.cpp":
        return context_bytes + llama_cpp_compute_bytes(spec, context)
    return context_bytes


VLLM_GPU_MEMORY_UTILIZATION = 0.9


def infer_memory(model, context: int, batch: int = 1, weights: str = "bf16", kv_dtype: str | None = None,
                 engine: str = "transformers", gpu=None, attention: str = "sdpa",
                 gpu_memory_utilization: float = VLLM_GPU_MEMORY_UTILIZATION) -> InferenceMemory:
    """Weights + KV cache + activations + overhead for `batch` sequences of `context` tokens.

    Explained in {ref}`inference-memory`. `kv_dtype` defaults to the compute dtype (bf16) even
    when weights are quantized, as in transformers, vLLM and llama.cpp (f16 there).
    """
    from .hardware import get_gpu
    from .sources import load_model

    context, batch = require_positive("context", context), require_positive("batch", batch)
    spec = load_model(model)
    _check_engine(engine)
    kv_dtype = kv_dtype or ("fp16" if engine == "llama.cpp" else "bf16")
    kv = kv_cache_bytes(spec, context, batch, kv_dtype, engine)
    per_token = kv_cache_bytes(spec, 1, 1, kv_dtype, engine)
    if engine == "llama.cpp":
        act = 0  # inside the compute buffer, counted as overhead
    elif engine == "transformers":
        act = prefill_activation_bytes(spec, context, batch, attention=attention)
    else:  # vLLM and MLX prefill one sequence at a time in chunks of at most 8192 tokens
        act = prefill_activation_bytes(spec, min(context, 8192), 1, attention=attention)
    device = get_gpu(gpu) if gpu is not None else None
    prealloc = capacity = None
    w = weights_bytes(spec, weights)
    over = overhead_bytes(spec, engine, context, unified_memory=bool(device and device.unified_memory))
    if engine == "vllm" and device is not None:
        if isinstance(gpu_memory_utilization, bool) or not isinstance(gpu_memory_utilization, (int, float)) \
                or not 0 < gpu_memory_utilization <= 1:
            raise VramkitError(f"gpu_memory_utilization must be in (0, 1], got {gpu_memory_utilization}")
        prealloc = int(device.memory_bytes * gpu_memory_utilization)
        pool = prealloc - w - act - over
        capacity = max(pool, 0) // per_token
    return InferenceMemory(
        weights_bytes=w, kv_cache_bytes=kv, activation_bytes=act, overhead_bytes=over, engine=engine,
        context=context, batch=batch, weights=get_format(weights).name, kv_dtype=get_format(kv_dtype).name,
        kv_bytes_per_token=per_token, gpu=device.id if device else None,
        gpu_usable_bytes=device.usable_bytes() if device else None,
        preallocated_bytes=prealloc, kv_tokens_capacity=capacity)


def kv_cache_bytes_grid(spec: ModelSpec, contexts, batches, kv_dtype: str = "bf16",
                        engine: str = "transformers"):
    """`kv_cache_bytes` for arrays of contexts and batches at once (numpy int64 bytes, broadcast;
    past what int64 holds, an object array of exact Python ints: never a wrapped, negative count).

    Layers are grouped by how many tokens they keep (full layers keep all, sliding layers at most
    their window), so a sweep costs a few array operations whatever the number of points.
    """
    import numpy as np

    spec = _as_spec(spec)
    contexts, batches = _int_array("contexts", contexts), _int_array("batches", batches)
    fmt = get_format(kv_dtype)
    groups = dict(kv_groups(spec, engine))  # tokens a layer keeps at most -> K/V elements per token
    # int64 holds the bits only below 2**63: the largest point decides. Past it, Python ints
    # (an object array) keep every byte count exact instead of wrapping to a negative number.
    worst = (int(contexts.max(initial=1)) * sum(groups.values()) * int(batches.max(initial=1))
             * fmt.bits.numerator)
    if worst >= 2**62:
        contexts, batches = contexts.astype(object), batches.astype(object)
    elements = sum(per_token * np.minimum(contexts, cap) for cap, per_token in groups.items())
    total_bits = elements * batches * fmt.bits.numerator
    return -(-total_bits // (8 * fmt.bits.denominator))


def _int_array(name: str, values):
    """`values` as an int64 array of positive integers, or a VramkitError (never a silent truncation)."""
    import numpy as np

    try:
        arr = np.asarray(values)
    except (TypeError, ValueError) as e:
        raise VramkitError(f"{name} must be positive integers ({e})") from None
    if arr.dtype == bool or arr.dtype.kind not in "iuf" or arr.size == 0:
        raise VramkitError(f"{name} must be positive integers, got {arr.dtype} values")
    if arr.dtype.kind == "f" and not (np.isfinite(arr).all() and (arr == np.round(arr)).all()):
        raise VramkitError(f"{name} must be whole numbers, got fractional or infinite values")
    if (arr <= 0).any() or (arr >= 2**62).any():
        raise VramkitError(f"{name} must be positive integers below 2**62")
    return arr.astype(np.int64)
