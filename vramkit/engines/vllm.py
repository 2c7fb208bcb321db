"""vLLM's memory plan: the KV pool it pre-allocates on each GPU, as its start-up profiler sizes it.

What vLLM's V1 engine does at start-up (vllm/v1/worker/gpu_worker.py `determine_available_memory`,
vllm/v1/core/kv_cache_utils.py), per GPU (one worker per tensor/pipeline-parallel rank):

    requested   = gpu_memory_utilization x total memory (as the driver reports it)
    available   = requested - weights - activation peak - non-torch memory - CUDA-graph estimate
    blocks      = available // (page bytes x layers per KV-cache group), the minimum over ranks
    fits        = the pool holds one request of max_model_len (else vLLM refuses to start)

- weights: this rank's share: linear layers split by TP (column/row parallel), the vocabulary
  embedding and the lm_head split by TP (vocab-parallel, padded to 64 rows), norms replicated; PP
  gives each stage its layers, the first the embedding, the last the head. Plus the rotary
  cos/sin cache buffer (max_position x rotary_dim in the model dtype).
- activation peak: the profile run pushes `max_num_batched_tokens` tokens through the model,
  then the sampler's dummy run on `min(max_num_seqs, max_num_batched_tokens)` rows of logits.
  With the 1,024-sequence defaults of H100-class GPUs the sampler's logits dominate.
- KV: one page is block_size tokens x KV heads on this rank (num_kv_heads // TP, at least 1:
  replicated when TP exceeds them) x head_dim x 2 (K and V; MLA: one latent) x dtype bytes.
  Sliding-window, chunked (Llama 4), full and Mamba (Mamba/Mamba-2/Gated DeltaNet/short-conv
  state) layers form KV-cache groups of equal size sharing one block pool; a hybrid's attention
  block grows until its page holds a Mamba page, and KV-shared layers hold none
  (`_get_kv_cache_groups_uniform_page_size`; the rules in vramkit.engines.vllm_kv).

Every number is bytes (int). Version profiles (`options["vllm_version"]`): "0.28" (current: the
CUDA-graph estimate is subtracted, the default since v0.21.0, and GPUs of 160 GiB and more get
16,384 batched tokens, since v0.28.0), "0.19" (V1 without either), "0.6" (the V0 engine: no
chunked prefill below 32K tokens, so the profile run is max_model_len tokens long).
Checked against published start-up logs in tests/test_engine_vllm.py.
"""
from __future__ import annotations

from functools import lru_cache

from ..dtypes import get_format
from ..errors import VramkitError
from ..model import SLIDING, ModelSpec, memo
from ..monotone import largest_true
from . import vllm_kv
from .base import DeviceMemory, EnginePlan, EngineRequest

GIB = 1 << 30
VERSIONS = ("0.28", "0.19", "0.6")
DEFAULT_VERSION = "0.28"
ENGINE_VERSION = {"0.28": "vllm 0.28 (v1 engine, CUDA-graph memory profiled)",
                  "0.19": "vllm 0.19 (v1 engine, CUDA-graph memory not profiled)",
                  "0.6": "vllm 0.6 (v0 engine)"}
DEFAULT_BLOCK_SIZE = 16  # --block-size: tokens per KV page (vllm/config/cache.py, CUDA default)
VOCAB_PADDING = 64  # vllm/model_executor/layers/vocab_parallel_embedding.py DEFAULT_VOCAB_PADDING_SIZE

