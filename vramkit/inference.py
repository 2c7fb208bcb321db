"""Inference memory: weights + KV cache + activations + runtime overhead.

Explained in the chapter on inference and the KV cache (chapters/*/04-inference.ipynb).
"""
from __future__ import annotations

from fractions import Fraction
from functools import lru_cache

from .dtypes import get_format, storage_bytes
from .errors import VramkitError, require_positive
from .model import CHUNKED, SLIDING, ModelSpec, memo
from . import prefill_families, prefill_hybrid
from .record import field, record

# Engines that cache DeepSeek's compressed latent (kv_lora_rank + rope dims per token and layer).
# transformers 5 does (tests/reference/static.json), and so does mlx-lm since early 2026 (its
# deepseek_v3 attention keeps the normed latent and the shared rope key in the cache and expands
# per head inside attention); transformers 4.x and older mlx-lm expanded K and V per head.
LATENT_KV_ENGINES = ("transformers", "vllm", "llama.cpp", "sglang", "mlx")


def kv_elements_per_token(spec: ModelSpec, layer: int, engine: str = "transformers") -> int:
    """K and V elements one token adds to layer `layer`'s cache, per sequence.

    0 without attention (hybrids' mixer layers) and for a layer that reuses an earlier layer's K/V
    (gemma3n); a DSA layer (deepseek_v32) adds its indexer key (index_head_dim) beside the latent.
    """
    if not spec.has_attention(layer) or (spec.kv_shared_from and spec.kv_shared_from[layer] >= 0):
        return 0
    if spec.is_mla:
        # transformers 5 caches the latent too: the normed kv_lora_rank part in the keys slot and
        # the shared rope key in the values slot, expanding per head only inside attention
        # (tests/reference/static.json). Older transformers (4.x) cached the expanded K and V.
        if engine in LATENT_KV_ENGINES:
            return spec.kv_lora_rank + spec.qk_rope_head_dim + spec.index_head_dim
        return spec.num_heads * (spec.head_dim + spec.value_head_dim) + spec.index_head_dim
    return spec.num_kv_heads * (spec.head_dim + spec.value_head_dim)


def cached_tokens(spec: ModelSpec, layer: int, context: int, engine: str = "transformers") -> int:
    """Tokens layer `layer` holds after `context` tokens.

    transformers' sliding-window cache keeps the last `sliding_window - 1` tokens: the next
    token's own K/V completes the window. A chunked-attention layer (llama4) is cached the same
    way with its chunk as the window (DynamicSlidingWindowLayer(sliding_window=attention_chunk_size)),
    so it holds `attention_chunk - 1` tokens, not the tokens of the current chunk. A layer that
    reuses another's K/V holds none.
    """
    if spec.kv_shared_from and spec.kv_shared_from[layer] >= 0:
        return 0
    if engine == "mlx":
        return mlx_cached_tokens(spec, layer, context)
    if spec.layer_types and spec.layer_types[layer] == CHUNKED and spec.attention_chunk:
        keep = spec.attention_chunk - 1 if engine == "transformers" else spec.attention_chunk
        return min(context, keep)
    if spec.layer_types and spec.layer_types[layer] == SLIDING and spec.sliding_window:
        keep = spec.sliding_window - 1 if engine == "transformers" else spec.sliding_window
        return min(context, keep)
    return context


MLX_STEP = 256            # mlx_lm.models.cache.KVCache grows its buffers by 256 tokens
MLX_PREFILL_STEP = 2048   # mlx_lm.generate feeds the prompt in chunks of prefill_step_size


