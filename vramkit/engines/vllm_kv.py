"""vLLM V1's KV-cache layout: one spec per layer, the hybrid block-size rule, KV-cache groups, blocks per request.

Read from vLLM's source (0.19.0 and 0.28.0 wheels), per GPU rank:

- Each layer gets a KV-cache spec (vllm/v1/kv_cache_interface.py): full attention, sliding window
  (window W), chunked local attention (Llama 4: chunk C), or a MambaSpec for a recurrent or
  convolution mixer (Mamba, Mamba-2, Gated DeltaNet, LFM2's short conv): its conv and SSM state for
  one request in one "page". A layer that reads another layer's K/V (gemma3n's KV sharing:
  `kv_sharing_target_layer_name`) gets no spec; a layer with no token mixer (Nemotron-H's MLP-only
  layers) has none either. Falcon-H1 layers hold an attention and a Mamba-2 mixer side by side: one
  spec each.
- Mamba state shapes (vllm/model_executor/layers/mamba/mamba_utils.py MambaStateShapeCalculator),
  conv kernel K: Mamba-2 conv (K-1, (d_inner + 2 G' d_state) / TP) with G' the groups padded to
  TP, SSM (heads / TP, head_dim, d_state); Mamba conv (K-1, d_inner / TP), SSM (d_inner / TP,
  d_state); Gated DeltaNet conv (K-1, (2 k_heads k_dim + v_heads v_dim) / TP), SSM
  (v_heads / TP, v_dim, k_dim); short conv (K-1, width / TP). The conv state is in the model dtype
  (`--mamba-cache-dtype`), the SSM state in `--mamba-ssm-cache-dtype`, whose "auto" is the model
  dtype except Nemotron-H (config/model overrides: float16 in 0.19, float32 in 0.28, unless the
  checkpoint's config names one) and Qwen3.5 (the config's `mamba_ssm_dtype`: float32 in the
  published checkpoints). The KV dtype (`--kv-cache-dtype`) does not touch the Mamba state.
- Hybrid block size (0.19: HybridAttentionMambaModelConfig; 0.28: Platform._align_hybrid_block_size):
  the attention block grows to the smallest multiple of the kernel alignment (16 on CUDA; 0.28:
  max(16, --block-size)) whose page holds the Mamba page; the Mamba page is padded to it
  (`mamba_page_size_padded`). With Mamba prefix caching mode "all" the block is a multiple of
  lcm(mamba chunk size, alignment) instead.
- Groups (kv_cache_utils `_get_kv_cache_groups_uniform_page_size`): layers bucketed by spec; the
  group size is the smallest bucket (the largest when it is under 1.5x the smallest); each bucket
  split into ceil(n / group) groups (layers[i::n_groups]); every group's block of `group` layers
  has one page each; all groups draw from one pool. Grouping is over the whole model; a pipeline
  stage holds the groups' layers that fall on it (`_project_kv_cache_groups_to_worker`).
- Blocks one max_model_len request needs (`max_memory_usage_bytes` / page, summed over groups): full
  ceil(L / B); sliding ceil(min(W - 1 + T, L) / B) + 1; chunked ceil(min(C + T, L) / B), with T the
  tokens in flight (0.19: max_num_batched_tokens; 0.28: that times the concurrent batches, 2 with
  async scheduling, its default); Mamba 1 (mode "none"), 2 (mode "align") or ceil(L / B) ("all").
  Prefix caching is off by default for hybrids in 0.19 (mode "none"), on in 0.28 (mode "align").
- What vLLM prints: concurrency = blocks / blocks per request; "GPU KV cache size" = blocks //
  groups x the smallest group block size (0.19; a Mamba group's block is max_model_len in mode
  "none") or int(concurrency x max_model_len) (0.28).

All sizes are bytes (int).
"""
from __future__ import annotations

from math import gcd

from ..dtypes import get_format
from ..errors import VramkitError
from ..model import CHUNKED, CONV, FULL, HYBRID, LINEAR, SLIDING, ModelSpec
from ..record import record