# Non-torch memory that appears after the worker's initial snapshot (cuBLAS/cuDNN workspaces,
# NCCL and custom all-reduce buffers with TP), as vLLM 0.19 logs print it on H100 (llm-d-planner
# accuracy sweep: 0.24-0.27 GiB at TP=1, 2.06-2.21 GiB at TP=2/4, 0.07 GiB with PP only) and
# V0 0.6 on an RTX 3090 (0.35 GiB, vllm-project/vllm#10517). Measured constants, not derived.
NON_TORCH = {"tp1": GIB // 4, "tp": 207 * GIB // 100, "pp": 7 * GIB // 100, "v0": 35 * GIB // 100}

# The sampler's dummy run holds, per logit: the logits in the model dtype, their fp32 copy, the
# sorted fp32 logits, the fp32 softmax and a bool mask (top-k/top-p in PyTorch): 13 bytes + dtype.
# Reconstructed from the sampler's code path and checked on 20 vLLM 0.19 logs (1-2% on dense
# models); an estimate, not a line-by-line count.
SAMPLER_BYTES_PER_LOGIT = 13

# CUDA graphs: vLLM captures a few graphs at start-up and prints "Estimated <MODE> CUDA graph memory:
# X MiB first-capture + (n-1) x Y MiB per-graph". In the 0.19 logs of the fixture Y grows with the
# layers (piecewise graphs hold one piece per layer: about 0.19 MiB per layer; full graphs about
# 0.12 MiB), and the first capture holds the largest batch's activations (about 100 MiB piecewise,
# 250 MiB / TP full). An estimate: vLLM measures it on the GPU.
MIB = 1 << 20
CUDAGRAPH_PIECEWISE_PER_LAYER = 19 * MIB // 100
CUDAGRAPH_FULL_PER_LAYER = 12 * MIB // 100
CUDAGRAPH_FIRST = (100 * MIB, 250 * MIB)  # (piecewise, full at TP=1)


def _opt(options, key, default):
    value = options.get(key)
    return default if value is None else value


def _number(options, key, default, kind=int):
    """A numeric option as `kind`, or the one-line error naming the flag (never a ValueError)."""
    value = _opt(options, key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            value = kind(str(value).strip())
        except (TypeError, ValueError):
            raise VramkitError(f"--{key.replace('_', '-')}: expected a number, got {value!r}") from None
    if kind is int and (value != int(value)):
        raise VramkitError(f"--{key.replace('_', '-')}: expected a whole number, got {value!r}")
    if value != value or value in (float("inf"), float("-inf")):
        raise VramkitError(f"--{key.replace('_', '-')}: expected a finite number, got {value!r}")
    return kind(value)


def defaults(total_bytes: int, gpu_name: str = "", entrypoint: str = "serve", version: str = DEFAULT_VERSION,
             max_model_len: int = 4096) -> tuple[int, int]:
    """(max_num_batched_tokens, max_num_seqs) vLLM picks when the user gives neither.

    vllm/engine/arg_utils.py `_set_default_args`: GPUs with at least 70 GiB that are not A100s get
    8192 tokens / 1024 sequences for `vllm serve` and 16384 / 1024 for the `LLM` class; others
    2048 / 256 and 8192 / 256. The V0 engine (0.6) without chunked prefill profiles
    max(max_model_len, 2048) tokens and 256 sequences; above 32K it chunks at 512 tokens.
    """
    if version == "0.6":
        return (512 if max_model_len > 32768 else max(max_model_len, 2048)), 256
    big = total_bytes >= 70 * GIB and "a100" not in gpu_name.lower()
    if version != "0.19" and total_bytes >= 160 * GIB:  # B200/B300 tier, v0.28.0
        return 16384, 1024
    if entrypoint == "llm":
        return (16384, 1024) if big else (8192, 256)
    return (8192, 1024) if big else (2048, 256)


def capture_sizes(max_num_seqs: int) -> list[int]:
    """CUDA-graph capture sizes: 1, 2, 4, then steps of 8 to 256 and 16 beyond, up to
    min(2 x max_num_seqs, 512) (vllm/config/vllm.py)."""
    top = min(2 * max_num_seqs, 512)
    sizes = [1, 2, 4] + list(range(8, 256, 8)) + list(range(256, top + 1, 16))
    return [s for s in sizes if s <= top]


def cudagraph_counts(max_num_seqs: int) -> tuple[int, int]:
    """(piecewise, full) graphs captured with FULL_AND_PIECEWISE: every capture size piecewise, and
    full graphs for the decode sizes up to max_num_seqs."""
    sizes = capture_sizes(max_num_seqs)
    return len(sizes), len([s for s in sizes if s <= max_num_seqs])


def cudagraph_count(max_num_seqs: int) -> int:
    return sum(cudagraph_counts(max_num_seqs))


def cudagraph_bytes(layers: int, max_num_seqs: int, tp: int = 1) -> int:
    """vLLM's CUDA-graph memory estimate for one rank with `layers` decoder layers (an estimate)."""
    piecewise, full = cudagraph_counts(max_num_seqs)
    return (CUDAGRAPH_FIRST[0] + (piecewise - 1) * layers * CUDAGRAPH_PIECEWISE_PER_LAYER
            + CUDAGRAPH_FIRST[1] // tp + max(full - 1, 0) * layers * CUDAGRAPH_FULL_PER_LAYER)


# ---- the model split over ranks ---------------------------------------------------------------


def _padded_vocab(vocab: int, tp: int) -> int:
    """Rows of the vocab-parallel embedding on one rank: padded to 64, then split evenly."""
    padded = -(-vocab // VOCAB_PADDING) * VOCAB_PADDING
    return -(-padded // tp)


def _stage_layers(num_layers: int, pp: int, stage: int) -> range:
    """The decoder layers of pipeline stage `stage` (vllm/distributed/utils.py get_pp_indices:
    an even split, one more layer for each of the `remainder` stages before the last)."""
    base, rest = divmod(num_layers, pp)
    sizes = [base + (1 if pp - 1 - rest <= i < pp - 1 else 0) for i in range(pp)]
    start = sum(sizes[:stage])
    return range(start, start + sizes[stage])


@lru_cache(maxsize=256)
def _stage_params(spec: ModelSpec, pp: int, stage: int) -> int:
    """Parameters of the decoder layers of one pipeline stage (cached: fit asks many times)."""
    return sum(spec.layer_params(i) for i in _stage_layers(spec.num_layers, pp, stage))


def _weights(spec: ModelSpec, weights: str, tp: int, pp: int, stage: int) -> int:
    """Bytes of one rank's weights.

    The decoder layers take what `vramkit.inference.weights_bytes` gives them in `weights` (a
    quantized format keeps the embedding, the head and the norms in bf16, as vLLM's fp8, int8 and
    MXFP4 checkpoints do), shared among stages by parameters and split by TP. The vocab-parallel
    embedding and head are padded to 64 rows and split by TP.
    """
    from ..inference import weights_bytes

    parts = spec.breakdown()
    kept = parts["embedding"] + parts["lm_head"] + parts["position"] + spec.norm_params()
    layer_params = spec.params() - kept
    if weights == "checkpoint":  # the config's own quantization_config, as vLLM loads it (MXFP4 kept packed)
        el = 2
        layers_bytes = weights_bytes(spec, weights, engine="vllm") - int(kept * el)
    else:
        fmt = get_format(weights)
        el = (fmt.bits / 8) if fmt.bits >= 16 and fmt.kind == "float" else 2
        layers_bytes = weights_bytes(spec, weights) - int(kept * el) if fmt.bits < 16 or fmt.kind != "float" \
            else int(layer_params * el)
    decoder = _stage_params(spec, 1, 0)
    # What is neither a decoder layer nor kept (a vision tower and its projector) sits on stage 0.
    share = (_stage_params(spec, pp, stage) + (layer_params - decoder if stage == 0 else 0)) / layer_params
    w = int(layers_bytes * share) // tp
    rows = _padded_vocab(spec.vocab_size, tp)
    if stage == 0:
        w += int(rows * spec.hidden_size * el) + int(parts["position"] * el)
    if stage == pp - 1:
        w += int(spec.norm_params() * el)  # final norm
        if not spec.tie_word_embeddings or pp > 1:
            w += int(rows * spec.hidden_size * el)
    # Rotary cos/sin cache: max_position x rotary_dim, kept in the model dtype.
    if not spec.learned_positions:
        rotary = spec.qk_rope_head_dim if spec.is_mla else spec.head_dim
        w += int((spec.max_position_embeddings or 2048) * rotary * el)
    return w


def _activation(spec: ModelSpec, tokens: int, seqs: int, dtype_bytes: float, tp: int, last: bool,
                first_only: bool, version: str) -> int:
    """Peak bytes of the profile run on one rank (beyond weights).

    Forward pass of `tokens` tokens: the residual stream and a few hidden-wide copies plus the MLP's
    gate_up output and activation (3 x intermediate / TP), or the fused-MoE workspaces (kept for
    the whole run) for a routed MoE layer; a pipeline stage also holds the tensors it sends.
    Then, on the last stage, the sampler over `seqs` rows of the full vocabulary.
    """
    h = spec.hidden_size
    moe = 0
    if spec.is_moe:
        k, e = spec.experts_per_token, spec.moe_intermediate_size // tp
        # workspace13 (tokens, k, max(2e, h)) and workspace2 (tokens, k, e)
        moe = int(tokens * k * (max(2 * e, h) + e) * dtype_bytes)
    mlp = 3 * spec.intermediate_size // tp if not (spec.moe_layers and all(spec.moe_layers)) else 0
    if spec.shared_expert_size:
        mlp = max(mlp, 3 * spec.shared_expert_size // tp)
    attn = (spec.num_heads * spec.head_dim * 2 + 2 * spec.num_kv_heads * spec.head_dim) // tp
    hidden = 3 * h if version == "0.6" else (7 * h if first_only else 3 * h)
    forward = int(tokens * (hidden + max(mlp, attn)) * dtype_bytes) + moe
    if not last:
        return forward
    logits = seqs * spec.vocab_size * (SAMPLER_BYTES_PER_LOGIT + dtype_bytes)
    return max(forward, int(logits + tokens * h * dtype_bytes) + moe)


def _kv_layout(spec: ModelSpec, layers: range, tp: int, block_size: int, kv_bytes: float, *,
               version: str = DEFAULT_VERSION, model_dtype: str = "bf16", options: dict | None = None):
    """(page bytes, group size, groups as (kind, n_layers), the whole Layout) for one rank's layers
    (vramkit.engines.vllm_kv: attention, sliding, chunked and Mamba specs, the hybrid block size)."""
    lay = vllm_kv.layout(spec, layers, tp, block_size, kv_bytes, version=version, model_dtype=model_dtype,
                         options=options or {})
    return lay.page, lay.group, lay.groups, lay


def _blocks_per_request(spec: ModelSpec, lay, max_model_len: int, batched: int, version: str = DEFAULT_VERSION,
                        pp: int = 1) -> int:
    """Blocks one max_model_len request needs across the groups (kv_cache_utils `max_memory_usage_bytes`:
    a sliding group its window plus the tokens in flight plus one block, a chunked group its chunk plus
    those tokens, a Mamba group 1 or 2 blocks, a full group the whole length)."""
    return vllm_kv.blocks_per_request(spec, lay, max_model_len, vllm_kv.in_flight_tokens(version, batched, pp))


_HOST = DeviceMemory(name="host")  # vLLM keeps nothing planned in host memory (frozen: one for every plan)


def plan(request: EngineRequest) -> EnginePlan:
    """vLLM's start-up plan for `request` on `request.gpus` GPUs of kind `request.gpu`.

    The flags' reading and the ranks' weights, profile-run peak and KV layout do not depend on the
    request's context (the default --max-model-len, except under V0), so both are memoized per
    spec (a sweep or the fit solver asks thousands of times); per call only the blocks one request
    needs are counted.
    """
    spec = request.spec
    flags = _flags(request)
    max_model_len = flags["max_model_len"] or _number({}, "max_model_len", request.context)
    version, total = flags["version"], flags["total"]
    d_tokens, d_seqs = defaults(total, flags["name"], flags["entrypoint"], version, max_model_len)
    batched = flags["batched"] if flags["batched"] is not None else d_tokens
    seqs = flags["seqs"] if flags["seqs"] is not None else d_seqs
    if version == "0.6" and batched < max_model_len and max_model_len <= 32768:
        raise VramkitError(f"--max-num-batched-tokens {batched} is below --max-model-len {max_model_len} "
                           "without chunked prefill (vLLM 0.6 refuses it)")
    key = ("vllm_ranks", request.weights, request.kv_dtype, flags["key"], batched, seqs)
    setup = memo(spec, key, lambda: _ranks(spec, request, flags, batched, seqs))
    ranks, blocks, kv_dtype, non_torch, graphs, estimate, cudagraph, requested = setup
    tp, pp, gpu = flags["tp"], flags["pp"], request.gpu
    block_size = ranks[0]["layout"].block_size  # a hybrid's attention block grows to hold a Mamba page
    needs = [r["page"] * r["group"] * _blocks_per_request(spec, r["layout"], max_model_len, batched, version, pp)
             for r in ranks]
    # The devices' memory is the setup's, whatever the request's length: built once per setup (the
    # records are frozen, so plans may share them).
    devices = memo(spec, key + ("devices",), lambda: tuple(
        DeviceMemory(name=f"{gpu.id if gpu is not None else 'gpu'}:{r['stage'] * tp + t}",
                     weights_bytes=r["weights"], kv_cache_bytes=blocks * r["page"] * r["group"],
                     compute_bytes=r["activation"] + cudagraph, other_bytes=non_torch)
        for r in ranks for t in range(tp)))
    # vLLM refuses to start when a rank's pool is not positive or cannot hold one max_model_len
    # request (kv_cache_utils check_enough_kv_cache_memory compares bytes, per worker).
    # It also refuses a max_model_len beyond the model's (config/model.py, unless
    # VLLM_ALLOW_LONG_MAX_MODEL_LEN=1).
    too_long = bool(spec.max_position_embeddings) and max_model_len > spec.max_position_embeddings
    fits = (not too_long and all(0 < r["available"] and need <= r["available"] for r, need in zip(ranks, needs))) \
        if total else None
    groups = ranks[0]["groups"]
    per_block = ranks[0]["page"] * ranks[0]["group"]
    need_blocks = needs[0] // per_block if per_block else 0
    n_groups = len(groups)
    tokens = vllm_kv.printed_tokens(version, ranks[0]["layout"], blocks, need_blocks, max_model_len)
    concurrency = round(blocks / need_blocks, 2) if need_blocks else None
    lay = ranks[0]["layout"]
    notes = (
        "activation peak, non-torch memory and the CUDA-graph estimate are estimates (see vramkit.engines.vllm)",
        "KV pool in whole blocks, grouped as vLLM groups full, sliding, chunked and Mamba layers",
    )
    # Every entry but the request's length and its blocks is the setup's: built once per setup, then
    # copied (the lists afresh: a caller may change its plan's) with those two set.
    v = dict(memo(spec, key + ("extra",), lambda: {
        "version_profile": version, "gpu_memory_utilization": flags["util"], "total_memory_bytes": total,
        "requested_bytes": requested, "max_model_len": None,
        "max_num_batched_tokens": batched, "max_num_seqs": seqs, "block_size": block_size,
        "tensor_parallel_size": tp, "pipeline_parallel_size": pp, "enforce_eager": flags["eager"],
        "kv_cache_dtype": get_format(kv_dtype).name, "cudagraphs": graphs,
        "cudagraph_estimate_bytes": estimate, "cudagraph_bytes": cudagraph, "non_torch_bytes": non_torch,
        "block_bytes": per_block, "kv_cache_groups": n_groups, "blocks_per_request": None,
        "mamba_page_bytes": lay.mamba_page, "mamba_cache_mode": lay.mamba_mode, "group_kinds": None, "ranks": None}))
    v.update(max_model_len=max_model_len, blocks_per_request=need_blocks, group_kinds=[k for k, _ in groups],
             ranks=[dict(r, groups=[list(g) for g in r["groups"]]) for r in
                    memo(spec, key + ("json",), lambda: _ranks_json(ranks))])
    extra = {"vllm": v}
    return EnginePlan(engine="vllm", engine_version=ENGINE_VERSION[version], devices=devices,
                      host=_HOST, kv_tokens_capacity=tokens, kv_blocks=blocks,
                      max_concurrency=concurrency, fits=fits, notes=notes, extra=extra)


def _ranks_json(ranks) -> tuple[dict, ...]:
    """The ranks as the plan's JSON shows them (context-independent: built once per setup)."""
    return tuple({"stage": r["stage"], "weights_bytes": r["weights"], "activation_bytes": r["activation"],
                  "available_kv_bytes": r["available"], "page_bytes": r["page"], "group_size": r["group"],
                  "groups": r["groups"], "block_size": r["layout"].block_size,
                  "mamba_page_bytes": r["layout"].mamba_page, "mamba_cache_mode": r["layout"].mamba_mode,
                  "mamba_block_size": r["layout"].mamba_block_size} for r in ranks)


def _flags(request: EngineRequest) -> dict:
    """The request's vLLM flags read and checked (memoized per spec, flags and GPU: they do not
    change between the calls of a sweep); batched tokens and sequences are None when defaulted."""
    gpu = request.gpu  # the fields the flags read: hashing the whole GPU costs more than the rest
    key = ("vllm_flags", tuple(sorted(request.options.items())),
           None if gpu is None else (gpu.id, gpu.name, gpu.memory_bytes, gpu.driver_total_bytes))
    return memo(request.spec, key, lambda: _read_flags(request, key))


def _read_flags(request: EngineRequest, key) -> dict:
    from .. import hardware

    o = request.options
    spec = request.spec
    version = str(_opt(o, "vllm_version", DEFAULT_VERSION))
    if version not in VERSIONS:
        raise VramkitError(f"vllm_version must be one of {', '.join(VERSIONS)}, got {version!r}")
    util = _number(o, "gpu_memory_utilization", 0.9, float)
    if not 0 < util <= 1:
        raise VramkitError(f"--gpu-memory-utilization must be in (0, 1], got {util}")
    tp = _number(o, "tensor_parallel_size", 1)
    pp = _number(o, "pipeline_parallel_size", 1)
    if tp < 1 or pp < 1:
        raise VramkitError("--tensor-parallel-size and --pipeline-parallel-size must be positive")
    if spec.num_heads % tp:
        raise VramkitError(f"--tensor-parallel-size {tp} does not divide the model's "
                           f"{spec.num_heads} attention heads (vLLM refuses it)")
    if pp > spec.num_layers:
        raise VramkitError(f"--pipeline-parallel-size {pp} exceeds the model's {spec.num_layers} layers")
    max_model_len = _number(o, "max_model_len", 1) if _opt(o, "max_model_len", None) is not None else None
    gpu = request.gpu
    if gpu is not None:
        reported = getattr(hardware, "reported_bytes", None)
        total = _number(o, "total_memory_bytes", reported(gpu) if reported else gpu.memory_bytes)
        name = gpu.name
    else:
        total = _number(o, "total_memory_bytes", 0)
        name = ""
    batched = _number(o, "max_num_batched_tokens", 0) if _opt(o, "max_num_batched_tokens", None) is not None else None
    seqs = _number(o, "max_num_seqs", 0) if _opt(o, "max_num_seqs", None) is not None else None
    return dict(key=key, version=version, util=util, tp=tp, pp=pp, max_model_len=max_model_len,
                block_size=_number(o, "block_size", DEFAULT_BLOCK_SIZE), eager=bool(_opt(o, "enforce_eager", False)),
                total=total, name=name, entrypoint=str(_opt(o, "entrypoint", "serve")), batched=batched, seqs=seqs)


def _ranks(spec: ModelSpec, request: EngineRequest, flags: dict, batched: int, seqs: int):
    """Per pipeline stage: weights, profile-run peak, what is left for KV and its page layout;
    and the pool's blocks (the minimum over ranks), KV dtype, non-torch and CUDA-graph bytes."""
    version, tp, pp, total = flags["version"], flags["tp"], flags["pp"], flags["total"]
    weights = request.weights
    fmt = get_format("bf16" if weights == "checkpoint" else weights)  # a checkpoint computes in bf16
    dtype_bytes = (fmt.bits / 8) if fmt.bits >= 16 and fmt.kind == "float" else 2
    # kv_cache_dtype "auto" is the model's dtype (bf16 under quantized weights).
    model_dtype = fmt.name if fmt.name in ("fp16", "fp32") else "bf16"
    kv_dtype = request.kv_dtype or model_dtype
    kv_bytes = get_format(kv_dtype).bits / 8
    non_torch = NON_TORCH["v0"] if version == "0.6" else \
        NON_TORCH["tp"] if tp > 1 else NON_TORCH["pp"] if pp > 1 else NON_TORCH["tp1"]
    graphs = 0 if flags["eager"] or version == "0.6" else cudagraph_count(min(seqs, batched))
    stage_layers = -(-spec.num_layers // pp)
    estimate = cudagraph_bytes(stage_layers, min(seqs, batched), tp) if graphs else 0
    cudagraph = estimate if version == "0.28" else 0
    requested = int(total * flags["util"])
    ranks = []
    for stage in range(pp):
        layers = _stage_layers(spec.num_layers, pp, stage)
        w = _weights(spec, weights, tp, pp, stage)
        act = _activation(spec, batched, min(seqs, batched), dtype_bytes, tp, stage == pp - 1,
                          pp > 1 and stage < pp - 1, version)
        available = requested - w - act - non_torch - cudagraph
        page, group, groups, lay = _kv_layout(spec, layers, tp, flags["block_size"], kv_bytes, version=version,
                                              model_dtype=model_dtype, options=request.options)
        ranks.append(dict(stage=stage, weights=w, activation=act, available=available, page=page,
                          group=group, groups=groups, layout=lay,
                          blocks=max(available, 0) // (page * group) if page * group else 0))
    blocks = min(r["blocks"] for r in ranks)
    return tuple(ranks), blocks, kv_dtype, non_torch, graphs, estimate, cudagraph, requested


def longest_model_len(spec: ModelSpec, plan: EnginePlan, batch: int = 1, limit: int = 1 << 24) -> int:
    """The largest --max-model-len with which this plan's vLLM starts and holds `batch` such requests.

    The pool does not depend on max_model_len in the V1 engine (the profile run is
    max_num_batched_tokens long), so only the per-request block count changes; 0 when even one
    token does not fit. (For the V0 profile ask `plan` again per length: its profile run grows.)
    """
    v = plan.extra["vllm"]
    batched, blocks = v["max_num_batched_tokens"], plan.kv_blocks
    version, pp = v["version_profile"], v["pipeline_parallel_size"]
    lays = [vllm_kv.Layout(block_size=r["block_size"], page=r["page_bytes"], group=r["group_size"],
                           groups=tuple(tuple(g) for g in r["groups"]), mamba_page=r["mamba_page_bytes"],
                           mamba_mode=r["mamba_cache_mode"], mamba_block_size=r["mamba_block_size"])
            for r in v["ranks"]]
    limit = min(limit, spec.max_position_embeddings or limit)  # vLLM refuses longer

    def ok(n: int) -> bool:
        for r, lay in zip(v["ranks"], lays):
            need = _blocks_per_request(spec, lay, n, batched, version, pp)
            if r["available_kv_bytes"] <= 0 or r["page_bytes"] * r["group_size"] * need > r["available_kv_bytes"]:
                return False
        return blocks >= batch * _blocks_per_request(spec, lays[0], n, batched, version, pp)

    return largest_true(ok, limit)