def mlx_cached_tokens(spec: ModelSpec, layer: int, context: int) -> int:
    """Tokens of buffer mlx-lm's cache holds for layer `layer` after a prompt of `context` tokens,
    fed in chunks of 2,048 (tests/reference/mlx_cache.json).

    A full-attention KVCache allocates in steps of 256 tokens. A sliding layer's RotatingKVCache
    trims to window - 1 tokens before it appends each chunk, so it holds up to window - 1 + the last
    chunk (a whole prompt up to 2,048 tokens); a chunk of one token is written in place instead, into
    a buffer of at most the window (256 tokens at a time).
    """
    if spec.layer_types and spec.layer_types[layer] == SLIDING and spec.sliding_window:
        window = spec.sliding_window
        last = context - MLX_PREFILL_STEP * ((context - 1) // MLX_PREFILL_STEP)
        if last == 1:
            return min(MLX_STEP, window) if context == 1 else window
        return min(context - last, window - 1) + last
    return -(-context // MLX_STEP) * MLX_STEP


def kv_bytes_per_token(spec: ModelSpec, kv_dtype: str = "bf16", engine: str = "transformers") -> int:
    """Bytes one more token adds to the cache of one sequence, every layer (buffer steps aside)."""
    fmt = get_format(kv_dtype)
    return storage_bytes(sum(kv_elements_per_token(spec, i, engine) for i in range(spec.num_layers)), fmt)


def attention_kv_bytes(spec: ModelSpec, context: int, batch: int = 1, kv_dtype: str = "bf16",
                       engine: str = "transformers", decoder_tokens: int = 1) -> int:
    """Bytes of the K and V tensors of the attention layers after a prefill (the part that grows).

    An encoder (BERT, ModernBERT) holds no cache: 0. An encoder-decoder (T5) reads `context` as the
    encoder's tokens: its EncoderDecoderCache holds, per decoder layer, the cross-attention K/V over
    those tokens and the self-attention K/V over `decoder_tokens` (1: the first decoding step).
    """
    context, batch = require_positive("context", context), require_positive("batch", batch)
    spec = _as_spec(spec)
    fmt = get_format(kv_dtype)
    if spec.architecture == "encoder":
        return 0
    if spec.architecture == "encoder-decoder":
        require_positive("decoder_tokens", decoder_tokens)
        per = sum(kv_elements_per_token(spec, i) for i in range(spec.num_layers))
        return storage_bytes(per * (context + decoder_tokens) * batch, fmt)
    if engine == "mlx":  # step-grown buffers (mlx_cached_tokens): not min(context, cap) per group
        elements = sum(per_token * cached_tokens(spec, i, context, engine) for i, per_token in _mlx_groups(spec))
    else:
        # Per layer: elements per token x the tokens the layer holds, summed over the layers (kv_groups
        # has added up the layers that hold the same number of tokens).
        elements = sum(per_token * min(context, cap) for cap, per_token in kv_groups(spec, engine))
    return storage_bytes(elements * batch, fmt)


def _mlx_groups(spec: ModelSpec) -> tuple[tuple[int, int], ...]:
    """((a layer of each layer type that holds K/V, the K/V elements per token of all that type's
    layers), ...): mlx-lm's buffers depend on the layer's type only, so a call asks one of each."""
    def group() -> tuple[tuple[int, int], ...]:
        groups: dict = {}
        for i in range(spec.num_layers):
            per_token = kv_elements_per_token(spec, i, "mlx")
            if per_token:
                kind = spec.layer_types[i] if spec.layer_types else None
                first, total = groups.get(kind, (i, 0))
                groups[kind] = (first, total + per_token)
        return tuple(groups.values())
    return memo(spec, "mlx_kv_groups", group)


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


# ---- image tokens ----------------------------------------------------------------------------

DEFAULT_IMAGE_SIDE = 1024  # pixels: the square image assumed where the token count depends on size


def image_tokens(spec: ModelSpec, image_size: int | tuple[int, int] | None = None) -> int:
    """Context tokens one image takes in a multimodal model (the tokens its processor inserts).

    - Gemma 3: `mm_tokens_per_image` (256) soft tokens, whatever the image (pan-and-scan off).
    - LLaVA: one token per patch, (image_size / patch_size)^2 (576 at 336 px / 14), plus the class
      token with `vision_feature_select_strategy="full"`.
    - Qwen2.5-VL / Qwen3-VL, dynamic resolution: the processor's smart_resize rounds height and width to
      multiples of f = patch_size x spatial_merge_size (28; 32 for Qwen3-VL) and keeps the pixel
      count between its min and max (Qwen2VLImageProcessor: 56^2 .. 28^2 x 1280; Qwen3-VL: 2^16 ..
      2^24), then (h/f) x (w/f) tokens.
    - Mistral 3 (Pixtral): the image shrinks to fit the longest edge (vision_config.image_size, 1540),
      then ceil(h/f) rows of ceil(w/f) tokens, each row closed by [IMG_BREAK] / [IMG_END] (f = 28).
    - Gemma 3n: `vision_soft_tokens_per_image` (256), whatever the image. Qwen3.5: as Qwen3-VL.
    - Llama 4: tiles of 336 px (at most 16, the canvas that fits the image with the least rescaling),
      144 tokens each (24^2 patches, pixel shuffle keeps a quarter), a tile separator after each, and
      a global tile of 144 more; one tile alone has no global copy. Plus the processor's 3 markers.
    `image_size` is the side in pixels (or (height, width)); default DEFAULT_IMAGE_SIDE. The marker
    tokens a chat template writes around an image (Gemma's start/end of image, Qwen's vision
    start/end) are text the prompt already counts.
    """
    import math

    rule = spec.image_tokens
    if not rule:
        what = f"'{spec.multimodal}' (its image tiling is not modelled)" if spec.multimodal else "a text-only model"
        raise VramkitError(f"image tokens: {spec.source or spec.model_type} is {what}; --images needs gemma3, "
                           "gemma3n, llava, llama4, mistral3, qwen2_5_vl, qwen3_vl or qwen3_5")
    if rule[0] == "fixed":
        return rule[1]
    h, w = (image_size, image_size) if isinstance(image_size, int) else (image_size or (DEFAULT_IMAGE_SIDE,) * 2)
    require_positive("image height", h)
    require_positive("image width", w)
    if rule[0] == "qwen_vl":
        _, f, lo, hi, _ = rule
        hb, wb = max(f, round(h / f) * f), max(f, round(w / f) * f)
        if hb * wb > hi:
            beta = math.sqrt(h * w / hi)
            hb, wb = max(f, math.floor(h / beta / f) * f), max(f, math.floor(w / beta / f) * f)
        elif hb * wb < lo:
            beta = math.sqrt(lo / (h * w))
            hb, wb = math.ceil(h * beta / f) * f, math.ceil(w * beta / f) * f
        return (hb // f) * (wb // f)
    if rule[0] == "pixtral":
        _, f, longest = rule
        ratio = max(h / longest, w / longest)
        if ratio > 1:
            h, w = math.floor(h / ratio), math.floor(w / ratio)
        rows, cols = -(-h // f), -(-w // f)
        return rows * (cols + 1)
    if rule[0] == "llama4":
        _, tile, per_tile, max_tiles = rule
        rh, rw = _llama4_tiles(h, w, tile, max_tiles)
        # <|image_start|>, the tiles (each row's tiles split by x separators, each row closed by a y
        # separator) when there is more than one, then <|image|>, the global tile and <|image_end|>.
        tiles = rh * rw * per_tile + rh * rw if rh * rw > 1 else 0
        return tiles + per_tile + 3
    raise VramkitError(f"image tokens: unknown rule {rule[0]!r}")


def _llama4_tiles(h: int, w: int, tile: int, max_tiles: int) -> tuple[int, int]:
    """(rows, columns) of tiles Llama4ImageProcessor cuts an h x w image into: of every canvas of at
    most `max_tiles` tiles, the smallest upscale (else the mildest downscale) that fits the image
    without distortion, the smaller canvas on a tie (its get_best_fit, scales in float32 as torch)."""
    import struct

    f32 = lambda x: struct.unpack("f", struct.pack("f", x))[0]  # noqa: E731
    canvases = {(a, n // a) for n in range(1, max_tiles + 1) for a in range(1, n + 1) if n % a == 0}
    scales = {c: min(f32(c[0] * tile / h), f32(c[1] * tile / w)) for c in canvases}
    up = [x for x in scales.values() if x >= 1]
    best = min(up) if up else max(scales.values())
    return min((c for c, x in scales.items() if x == best), key=lambda c: c[0] * c[1])


def mixer_state_bytes(spec: ModelSpec, batch: int = 1, kv_dtype: str = "bf16", engine: str = "transformers") -> int:
    """Bytes of the conv and recurrent states of the mixer layers, whatever the context.

    transformers (tests/reference/static_hybrid.json) keeps the conv state's last `kernel` inputs
    in the cache's (the model's) dtype and the recurrent state of Gated DeltaNet and Mamba in fp32.
    vLLM (mamba_utils.MambaStateShapeCalculator / MambaStateDtypeCalculator) and llama.cpp (its
    recurrent memory, r_l / s_l) keep `kernel - 1` inputs; vLLM stores both states in the cache
    dtype (mamba_ssm_cache_dtype "auto"; a model config or flag asking for fp32 is not read),
    llama.cpp both in F32. MLX (its LFM2 port caches kernel - 1 inputs at activation precision) is
    taken as kernel - 1 conv inputs with transformers' dtypes. Layers without a mixer add nothing.
    """
    spec = _as_spec(spec)
    require_positive("batch", batch)
    k = spec.mixer_conv_kernel
    total = 0
    for name, n, dtype in spec.mixer_state:
        if engine in ("vllm", "llama.cpp", "mlx") and name == "conv_states" and k:
            n = n // k * (k - 1)
        if engine == "llama.cpp":
            dtype = "fp32"
        elif engine == "vllm":
            dtype = ""
        total += storage_bytes(n * batch, get_format(dtype or kv_dtype))
    return spec.mixer_layer_count * total


def cache_bytes_per_layer(spec: ModelSpec, context: int, batch: int = 1, kv_dtype: str = "bf16",
                          engine: str = "transformers") -> list[dict[str, int]]:
    """Per layer: the bytes of each tensor its cache holds after the prefill ("keys", "values",
    and the mixer's state tensors by name), as transformers' cache layers hold them."""
    spec = _as_spec(spec)
    require_positive("context", context)
    require_positive("batch", batch)
    fmt = get_format(kv_dtype)
    out = []
    for i in range(spec.num_layers):
        layer: dict[str, int] = {}
        if spec.has_attention(i):
            per_token = kv_elements_per_token(spec, i, engine)
            tokens = cached_tokens(spec, i, context, engine) * batch
            v = spec.num_kv_heads * spec.value_head_dim if not spec.is_mla else 0
            layer["keys"] = storage_bytes((per_token - v) * tokens, fmt) if v else storage_bytes(per_token * tokens, fmt)
            if v:
                layer["values"] = storage_bytes(v * tokens, fmt)
        if spec.has_mixer(i):
            for name, n, dtype in spec.mixer_state:
                layer[name] = storage_bytes(n * batch, get_format(dtype or kv_dtype))
        out.append(layer)
    return out


def kv_cache_bytes(spec: ModelSpec, context: int, batch: int = 1, kv_dtype: str = "bf16",
                   engine: str = "transformers", decoder_tokens: int = 1) -> int:
    """Bytes of every tensor the cache holds after a prefill of `context` tokens for `batch` sequences.

    Explained in {ref}`kv-cache`. The K and V of the attention layers (`attention_kv_bytes`: GQA
    shrinks it by num_heads/num_kv_heads; a sliding-window layer holds at most its window; MLA
    engines hold the compressed latent) plus the constant conv and recurrent states of hybrid
    models' mixer layers (`mixer_state_bytes`).
    """
    spec = _as_spec(spec)
    _check_engine(engine)
    kv = attention_kv_bytes(spec, context, batch, kv_dtype, engine, decoder_tokens=decoder_tokens)
    return kv + (mixer_state_bytes(spec, batch, kv_dtype, engine) if spec.mixer_state else 0)


# ---- weights ---------------------------------------------------------------------------------

# Tensors that 4/8-bit loaders (bitsandbytes, fp8, GPTQ/AWQ) leave in the compute dtype: they are
# not nn.Linear weights inside the decoder layers.
# (Hybrids: the mixers' conv kernels, A_log, D, dt_bias and inner norms are not nn.Linear either.)
_KEPT_IN_COMPUTE_DTYPE = ("embedding", "position", "lm_head", "norms", "mixer_other", "per_layer_embedding")


CHECKPOINT = "checkpoint"  # weights=CHECKPOINT: the checkpoint's own quantization_config


def default_weights(spec: ModelSpec) -> str:
    """The weights a config implies: its own quantized format when it has a quantization_config, else bf16."""
    return CHECKPOINT if getattr(spec, "quantization", None) else "bf16"


def weights_label(spec: ModelSpec, weights: str) -> str:
    """A short name for `weights` ("bf16", "Q4_K_M", "awq-w4-g128" for a checkpoint's own format)."""
    if weights == CHECKPOINT:
        from .checkpoints import scheme

        return scheme(spec.quantization)
    return get_format(weights).name


def weights_bytes(spec: ModelSpec, weights: str = "bf16", compute_dtype: str = "bf16",
                  engine: str = "transformers") -> int:
    """Bytes of the weights when stored in `weights`.

    16- and 32-bit formats store every parameter so. GGUF types follow llama.cpp's per-tensor
    rules (`dtypes.gguf_model_bytes`). Other quantized formats (int8, int4, nf4, fp8, mxfp4)
    quantize the decoder's linear layers and keep embeddings, the head and norms in
    `compute_dtype`, as bitsandbytes and the fp8 loaders do. `weights="checkpoint"` prices the
    config's own `quantization_config` tensor by tensor (`checkpoints.loaded_bytes`: what `engine`
    holds after loading it; transformers without triton kernels dequantizes MXFP4 experts).
    """
    spec = _as_spec(spec)
    if weights == CHECKPOINT:
        if not getattr(spec, "quantization", None):
            raise VramkitError(f"{spec.source or 'config'}: weights 'checkpoint' needs a config with a "
                               "quantization_config; pass a format instead (see 'vramkit formats')")
        from .checkpoints import loaded_bytes

        return loaded_bytes(spec, engine=engine)
    fmt = get_format(weights)
    if fmt.kind == "gguf" or getattr(fmt, "mix", False):
        from .dtypes import gguf_model_bytes

        return gguf_model_bytes(spec, fmt.name)
    # Parameters the model keeps in fp32 whatever it is loaded in (Nemotron-H's router).
    fp32 = spec.breakdown()["router"] if spec.router_fp32 else 0
    if fmt.bits >= 16:
        return storage_bytes(spec.params() - fp32, fmt) + 4 * fp32
    parts = spec.breakdown()
    if fmt.kind == "affine":
        # mlx_lm.convert quantizes every Linear and Embedding (the head and the token embedding
        # too; a tied one once); norms and learned positions stay in the 16-bit dtype.
        kept = parts["norms"] + parts["position"]
        return storage_bytes(spec.params() - kept - fp32, fmt) + storage_bytes(kept, compute_dtype) + 4 * fp32
    kept = sum(parts.get(k, 0) for k in _KEPT_IN_COMPUTE_DTYPE)
    return storage_bytes(spec.params() - kept - fp32, fmt) + storage_bytes(kept, compute_dtype) + 4 * fp32


# ---- activations during prefill --------------------------------------------------------------


def prefill_activation_bytes(spec: ModelSpec, tokens: int, batch: int = 1, dtype: str = "bf16",
                             attention: str = "sdpa") -> int:
    """Peak bytes of the temporaries while transformers prefills `tokens` tokens for `batch` sequences.

    What `model(ids, use_cache=True, logits_to_keep=1)` under `no_grad` holds at its peak besides
    the weights and the K/V bytes of `kv_cache_bytes`, as transformers 5's modeling code allocates it
    (checked against MemTracker in tests/reference/prefill.json: 150 cases, 13 architectures; the
    2026 families in tests/reference/prefill_2026.json: hybrid mixers through `vramkit.prefill_hybrid`,
    the attention families whose modeling code differs through `vramkit.prefill_families`).
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
    if spec.is_hybrid and not prefill_hybrid.measured(spec):
        return hybrid_prefill_activation_estimate(spec, tokens, batch, dtype, attention)
    own = spec.model_type in prefill_families.OWN_EAGER
    peak = _prefill_peak(spec, tokens, batch, dtype, "sdpa" if own else attention)
    if spec.model_type in prefill_families.RULES:
        b = _element_bytes(get_format(dtype).bits)[0]
        peak = max(peak, prefill_families.family_prefill_peak(spec, tokens, batch, b, attention,
                                                              len(_attention_kinds(spec)))
                   + _slice_bytes(spec, tokens, batch, dtype))
    if spec.mixer:
        # the widest moment of a mixer layer (vramkit.prefill_hybrid), the eager masks kept meanwhile
        b = _element_bytes(get_format(dtype).bits)[0]
        masks = len(_attention_kinds(spec)) * batch * tokens * tokens * b if attention == "eager" else 0
        peak = max(peak, prefill_hybrid.mixer_prefill_peak(spec, tokens, batch, b, masks))
    return peak


def _activation_estimated(spec: ModelSpec) -> bool:
    """Whether `prefill_activation_bytes` is still an estimate for `spec` (no measured rule yet)."""
    return spec.is_hybrid and not prefill_hybrid.measured(spec) or spec.model_type in prefill_families.UNMEASURED


def _attention_kinds(spec: ModelSpec) -> set:
    return memo(spec, "attention_kinds", lambda: {t for i, t in enumerate(spec.layer_types)
                                                 if spec.has_attention(i)} or {"full_attention"})


def hybrid_prefill_activation_estimate(spec: ModelSpec, tokens: int, batch: int = 1, dtype: str = "bf16",
                                       attention: str = "sdpa") -> int:
    """An estimate, not checked against a measurement: the prefill peak of a hybrid model whose mixer
    kind has no measured rule in `vramkit.prefill_hybrid` (every kind transformers has today has one).

    Its attention and MLP layers are the modules `prefill_activation_bytes` measures; a mixer layer
    holds about the layer's input and residual (3 x hidden), its projections' outputs (their
    widths: mixer_linear_params / hidden) twice (the projection and the convolution's output), and
    an fp32 working copy of its state. `InferenceMemory.activation_estimated` flags it.
    """
    b = get_format(dtype).bits / 8
    n, h = batch * tokens, spec.hidden_size
    peak = _prefill_peak(spec, tokens, batch, dtype, attention) if spec.attention_layer_count else 0
    if spec.mixer:
        width = spec.mixer_linear_params // h
        state = sum(e for _, e, _ in spec.mixer_state) * batch * 4
        peak = max(peak, int(n * (3 * h + 2 * width) * b) + state,
                   int(n * h * b + batch * spec.vocab_size * b))
    return peak


@lru_cache(maxsize=64)
def _element_bytes(bits: Fraction) -> tuple:
    """(bytes per element, two fp32 copies in units of it) for a dtype of `bits` bits.

    Whole bytes (bf16, fp16, fp32, fp8) keep every product below a plain int: exact, and far faster
    than Fraction arithmetic, which a sweep or the fit solver would pay thousands of times.
    """
    b = bits / 8
    b = int(b) if b.denominator == 1 else b
    return b, (8 // b if isinstance(b, int) and 8 % b == 0 else Fraction(8) / b)


def _prefill_peak(spec: ModelSpec, tokens: int, batch: int, dtype: str, attention: str) -> int:
    b, fp32_per_b = _element_bytes(get_format(dtype).bits)
    # What the spec alone decides, worked out once per spec and dtype (`_prefill_widths`): a sweep
    # or the fit solver then pays a few multiplications per call.
    gpt2, h, mlp_rows, attn_rows, eager_rows, kinds, heads, head_all_rows, vocab_rows, positions = memo(
        spec, ("prefill_widths", b), lambda: _prefill_widths(spec, fp32_per_b))
    n = batch * tokens
    # MLP phase (elements per row: see _prefill_widths).
    peak = n * mlp_rows * b
    scores = batch * heads * tokens * tokens
    if attention == "eager":
        # The model keeps its masks for every layer; gpt2's block keeps the last softmax too.
        peak += kinds * batch * tokens * tokens * b + (scores * b if gpt2 else 0)
    # Attention phase.
    peak = max(peak, n * attn_rows * b)
    if attention == "eager" and gpt2:
        # The fused QKV rows stay alive; the scores and their scaled copy, one mask.
        peak = max(peak, n * 6 * h * b + scores * 2 * b + batch * tokens * tokens * b)
    elif attention == "eager":
        # Rotated Q (and K, V repeated to every head under GQA) beside the bf16 scores, their fp32
        # copy and the fp32 softmax, and one mask per attention type.
        peak = max(peak, n * eager_rows * b + scores * (b + 8) + kinds * batch * tokens * tokens * b)
    # The head: final normed rows and the logits of the last position.
    # (an encoder's masked-LM head scores every position, not only the last: an estimate, unchecked)
    rows = n if head_all_rows else batch
    peak = max(peak, n * h * b + rows * vocab_rows * b)
    return int(peak + tokens * positions * b) + _slice_bytes(spec, tokens, batch, dtype)


def _prefill_widths(spec: ModelSpec, fp32_per_b) -> tuple:
    """The widths `_prefill_peak` multiplies by the rows and the element bytes, from the spec alone.

    (gpt2, hidden, elements per row at the MLP's widest moment, at attention's, at eager
    attention's, attention types with layers, heads, whether the head scores every row, vocabulary
    rows of logits, position-table elements per token)."""
    h = spec.hidden_size
    q_dim, kv_dim = spec.num_heads * spec.head_dim, spec.num_kv_heads * spec.value_head_dim
    gpt2 = spec.model_type == "gpt2"
    # MLP phase: the embedding output, the layer's input, the residual after attention and its
    # normed copy (gpt2: and the attention output), with the MLP's own tensors.
    dense = spec.intermediate_size * (
        4 if gpt2 or spec.model_type == "phi3" else 3 if spec.mlp_gated else 2)
    mlp = dense if not spec.moe_layers or not all(spec.moe_layers) else 0
    if spec.is_moe:
        e = spec.moe_intermediate_size
        mlp = max(mlp, spec.experts_per_token * max(h + (4 if spec.mlp_gated else 2) * e, 4 * h),
                  h + 3 * spec.shared_expert_size)
    mlp_rows = (5 * h if gpt2 else 4 * h) + mlp
    if gpt2:
        attn_rows = 6 * h
    else:
        # Q, K, V beside the rotary temporaries of Q; a QK norm's two fp32 copies of Q (Gemma 3
        # projects K and V first, Qwen 3 and OLMo 2 norm Q before projecting K and V).
        rope = q_dim + 2 * kv_dim + 3 * q_dim
        norm = q_dim * (1 + fp32_per_b) + (2 * kv_dim if spec.model_type == "gemma3_text" else 0)
        attn_rows = 3 * h + max(rope, norm if spec.qk_norm != "none" else 0)
    # (repeat_kv copies only when 1 < kv heads < heads: one KV head expands as a view.)
    eager_rows = 3 * h + q_dim + (2 * q_dim if 1 < spec.num_kv_heads < spec.num_heads else 0)
    head_all_rows = spec.architecture == "encoder" and spec.lm_head
    vocab_rows = spec.vocab_size * (2 if spec.model_type == "gemma2" else 1)
    positions = h if gpt2 else 2 * spec.head_dim
    return (gpt2, h, mlp_rows, attn_rows, eager_rows, len(_attention_kinds(spec)), spec.num_heads,
            head_all_rows, vocab_rows, positions)


def _slice_bytes(spec: ModelSpec, tokens: int, batch: int, dtype: str) -> int:
    """The rest of the prefill's K/V that capped (sliding, chunked) layers' cache slices keep alive."""
    # encoders keep no K/V; T5's cache is not sliced; without a capped layer nothing is left over
    groups = kv_groups(spec)
    if spec.architecture == "decoder" and any(cap != ALL_TOKENS for cap, _ in groups):
        require_positive("context", tokens), require_positive("batch", batch)  # as attention_kv_bytes
        fmt = get_format(dtype)
        # all the prefill's K/V less what the caches keep (attention_kv_bytes' sum, here inline)
        return storage_bytes(batch * tokens * sum(n for _, n in groups), fmt) \
            - storage_bytes(sum(per_token * min(tokens, cap) for cap, per_token in groups) * batch, fmt)
    return 0


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


@record
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
    plan: object = field(default=None, compare=False)  # the engine's EnginePlan (vramkit.engines)
    request: object = field(default=None, compare=False, repr=False)  # to plan on demand (to_json)
    images: int = 0                         # images per sequence
    image_tokens: int = 0                   # context tokens they add per sequence (inside `context`)
    activation_estimated: bool = False      # activation_bytes is an estimate (a hybrid kind with no reference yet)

    @property
    def total_bytes(self) -> int:
        return self.weights_bytes + self.kv_cache_bytes + self.activation_bytes + self.overhead_bytes

    @property
    def fits(self) -> bool | None:
        """The engine's answer when it has one (vLLM: it starts), else total <= usable."""
        if self.plan is not None and self.plan.fits is not None:
            return self.plan.fits
        if self.gpu_usable_bytes is None:
            return None
        return self.total_bytes <= self.gpu_usable_bytes

    def to_json(self) -> dict:
        d = {k: getattr(self, k) for k in self.__record_fields__ if k not in ("plan", "request")}
        d["total_bytes"] = self.total_bytes
        d["fits"] = self.fits
        plan = self.plan
        if plan is None and self.request is not None:
            from .engines import plan as engine_plan

            plan = engine_plan(self.engine, self.request)
        p = plan.to_json() if plan is not None else {}
        d.update(devices=p.get("devices", []), host=p.get("host"), kv_blocks=p.get("kv_blocks"),
                 max_concurrency=p.get("max_concurrency"), engine_version=p.get("engine_version"),
                 engine_notes=p.get("notes", []), vllm=p.get("vllm"))
        if d["kv_tokens_capacity"] is None:
            d["kv_tokens_capacity"] = p.get("kv_tokens_capacity")
        return d


def _check_engine(engine: str) -> str:
    if not isinstance(engine, str) or engine not in ENGINES:
        from .errors import unknown

        raise unknown("engine", engine, ENGINES)
    return engine


def llama_cpp_compute_bytes(spec: ModelSpec, context: int, ubatch: int = 512, flash_attention: bool = True) -> int:
    """llama.cpp's compute buffer: the graph's scratch for one micro-batch of `ubatch` tokens.

    The widest moment of llama.cpp's worst-case graph as vramkit.engines.llama_cpp models it
    (checked against llama.cpp's own reservation in tests/reference/llama_cpp.json): the f32 logits
    of the micro-batch and, without flash attention, its f32 scores against the whole context.
    """
    # Imported late: the engine module sits above this floor; this keeps the old entry point.
    from .engines.base import EngineRequest
    from .engines.llama_cpp import compute_phases, settings

    s = settings(EngineRequest(spec=spec, context=context, options={
        "ubatch_size": ubatch, "flash_attn": "on" if flash_attention else "off"}))
    return max(compute_phases(spec, s).values())


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


def infer_memory(model, context: int, batch: int = 1, weights: str | None = None, kv_dtype: str | None = None,
                 engine: str = "transformers", gpu=None, attention: str = "sdpa",
                 gpu_memory_utilization: float | None = None, gpus: int = 1,
                 options: dict | None = None, images: int = 0,
                 image_size: int | tuple[int, int] | None = None, decoder_tokens: int = 1) -> InferenceMemory:
    """Weights + KV cache + activations + overhead for `batch` sequences of `context` tokens.

    Explained in {ref}`inference-memory`. `kv_dtype` defaults to the compute dtype (bf16) even
    when weights are quantized, as in transformers, vLLM and llama.cpp (f16 there). `options` are
    the engine's own flags (vramkit.engines), `gpus` the devices of the `gpu` kind.
    `images` per sequence add `image_tokens(spec, image_size)` context tokens each (their KV and the
    language model's prefill; the vision tower's own activations are not counted). For T5,
    `context` is the encoder's input and `decoder_tokens` the decoder's (see kv_cache_bytes).

    vLLM on a GPU is what vLLM takes at start-up (vramkit.engines.vllm): its weights per rank, the
    profile run's peak, its pre-allocated KV pool (`kv_cache_bytes`), non-torch and CUDA-graph
    memory and a CUDA context per GPU; `fits` is whether vLLM starts.
    `weights` defaults to the checkpoint's own format when the config has a quantization_config,
    else bf16.
    """
    EngineRequest, check_format, engine_plan, llama_cpp, get_gpu, load_model = _upper_floors()
    context, batch = require_positive("context", context), require_positive("batch", batch)
    spec = load_model(model)
    _check_engine(engine)
    weights = weights or default_weights(spec)
    if images < 0:
        raise VramkitError(f"images must be 0 or more, got {images}")
    added = images * image_tokens(spec, image_size) if images else 0
    context = context + added
    options = dict(options or {})
    if gpu_memory_utilization is not None:
        options.setdefault("gpu_memory_utilization", gpu_memory_utilization)
    def setup() -> tuple:
        device = get_gpu(gpu) if gpu is not None else None
        check_format(engine, weights, device)
        kv = kv_dtype or ("fp16" if engine == "llama.cpp" else "bf16")
        per_token = memo(spec, ("kv_per_token", kv, engine), lambda: _growing_kv_per_token(spec, kv, engine))
        return device, kv, per_token, get_format(kv).name, _activation_estimated(spec)

    # What the context and batch do not change, once per spec, engine, formats and GPU (a sweep or
    # the fit solver asks the same spec thousands of times); the same checks, in the same order.
    device, kv_dtype, per_token, kv_name, estimated = memo(spec, ("infer_setup", engine, weights, kv_dtype, gpu),
                                                           setup)
    request = EngineRequest(spec=spec, context=context, batch=batch, weights=weights, kv_dtype=kv_dtype,
                            gpu=device, gpus=gpus, options=options)
    if engine == "vllm" and device is not None:
        if gpus > 1 and "tensor_parallel_size" not in options and "pipeline_parallel_size" not in options:
            options["tensor_parallel_size"] = gpus
        plan = engine_plan(engine, request)
        devs = plan.devices
        v = plan.extra["vllm"]
        return InferenceMemory(
            weights_bytes=sum(d.weights_bytes for d in devs), kv_cache_bytes=sum(d.kv_cache_bytes for d in devs),
            activation_bytes=sum(d.compute_bytes for d in devs),
            overhead_bytes=sum(d.other_bytes for d in devs) + CUDA_CONTEXT_BYTES * len(devs),
            engine=engine, context=context, batch=batch, weights=_label(spec, weights),
            kv_dtype=kv_name, kv_bytes_per_token=per_token, gpu=device.id,
            gpu_usable_bytes=device.usable_bytes() * len(devs),
            preallocated_bytes=v["requested_bytes"] * len(devs), kv_tokens_capacity=plan.kv_tokens_capacity,
            plan=plan, images=images, image_tokens=added, activation_estimated=estimated)
    unified = bool(device and device.unified_memory)
    if engine == "llama.cpp":
        # llama.cpp's own sizes under the user's flags: cells padded to 256 per stream, the cache
        # types, the compute buffer of --ubatch-size and --flash-attn (vramkit.engines.llama_cpp).
        s = llama_cpp.settings(request)
        kv = llama_cpp.kv_total_bytes(spec, s)
        act = 0  # inside the compute buffer, counted as overhead
        over = (0 if unified else CUDA_CONTEXT_BYTES) + llama_cpp.compute_bytes(spec, s)
    else:
        kv = kv_cache_bytes(spec, context, batch, kv_dtype, engine, decoder_tokens=decoder_tokens)
        # vLLM chunks the prefill at max_num_batched_tokens, mlx-lm at 2,048 tokens
        act = prefill_activation_bytes(spec, context, batch, attention=attention) if engine == "transformers" \
            else prefill_activation_bytes(spec, min(context, 8192 if engine == "vllm" else 2048), 1,
                                          attention=attention)
        over = overhead_bytes(spec, engine, context, unified_memory=unified)
    w = memo(spec, ("weights_bytes", weights, engine), lambda: weights_bytes(spec, weights, engine=engine))
    # Several devices: the engine's per-device split decides; one: the totals do (planned on demand).
    plan = engine_plan(engine, request) if gpus > 1 and engine != "vllm" else None
    return InferenceMemory(
        weights_bytes=w, kv_cache_bytes=kv, activation_bytes=act, overhead_bytes=over, engine=engine,
        context=context, batch=batch, weights=_label(spec, weights), kv_dtype=kv_name,
        kv_bytes_per_token=per_token, gpu=device.id if device else None,
        gpu_usable_bytes=device.usable_bytes() if device else None, plan=plan,
        request=request if engine != "vllm" else None, images=images, image_tokens=added,
        activation_estimated=estimated)


_UPPER: tuple = ()


def _upper_floors() -> tuple:
    """What infer_memory takes from the floors above this one (the engines, hardware, sources),
    imported on its first call (not at import: they import this module) and then kept at hand."""
    global _UPPER
    if not _UPPER:
        from .engines import EngineRequest, check_format, llama_cpp
        from .engines import plan as engine_plan
        from .hardware import get_gpu
        from .sources import load_model

        _UPPER = (EngineRequest, check_format, engine_plan, llama_cpp, get_gpu, load_model)
    return _UPPER


def _label(spec: ModelSpec, weights: str) -> str:
    return memo(spec, ("weights_label", weights), lambda: weights_label(spec, weights))


def _growing_kv_per_token(spec: ModelSpec, kv_dtype: str, engine: str) -> int:
    """Bytes of cache one more token of one sequence adds (infer_memory's `kv_bytes_per_token`)."""
    if engine == "mlx":  # without mlx-lm's 256-token buffer steps
        return kv_bytes_per_token(spec, kv_dtype, engine)
    # the part that grows per token (hybrids also hold a constant state per sequence)
    per_token = attention_kv_bytes(spec, 1, 1, kv_dtype, engine, decoder_tokens=1)
    if spec.architecture == "encoder-decoder":  # per encoder token: the cross-attention K/V
        per_token = attention_kv_bytes(spec, 2, 1, kv_dtype, engine) - per_token
    return per_token


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
    if fmt.mix:
        storage_bytes(0, fmt)  # a GGUF mix has no flat rate: raise storage_bytes' one-line error
    if spec.architecture == "encoder":
        return np.zeros(np.broadcast(contexts, batches).shape, dtype=np.int64)
    if spec.architecture == "encoder-decoder":  # cross-attention over the context + one decoder token
        contexts = contexts + 1
    groups = dict(kv_groups(spec, engine))  # tokens a layer keeps at most -> K/V elements per token
    # int64 holds the bits only below 2**63: the largest point decides. Past it, Python ints
    # (an object array) keep every byte count exact instead of wrapping to a negative number.
    worst = (int(contexts.max(initial=1)) * sum(groups.values()) * int(batches.max(initial=1))
             * fmt.bits.numerator)
    if worst >= 2**62:
        contexts, batches = contexts.astype(object), batches.astype(object)
    elements = sum(per_token * np.minimum(contexts, cap) for cap, per_token in groups.items())
    if engine == "mlx":  # step-grown buffers and chunked sliding caches (mlx_cached_tokens)
        elements = 0
        for i in range(spec.num_layers):
            if spec.layer_types and spec.layer_types[i] == SLIDING and spec.sliding_window:
                window = spec.sliding_window
                last = contexts - MLX_PREFILL_STEP * ((contexts - 1) // MLX_PREFILL_STEP)
                held = np.where(last == 1, np.where(contexts == 1, min(MLX_STEP, window), window),
                                np.minimum(contexts - last, window - 1) + last)
            else:
                held = -(-contexts // MLX_STEP) * MLX_STEP
            elements = elements + kv_elements_per_token(spec, i, engine) * held
    total_bits = elements * batches * fmt.bits.numerator
    kv = -(-total_bits // (8 * fmt.bits.denominator))
    if spec.mixer_state:  # constant in the context, linear in the batch
        kv = kv + batches * mixer_state_bytes(spec, 1, kv_dtype, engine) * (contexts > 0)
    return kv


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