KERNEL_ALIGNMENT = 16  # FlashAttention / FlashInfer / Triton on CUDA: block sizes that are multiples of 16
GROUP_RATIO = 1.5  # kv_cache_utils: the largest bucket sets the group size when under 1.5x the smallest
# Families whose vLLM model class supports Mamba prefix caching mode "all" (SupportsMambaPrefixCaching).
_ALL_MODE = {"0.19": {"nemotron_h", "granitemoehybrid", "falcon_h1", "jamba", "bamba"},
             "0.28": {"nemotron_h", "granitemoehybrid", "falcon_h1", "jamba"}}
# vLLM removed these model classes (vllm/model_executor/models/registry.py, _PREVIOUSLY_SUPPORTED_MODELS).
_REMOVED = {"0.28": {"bamba": "0.23.0"}}
MAMBA_MODES = ("none", "align", "all")


@record
class Layout:
    """One rank's KV-cache layout as vLLM builds it."""

    block_size: int           # attention tokens per block (after the hybrid alignment)
    page: int                 # bytes of one layer's page in any group (Mamba pages padded to it)
    group: int                # layers per block on this rank: the pool holds `group` pages per block
    groups: tuple             # per group: (kind, layers on this rank), over the whole model's groups
    mamba_page: int = 0       # the unpadded Mamba page (0: no Mamba layers)
    mamba_mode: str = "none"  # --mamba-cache-mode as resolved
    mamba_block_size: int = 0  # a Mamba group's block size in tokens (0 = max_model_len: mode "none")


_TORCH_NAMES = {"float32": "fp32", "float16": "fp16", "half": "fp16", "bfloat16": "bf16", "float": "fp32"}


def _dtype_bytes(name: str) -> int:
    return int(get_format(name).bits // 8)


def _state_dtype(name, default: str, flag: str) -> str:
    """A --mamba-*-dtype value as a vramkit format name ("auto": `default`)."""
    if name in (None, "auto"):
        return default
    name = _TORCH_NAMES.get(str(name).lower(), str(name).lower())
    if name not in ("fp32", "fp16", "bf16"):
        raise VramkitError(f"--{flag}: expected auto, float32, float16 or bfloat16, got {name!r}")
    return name


def layer_kinds(spec: ModelSpec, i: int) -> tuple[str, ...]:
    """The KV-cache specs vLLM gives layer `i`: () , ("full",), ("sliding",), ("chunked",), ("mamba",)
    or ("full", "mamba") for a layer with attention and a mixer side by side."""
    t = spec.layer_types[i] if spec.layer_types else FULL
    if spec.kv_shared_from and spec.kv_shared_from[i] >= 0 and t in (FULL, SLIDING, CHUNKED):
        return ()  # reads an earlier layer's K/V: no spec of its own
    if t == SLIDING:
        return ("sliding",) if spec.sliding_window else ("full",)
    if t == CHUNKED:
        return ("chunked",) if spec.attention_chunk else ("full",)
    if t in (LINEAR, CONV):
        return ("mamba",)
    if t == HYBRID:
        return ("full", "mamba")
    if t == FULL:
        return ("full",)
    return ()  # no token mixer


def _divide(n: int, tp: int, what: str) -> int:
    if n % tp:
        raise VramkitError(f"--tensor-parallel-size {tp} does not divide the mixer's {what} ({n}): vLLM refuses it")
    return n // tp


def mamba_ssm_dtype(spec: ModelSpec, version: str, model_dtype: str, options: dict) -> str:
    """The SSM state's dtype: --mamba-ssm-cache-dtype, else vLLM's per-model "auto"."""
    chosen = options.get("mamba_ssm_cache_dtype")
    if chosen not in (None, "auto"):
        return _state_dtype(chosen, model_dtype, "mamba-ssm-cache-dtype")
    if spec.model_type == "nemotron_h":
        return "fp16" if version == "0.19" else "fp32"
    if spec.model_type in ("qwen3_5_text", "qwen3_5_moe_text", "qwen3_5", "qwen3_5_moe"):
        return "fp32"  # the published configs' mamba_ssm_dtype
    return _state_dtype(options.get("mamba_cache_dtype"), model_dtype, "mamba-cache-dtype")


def mamba_page(spec: ModelSpec, tp: int, version: str, model_dtype: str, options: dict) -> tuple[int, tuple]:
    """(bytes, ((name, elements, dtype), ...)) of one Mamba layer's state for one request on one rank."""
    d = dict(spec.mixer_dims)
    k = spec.mixer_conv_kernel
    conv_dtype = _state_dtype(options.get("mamba_cache_dtype"), model_dtype, "mamba-cache-dtype")
    ssm_dtype = mamba_ssm_dtype(spec, version, model_dtype, options)
    if spec.mixer == "mamba2":
        g = d["n_group"]
        g += 0 if g % tp == 0 else tp - g  # groups replicated to go with the head shards
        conv = (k - 1) * _divide(d["d_inner"] + 2 * g * d["d_state"], tp, "conv width")
        ssm = _divide(d["n_head"], tp, "heads") * d["head_dim"] * d["d_state"]
        tensors = (("conv", conv, conv_dtype), ("ssm", ssm, ssm_dtype))
    elif spec.mixer == "mamba":
        inner = _divide(d["d_inner"], tp, "inner width")
        tensors = (("conv", (k - 1) * inner, conv_dtype), ("ssm", inner * d["d_state"], ssm_dtype))
    elif spec.mixer == "gated_deltanet":
        width = 2 * d["k_heads"] * d["k_dim"] + d["v_heads"] * d["v_dim"]
        conv = (k - 1) * _divide(width, tp, "conv width")
        ssm = _divide(d["v_heads"], tp, "value heads") * d["v_dim"] * d["k_dim"]
        tensors = (("conv", conv, conv_dtype), ("ssm", ssm, ssm_dtype))
    elif spec.mixer == "short_conv":
        tensors = (("conv", (k - 1) * _divide(d["width"], tp, "conv width"), conv_dtype),)
    else:
        raise VramkitError(f"{spec.model_type}: vLLM's plan for the {spec.mixer or 'unknown'} mixer is not modelled")
    return sum(n * _dtype_bytes(dt) for _, n, dt in tensors), tensors


def mamba_mode(spec: ModelSpec, version: str, options: dict) -> str:
    """--mamba-cache-mode as vLLM resolves it (MambaModelConfig.verify_and_update_config)."""
    prefix = options.get("enable_prefix_caching")
    prefix = (version != "0.19") if prefix is None else bool(prefix)  # hybrids: off in 0.19, on in 0.28
    if not prefix:
        return "none"
    mode = options.get("mamba_cache_mode")
    supports_all = spec.model_type in _ALL_MODE.get(version, set())
    if mode in (None, "none"):
        mode = "all" if (version == "0.19" and supports_all) else "align"
    if mode not in MAMBA_MODES:
        raise VramkitError(f"--mamba-cache-mode must be one of {', '.join(MAMBA_MODES)}, got {mode!r}")
    return "align" if mode == "all" and not supports_all else mode


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def _buckets(spec: ModelSpec) -> dict[str, list[int]]:
    """Layers per spec kind, in the order vLLM meets them."""
    buckets: dict[str, list[int]] = {}
    for i in range(spec.num_layers):
        for kind in layer_kinds(spec, i):
            buckets.setdefault(kind, []).append(i)
    return buckets


def model_groups(spec: ModelSpec) -> list[tuple[str, tuple[int, ...]]]:
    """The whole model's KV-cache groups: (kind, layer indices), as vLLM splits the buckets."""
    buckets = _buckets(spec)
    if not buckets:
        return []
    sizes = [len(v) for v in buckets.values()]
    if len(buckets) == 1:
        group = sizes[0]
    else:
        group = max(sizes) if max(sizes) < min(sizes) * GROUP_RATIO else min(sizes)
    out = []
    for kind, layers in buckets.items():
        n = _cdiv(len(layers), group)
        out += [(kind, tuple(layers[j::n])) for j in range(n)]
    return out


def layout(spec: ModelSpec, layers: range, tp: int, block_size: int, kv_bytes: float, *, version: str,
           model_dtype: str, options: dict) -> Layout:
    """One rank's layout: `layers` are its pipeline stage's decoder layers."""
    if version in _REMOVED and spec.model_type in _REMOVED[version]:
        raise VramkitError(f"vLLM removed the {spec.model_type} model class in "
                           f"{_REMOVED[version][spec.model_type]}; ask --vllm-version 0.19")
    kv_heads = max(1, spec.num_kv_heads // tp)
    per_token = (spec.kv_lora_rank + spec.qk_rope_head_dim) if spec.is_mla else 2 * kv_heads * spec.head_dim
    attn_1 = int(per_token * kv_bytes)
    groups = model_groups(spec)
    kinds = {k for k, _ in groups}
    mp, mode, mamba_bs = 0, "none", 0
    if "mamba" in kinds:
        if version == "0.6":
            raise VramkitError("vLLM 0.6 (V0) keeps Mamba state outside the KV pool; ask --vllm-version 0.19 or 0.28")
        mp, _ = mamba_page(spec, tp, version, model_dtype, options)
        mode = mamba_mode(spec, version, options)
        if kinds != {"mamba"}:
            align = KERNEL_ALIGNMENT if version == "0.19" else max(KERNEL_ALIGNMENT, block_size)
            if spec.is_mla:
                align = max(align, 64 if version == "0.19" else 128)
            if mode == "all":
                chunk = dict(spec.mixer_dims).get("chunk") or 256
                step = chunk * align // gcd(chunk, align)
                need = step * _cdiv(_cdiv(mp, attn_1), step)
            else:
                need = align * _cdiv(mp, align * attn_1)
            block_size = max(block_size, need)
        mamba_bs = block_size if mode in ("align", "all") else 0
    page = block_size * attn_1 if kinds != {"mamba"} else mp
    stage = set(layers)
    on_rank = tuple((kind, sum(i in stage for i in ls)) for kind, ls in groups)
    group = max((n for _, n in on_rank), default=0)
    return Layout(block_size=block_size, page=page, group=group, groups=on_rank, mamba_page=mp,
                  mamba_mode=mode, mamba_block_size=mamba_bs)


def in_flight_tokens(version: str, batched: int, pp: int) -> int:
    """Tokens scheduled but not yet freed that a sliding or chunked group must hold (0.28: async
    scheduling, on by default, keeps two batches in flight; PP one per stage on the V1 runner)."""
    if version != "0.28":
        return batched
    return batched * (2 if pp <= 1 else pp)


def blocks_per_request(spec: ModelSpec, lay: Layout, max_model_len: int, in_flight: int) -> int:
    """Blocks one max_model_len request takes from the pool, summed over the groups."""
    bs, n = lay.block_size, 0
    for kind, _ in lay.groups:
        if kind == "sliding":
            n += _cdiv(min(spec.sliding_window - 1 + in_flight, max_model_len), bs) + 1
        elif kind == "chunked":
            n += _cdiv(min(spec.attention_chunk + in_flight, max_model_len), bs)
        elif kind == "mamba":
            n += {"none": 1, "align": 2}.get(lay.mamba_mode) or _cdiv(max_model_len, lay.mamba_block_size)
        else:
            n += _cdiv(max_model_len, bs)
    return n


def printed_tokens(version: str, lay: Layout, blocks: int, need: int, max_model_len: int) -> int:
    """"GPU KV cache size: N tokens" as that version computes it."""
    if version == "0.28":
        return int(blocks / need * max_model_len) if need else 0
    smallest = lay.block_size
    if any(k == "mamba" for k, _ in lay.groups):
        smallest = min(smallest, lay.mamba_block_size or max_model_len)
    return blocks // max(len(lay.groups), 1) * smallest
