"""llama.cpp's memory plan: what each device and the host hold, the way llama.cpp allocates it.

Read from the source of llama.cpp b11312 (commit 0c1e570, the tree llama-cpp-python 0.3.36
vendors) and checked against what that build itself reports per buffer
(tests/reference/llama_cpp.json, written by tests/reference/generate_llama_cpp.py). Bytes
throughout. The buffers, and where llama.cpp puts them:

- **model**: each GGUF tensor in the buffer of the device its layer sits on. `-ngl N` puts the last
  N of the n_layer + 1 "layers" on GPUs, the output head counting as the last one (so `-ngl 1`
  offloads only the head); the token embedding always stays in host memory ("there is very little
  benefit to offloading the input layer"). A tied head is a second copy of token_embd on the
  head's device. A buffer pads each tensor to its alignment (CPU 32 bytes, CUDA 128) and CUDA pads
  a quantized tensor's last row to a multiple of 512 elements (ggml-cuda's MATRIX_ROW_PADDING).
- **KV cache**: n_ctx is padded to 256; each of n_seq_max sequences gets a stream of n_ctx/n_seq
  cells padded to 256 (one stream of n_ctx cells with a unified cache); per layer K and V rows of
  ggml_row_size(type, n_embd_k/v_gqa) bytes per cell, on the layer's device (on the host with
  --no-kv-offload). Sliding-window layers get pad(min(n_ctx_seq, n_swa + n_ubatch), 256) cells
  (full size with --swa-full); MLA (DeepSeek) caches only the compressed latent as K. Llama 4's
  chunked layers are llama.cpp's own: three of every four, a window of 8192 (the config's chunk and
  layer pattern do not reach the GGUF).
- **recurrent state** (hybrids: llama_memory_hybrid = the attention layers' KV above + a
  llama_memory_recurrent for the Mamba / Gated DeltaNet / short-conv layers): per mixer layer F32
  rows R = (d_conv - 1) x conv channels and S = d_state x d_inner, max(1, n_seq_max) of each, on
  the layer's device; counted in `kv_cache_bytes` (llama_get_memory_breakdown's "context"), apart
  in extra["recurrent_state_bytes"]. Checked byte for byte in tests/reference/llama_cpp_hybrid.json.
- **compute**: the scratch of the worst-case graph, one ubatch of min(n_ctx, n_ubatch) tokens all
  producing logits, reserved once. vramkit takes the widest moment of that graph (the f32 logits
  of the ubatch beside two rows of hidden state; without flash attention the f32 scores and mask
  of n_kv x ubatch per head; the MLP), which matches the CPU backend's reservation within a few
  percent (fragmentation of ggml-alloc is not modelled). CUDA runs the same graph; from ggml-cuda's
  source it adds, under flash attention with a K/V cache that is not f16, an f16 copy of K and V
  (n_kv rows) inside the attention node, and the host keeps a CUDA_Host buffer for the token
  embedding rows of the ubatch. Hybrids add the recurrent layer's moment (checked against
  ggml-alloc's trace: tests/reference/llama_cpp_hybrid.json, median 0.03%, nine cases in ten within 5%).
- **output buffer**: host memory for the logits of n_seq_max rows (it grows at run time when a
  batch asks for more outputs).
"""
from __future__ import annotations

from functools import lru_cache

from ..dtypes import _ggml_sizes
from ..errors import VramkitError, require_positive, unknown
from ..model import CHUNKED, CONV, FULL, HYBRID, LINEAR, NO_MIXER, SLIDING, ModelSpec, memo
from ..monotone import largest_true
from .base import DeviceMemory, EnginePlan, EngineRequest
from ..record import record

ENGINE = "llama.cpp"
BUILD = 11312
COMMIT = "0c1e570"
ENGINE_VERSION = f"llama.cpp b{BUILD} ({COMMIT})"

# llama.cpp's own defaults (common/common.h and llama_context_default_params).
DEFAULTS = {"ubatch_size": 512, "batch_size": 2048, "flash_attn": "auto", "cache_type_k": "f16",
            "cache_type_v": "f16", "split_mode": "layer", "no_kv_offload": False, "n_cpu_moe": 0}
CACHE_TYPES = ("f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "iq4_nl")
SPLIT_MODES = ("none", "layer", "row")
FLASH_ATTN = ("on", "off", "auto")
CPU_ALIGN, CUDA_ALIGN = 32, 128
MATRIX_ROW_PADDING = 512
N_CTX_PAD = 256
PLANNED_LAYER_TYPES = {FULL, SLIDING, CHUNKED, LINEAR, CONV, HYBRID, NO_MIXER}
RECURRENT_MIXERS = ("mamba", "mamba2", "gated_deltanet", "short_conv")
SCHED_MAX_COPIES = 4  # ggml_backend_sched's copies of the graph inputs under pipeline parallelism
# vramkit's KV dtype names for llama.cpp's cache types.
_KV_ALIASES = {"fp16": "f16", "float16": "f16", "fp32": "f32", "float32": "f32", "bfloat16": "bf16"}


def _pad(n: int, to: int) -> int:
    return -(-n // to) * to


def _row_bytes(type_name: str, n: int) -> int:
    """ggml_row_size: bytes of a row of n elements of a ggml type ('f16', 'q8_0', 'Q4_K', ...)."""
    block, size = _ggml_sizes()[type_name.upper()]
    if n % block:
        raise VramkitError(f"cache type {type_name}: a row of {n} elements is not a multiple of its block "
                           f"of {block} (llama.cpp refuses this cache type for this model)")
    return n // block * size


@record
class Settings:
    """The request in llama.cpp's own terms, after its defaults and paddings."""

    n_ctx: int          # total cells, padded to 256
    n_ctx_seq: int      # cells per stream
    n_seq: int
    n_stream: int
    n_batch: int
    n_ubatch: int
    flash_attn: bool
    type_k: str
    type_v: str
    kv_unified: bool
    swa_full: bool
    n_gpu_layers: int
    split_mode: str
    tensor_split: tuple[float, ...]
    no_kv_offload: bool
    n_cpu_moe: int
    n_devices: int
    cuda: bool          # the devices are CUDA GPUs (not Metal, not CPU-only)


def _cache_type(name) -> str:
    t = _KV_ALIASES.get(str(name).lower(), str(name).lower())
    if t not in CACHE_TYPES:
        raise unknown("llama.cpp cache type", name, CACHE_TYPES)
    return t


def settings(req: EngineRequest) -> Settings:
    """llama.cpp's effective settings for `req` (its defaults for every flag not given).

    `context` is tokens per sequence and `batch` the sequences served at once (llama-server's
    --parallel): n_ctx = context x batch, one KV stream per sequence unless `kv_unified`.
    The flags are read once per spec, flags and device (`_flags`); per call only the cells are counted.
    """
    f = _flags(req)
    context = require_positive("context", req.context)
    n_seq = require_positive("batch", req.batch)
    unified = f["kv_unified"]
    n_ctx = _pad(context * n_seq, N_CTX_PAD)
    n_ctx_seq = n_ctx if unified else _pad(n_ctx // n_seq, N_CTX_PAD)
    n_batch = min(n_ctx, f["batch_size"])
    n_ubatch = min(n_batch, f["ubatch_size"])
    return Settings(n_ctx=n_ctx, n_ctx_seq=n_ctx_seq, n_seq=n_seq, n_stream=1 if unified else n_seq,
                    n_batch=n_batch, n_ubatch=n_ubatch, flash_attn=f["flash"], type_k=f["type_k"],
                    type_v=f["type_v"], kv_unified=unified, swa_full=f["swa_full"], n_gpu_layers=f["ngl"],
                    split_mode=f["split"], tensor_split=f["ts"], no_kv_offload=f["no_kv_offload"],
                    n_cpu_moe=f["n_cpu_moe"], n_devices=f["n_dev"], cuda=f["cuda"])


def _flags(req: EngineRequest) -> dict:
    """`req`'s flags read and checked against its spec and device (memoized per spec: a sweep or
    the fit solver asks with the same flags thousands of times); options that are not plain values
    are read afresh, so their error is raised every time."""
    gpu = req.gpu
    key = ("llama_cpp_flags", tuple(sorted(req.options.items())), req.kv_dtype, req.gpus,
           None if gpu is None else (gpu.id, gpu.vendor))
    return memo(req.spec, key, lambda: _read_flags(req))


def _read_flags(req: EngineRequest) -> dict:
    o = {**DEFAULTS, **{k: v for k, v in dict(req.options).items() if v is not None}}
    spec = req.spec
    odd = sorted(set(spec.layer_types) - PLANNED_LAYER_TYPES)
    if odd:
        raise VramkitError(f"{spec.source or spec.model_type}: layer type '{odd[0]}' is not in vramkit's "
                           "llama.cpp plan yet (it plans attention, sliding-window, chunked, Mamba, Gated "
                           "DeltaNet and short-convolution layers)")
    if spec.mixer_layer_count and spec.mixer not in RECURRENT_MIXERS:
        raise VramkitError(f"{spec.source or spec.model_type}: llama.cpp's recurrent state of a '{spec.mixer}' "
                           "mixer is not in vramkit's llama.cpp plan yet")
    n_dev = 0 if req.gpu is None else require_positive("gpus", req.gpus)
    fa = str(o["flash_attn"]).lower()
    fa = {"1": "on", "true": "on", "0": "off", "false": "off"}.get(fa, fa)
    if fa not in FLASH_ATTN:
        raise unknown("--flash-attn value", o["flash_attn"], FLASH_ATTN)
    # auto: llama.cpp enables flash attention when every backend that runs attention supports it
    # for the model's head sizes; CPU, CUDA and Metal all do for the architectures vramkit reads.
    flash = fa != "off"
    type_k = _cache_type(req.kv_dtype if req.kv_dtype and "cache_type_k" not in req.options else o["cache_type_k"])
    type_v = _cache_type(req.kv_dtype if req.kv_dtype and "cache_type_v" not in req.options else o["cache_type_v"])
    if spec.is_mla and type_k != type_v:
        # MLA's V is a view of the K cache (llama_init_from_model refuses two types).
        raise VramkitError(f"--cache-type-k {type_k} --cache-type-v {type_v}: llama.cpp caches MLA's latent "
                           "once, as K, so both cache types must be the same")
    if not flash and type_v not in ("f16", "f32", "bf16"):
        raise VramkitError(f"--cache-type-v {type_v}: llama.cpp refuses a quantized V cache without flash "
                           "attention (use --flash-attn on)")
    split = str(o["split_mode"]).lower()
    if split not in SPLIT_MODES:
        raise unknown("--split-mode", o["split_mode"], SPLIT_MODES)
    ngl = o.get("n_gpu_layers")
    n_all = spec.num_layers + 1
    ngl = n_all if ngl is None or int(ngl) < 0 else min(int(ngl), n_all)
    if n_dev == 0:
        ngl = 0
    ts = o.get("tensor_split")
    if isinstance(ts, str):
        try:
            ts = [float(x) for x in ts.split(",") if x.strip()]
        except ValueError:
            raise VramkitError(f"--tensor-split: expected numbers such as 3,1, got '{ts}'") from None
    ts = tuple(float(x) for x in (ts or ()))
    if ts and (len(ts) > max(n_dev, 1) or any(x < 0 for x in ts) or not any(ts)):
        raise VramkitError(f"--tensor-split {','.join(map(str, ts))}: expected up to {n_dev} non-negative "
                           "proportions, not all zero (one per --gpus device)")
    vendor = getattr(req.gpu, "vendor", None)
    return dict(kv_unified=bool(o.get("kv_unified", False)), batch_size=require_positive("batch_size", o["batch_size"]),
                ubatch_size=require_positive("ubatch_size", o["ubatch_size"]), flash=flash, type_k=type_k,
                type_v=type_v, swa_full=bool(o.get("swa_full", False)), ngl=ngl, split=split, ts=ts,
                no_kv_offload=bool(o["no_kv_offload"]), n_cpu_moe=require_positive("n_cpu_moe", int(o["n_cpu_moe"]),
                                                                                    allow_zero=True),
                n_dev=n_dev, cuda=n_dev > 0 and vendor not in ("apple",))


# ---- where each layer goes -------------------------------------------------------------------

@lru_cache(maxsize=256)
def layer_devices(n_layer: int, s: Settings) -> tuple[int, ...]:
    """The device (0..n_devices-1, or -1 for the host) of each of the n_layer + 1 layers, the
    output head last, as llama_model::load_tensors assigns them."""
    n_all = n_layer + 1
    if s.n_devices == 0 or s.n_gpu_layers == 0:
        return (-1,) * n_all
    n_dev = 1 if s.split_mode == "none" else s.n_devices
    weights = list(s.tensor_split[:n_dev]) + [0.0] * (n_dev - len(s.tensor_split[:n_dev])) \
        if s.tensor_split and s.split_mode != "none" else [1.0] * n_dev  # equal free memory: equal shares
    total, cum = sum(weights), []
    acc = 0.0
    for w in weights:
        acc += w
        cum.append(acc / total)
    start = max(n_all - s.n_gpu_layers, 0)
    act = min(s.n_gpu_layers, n_all)
    out = []
    for il in range(n_all):
        if il < start or il - start >= act:
            out.append(-1)
            continue
        x = (il - start) / act
        out.append(next(d for d, c in enumerate(cum) if c > x) if x < cum[-1] else n_dev - 1)
    return tuple(out)


# ---- weights ---------------------------------------------------------------------------------

def _tensor_layer(name: str, n_layer: int) -> int:
    """The layer a GGUF tensor belongs to: blk.L -> L, the head and final norm -> n_layer, the
    token embedding -> -1 (always the host)."""
    if name.startswith("blk."):
        return int(name.split(".")[1])
    if name.startswith(("output", "output_norm")):
        return n_layer
    return -1


def _alloc_bytes(t, cuda: bool, nbytes: int | None = None) -> int:
    """Bytes one tensor takes in a buffer: CUDA pads a quantized tensor's last row to 512 elements.
    (`nbytes`: t.nbytes when the caller has it already.)"""
    n = t.nbytes if nbytes is None else nbytes
    if cuda and t.type not in ("F32", "F16", "BF16") and t.shape[0] % MATRIX_ROW_PADDING:
        n += _row_bytes(t.type, MATRIX_ROW_PADDING - t.shape[0] % MATRIX_ROW_PADDING)
    return _pad(n, CUDA_ALIGN if cuda else CPU_ALIGN)


@lru_cache(maxsize=64)
def _tensor_table(spec: ModelSpec, weights: str) -> tuple[tuple[str, int, int, int, bool], ...]:
    """(name, layer, bytes in a CPU buffer, bytes in a CUDA buffer, is a matrix) of every tensor."""
    from ..dtypes import gguf_tensors

    return tuple((t.name, _tensor_layer(t.name, spec.num_layers), _alloc_bytes(t, False, n), _alloc_bytes(t, True, n),
                  len(t.shape) >= 2) for t in gguf_tensors(spec, weights) for n in (t.nbytes,))


@lru_cache(maxsize=64)
def _layer_sums(spec: ModelSpec, weights: str) -> tuple[tuple[int, tuple[int, int, int, int]], ...]:
    """((layer, (CPU bytes, CUDA bytes, CPU bytes of its experts, CUDA bytes of its experts)), ...)
    per layer of the tensor table (-1: the token embedding's group, always on the host)."""
    sums: dict[int, list[int]] = {}
    for name, il, cpu_b, cuda_b, _ in _tensor_table(spec, weights):
        row = sums.setdefault(il, [0, 0, 0, 0])
        at = 2 if "_exps" in name else 0
        row[at] += cpu_b
        row[at + 1] += cuda_b
    return tuple((il, tuple(row)) for il, row in sums.items())


def weights_by_device(spec: ModelSpec, weights: str, s: Settings) -> tuple[list[int], int]:
    """(bytes per device, bytes on the host) of the model's tensors."""
    devs = layer_devices(spec.num_layers, s)
    per = [0] * max(s.n_devices, 0)
    host = 0
    head_dev = devs[spec.num_layers]
    shares = None
    if s.split_mode == "row" and s.n_devices > 1:
        shares = list(s.tensor_split) or [1.0] * s.n_devices
        shares += [0.0] * (s.n_devices - len(shares))
    else:  # one destination per layer: the layers' sums (`_layer_sums`) instead of every tensor
        for il, (cpu_b, cuda_b, cpu_exps, cuda_exps) in _layer_sums(spec, weights):
            d = -1 if il < 0 else devs[il]
            if d < 0:
                host += cpu_b + cpu_exps
                continue
            per[d] += cuda_b if s.cuda else cpu_b
            if il < s.n_cpu_moe:  # --n-cpu-moe: the experts of the first N layers stay in host memory
                host += cpu_exps
            else:
                per[d] += cuda_exps if s.cuda else cpu_exps
        if spec.tie_word_embeddings and head_dev >= 0:  # the tied head: a copy of token_embd
            per[head_dev] += sum((cuda_b if s.cuda else cpu_b) for name, _, cpu_b, cuda_b, _ in
                                 _tensor_table(spec, weights) if name == "token_embd.weight")
        return per, host
    for name, il, cpu_b, cuda_b, matrix in _tensor_table(spec, weights):
        dev_b = cuda_b if s.cuda else cpu_b
        d = -1 if il < 0 else devs[il]
        if d >= 0 and il < s.n_cpu_moe and "_exps" in name:
            d = -1  # --n-cpu-moe: the experts of the first N layers stay in host memory
        if d >= 0 and shares and il < spec.num_layers and matrix:
            # Row split: each matrix's rows are divided among the devices by --tensor-split.
            for i, w in enumerate(shares):
                per[i] += _pad(int(dev_b * w / sum(shares)), CUDA_ALIGN)
        elif d >= 0:
            per[d] += dev_b
        else:
            host += cpu_b
        if name == "token_embd.weight" and spec.tie_word_embeddings and head_dev >= 0:
            per[head_dev] += dev_b  # the tied head: a copy of token_embd
    return per, host


# ---- KV cache --------------------------------------------------------------------------------

LLAMA4_CHUNK, LLAMA4_PATTERN = 8192, 4  # src/models/llama4.cpp: n_swa = 8192, 3 chunked then 1 full


def swa_layers(spec: ModelSpec) -> tuple[tuple[bool, ...], int]:
    """(per layer: is it a sliding-window / chunked layer in llama.cpp, the window n_swa).

    llama.cpp reads Llama 4's chunking from no config field: its loader sets a chunk of 8192 tokens
    on three layers of every four (the layer pattern and attention_chunk_size of the config are
    not in the GGUF the converter writes), cached as a window of the chunk (llama_kv_cache_iswa).
    """
    if spec.model_type == "llama4_text" and CHUNKED in spec.layer_types:
        return tuple(il % LLAMA4_PATTERN < LLAMA4_PATTERN - 1 for il in range(spec.num_layers)), LLAMA4_CHUNK
    if spec.layer_types and spec.sliding_window:
        return tuple(t == SLIDING for t in spec.layer_types), spec.sliding_window
    return (False,) * spec.num_layers, 0


def kv_cells(spec: ModelSpec, layer: int, s: Settings) -> int:
    """Cells per stream llama.cpp gives `layer`'s cache."""
    swa, n_swa = memo(spec, "llama_cpp_swa", lambda: swa_layers(spec))
    if swa[layer] and not s.swa_full:
        n_swa = n_swa * (s.n_seq if s.kv_unified else 1)
        return _pad(min(s.n_ctx_seq, n_swa + s.n_ubatch), N_CTX_PAD)
    return s.n_ctx_seq


def recurrent_state_bytes(spec: ModelSpec, s: Settings) -> tuple[int, int]:
    """(R bytes, S bytes) of one recurrent layer: llama_memory_recurrent's cache_r_l / cache_s_l,
    F32 rows of n_embd_r() and n_embd_s() for max(1, n_seq_max) sequences.

    R is the conv window without its oldest column, (d_conv - 1) x channels (Mamba: d_inner + 2 x
    groups x d_state; Gated DeltaNet: the Q, K and V widths; LFM2: hidden x (L_cache - 1)); S the
    SSM / delta-rule state, d_state x d_inner (none for LFM2). transformers keeps all d_conv columns.
    """
    rows = max(1, s.n_seq)
    conv = next((n for name, n, _ in spec.mixer_state if name == "conv_states"), 0)
    k = spec.mixer_conv_kernel
    r = conv // k * (k - 1) if k else 0
    st = sum(n for name, n, _ in spec.mixer_state if name == "recurrent_states")
    return 4 * r * rows, 4 * st * rows


def kv_layer_bytes(spec: ModelSpec, layer: int, s: Settings) -> int:
    """K and V bytes of one layer's cache (all streams)."""
    cells = kv_cells(spec, layer, s) * s.n_stream
    if spec.is_mla:  # the compressed latent and the shared rope key, K only
        return cells * _row_bytes(s.type_k, spec.kv_lora_rank + spec.qk_rope_head_dim)
    k = spec.num_kv_heads * spec.head_dim
    v = spec.num_kv_heads * spec.value_head_dim
    return cells * (_row_bytes(s.type_k, k) + _row_bytes(s.type_v, v))


def _recurrent_total(spec: ModelSpec, s: Settings) -> int:
    """Bytes of llama_memory_recurrent: R and S of every mixer layer."""
    return spec.mixer_layer_count * sum(recurrent_state_bytes(spec, s)) if spec.mixer_state else 0


def kv_total_bytes(spec: ModelSpec, s: Settings) -> int:
    """`kv_by_device` summed over the devices and the host (KV and recurrent states), asking one
    layer of each kind instead of every layer: layers of one kind hold caches of one size."""
    rs = sum(recurrent_state_bytes(spec, s)) if spec.mixer_state else 0
    return sum(n * ((kv_layer_bytes(spec, il, s) if spec.has_attention(il) else 0)
                    + (rs if spec.has_mixer(il) else 0)) for il, n in _layer_kinds(spec))


def compute_bytes(spec: ModelSpec, s: Settings) -> int:
    """The compute buffer of one device running every layer: the widest phase of the graph."""
    return max(compute_phases(spec, s, cuda=s.cuda).values())


def kv_by_device(spec: ModelSpec, s: Settings) -> tuple[list[int], int]:
    """(KV and recurrent-state bytes per device, on the host): llama_memory_hybrid holds an
    attention cache for the attention layers and a recurrent one for the mixer layers (Falcon-H1:
    both in every layer; Nemotron-H's MLP-only layers: neither)."""
    devs = layer_devices(spec.num_layers, s)
    per = [0] * max(s.n_devices, 0)
    host = 0
    rs = sum(recurrent_state_bytes(spec, s)) if spec.mixer_state else 0
    # Layers of one kind hold caches of one size (`_layer_kinds`): each kind's bytes asked once.
    kind_of = memo(spec, "llama_cpp_kind_of_layer", lambda: _kind_of_layer(spec))
    by_kind = {first: (kv_layer_bytes(spec, first, s) if spec.has_attention(first) else 0)
               + (rs if spec.has_mixer(first) else 0) for first, _ in _layer_kinds(spec)}
    for il in range(spec.num_layers):
        b = by_kind[kind_of[il]]
        if devs[il] >= 0 and not s.no_kv_offload:
            per[devs[il]] += b
        else:
            host += b
    return per, host


# ---- compute buffers -------------------------------------------------------------------------

def _n_kv_max(spec: ModelSpec, s: Settings) -> tuple[int, list[int]]:
    """(the largest cache any layer attends over, the distinct cache sizes: one mask each)."""
    sizes = sorted({kv_cells(spec, il, s) for il, _ in _layer_kinds(spec) if spec.has_attention(il)})
    swa = memo(spec, "llama_cpp_swa", lambda: swa_layers(spec))[0]
    if len(sizes) == 1 and any(swa) and not all(swa):
        # llama_kv_cache_iswa keeps two caches, each with its mask, also when both are as large
        sizes = sizes * 2
    return (max(sizes), sizes) if sizes else (0, [])


def _layer_kinds(spec: ModelSpec) -> tuple[tuple[int, int], ...]:
    """((first layer of a kind, layers of that kind), ...), a kind being what sizes a layer's caches
    (sliding or chunked, attention, mixer): the sums over layers then ask one of each (memoized)."""
    def kinds() -> tuple[tuple[int, int], ...]:
        swa = swa_layers(spec)[0]
        seen: dict = {}
        for il in range(spec.num_layers):
            first, n = seen.get(key := (swa[il], spec.has_attention(il), spec.has_mixer(il)), (il, 0))
            seen[key] = (first, n + 1)
        return tuple(seen.values())
    return memo(spec, "llama_cpp_layer_kinds", kinds)


def _kind_of_layer(spec: ModelSpec) -> tuple[int, ...]:
    """Per layer: the first layer of its kind (`_layer_kinds`' key)."""
    swa = swa_layers(spec)[0]
    first: dict = {}
    return tuple(first.setdefault((swa[il], spec.has_attention(il), spec.has_mixer(il)), il)
                 for il in range(spec.num_layers))


def compute_phases(spec: ModelSpec, s: Settings, cuda: bool = False) -> dict[str, int]:
    """The widest moments of the worst-case graph (one ubatch, every token's logits), in bytes.

    Measured on the CPU backend (tests/reference/llama_cpp.json): the logits phase is
    4 x ubatch x (vocab + 2 hidden + 1) bytes exactly; without flash attention the attention
    phase is the f32 scores n_kv x ubatch x heads, an f32 mask per cache size, and the layer's
    rows (4 hidden + Q + 2 KV widths). Flash attention keeps no scores (its f16 mask only).
    """
    ub = s.n_ubatch
    if ub % s.n_seq:
        ub = _pad(ub, s.n_seq)  # graph_reserve rounds the ubatch to a multiple of the sequences
    # The widths below depend on the spec alone: worked out once per spec (`_graph_widths`).
    h, q, kv, rows, logit_rows, mla, ffn_width, n_rows, mixers, attention_layers = memo(
        spec, "llama_cpp_graph_widths", lambda: _graph_widths(spec))
    f4 = 4
    logits = f4 * ub * logit_rows
    if mla:
        # DeepSeek's graph leaves two to four hidden-size rows (and 18 floats) alive or unused
        # beside the logits, by setting (deepseek-mla in the fixture); three is the middle.
        logits += f4 * ub * (3 * h + 18)
    elif not s.flash_attn and not cuda:
        # The CPU graph also computes the embedding rows; ggml-alloc then leaves one hidden-size
        # hole before the logits (seen in every CPU case without flash attention). A published CUDA
        # log (Llama 3.1 8B on an RTX 3090: CUDA0 266.50 MiB at ubatch 512, tests/test_engine_llama_cpp.py)
        # has no such hole: there the rows come from the host.
        logits += f4 * ub * h
    n_kv, sizes = _n_kv_max(spec, s)
    n_kv_stream = n_kv  # per stream: ubatch/n_stream tokens against n_kv cells, n_stream times
    heads = spec.num_heads
    if s.flash_attn:
        attention = f4 * ub * rows + 2 * ub * sum(sizes)
        if cuda and (s.type_k != "f16" or s.type_v != "f16"):
            # ggml-cuda's flash-attention kernels (tile/MMA, the prompt path) read f16 K and V: a
            # K or V cache of another type is converted into scratch inside the attention node.
            kw = spec.num_kv_heads * spec.head_dim if not spec.is_mla else kv
            vw = spec.num_kv_heads * spec.value_head_dim if not spec.is_mla else 0
            attention += 2 * n_kv * s.n_stream * ((kw if s.type_k != "f16" else 0) + (vw if s.type_v != "f16" else 0))
    else:
        attention = f4 * ub * (n_kv_stream * heads + sum(sizes) + rows)
    # The MLP moment: gate, up and their product (3 x width) beside 4 rows of hidden state, while
    # the masks (graph inputs, alive until the last layer's attention) still hold their bytes.
    masks = (2 if s.flash_attn else 4) * ub * sum(sizes)
    ffn = f4 * ub * (3 * ffn_width + n_rows * h + 7) + masks
    if not s.flash_attn:
        ffn += f4 * ub * h
    out = {"logits": logits, "attention": attention, "ffn": ffn}
    if mixers:
        out["mixer"] = _mixer_phase(spec, s, ub) + masks
        if not s.flash_attn and attention_layers:
            # Without flash attention V is stored transposed, scattered by an I64 index per element
            # (attn_inp_v_idxs, a graph input alive through every layer): n_embd_v_gqa x ubatch.
            out["mixer"] += 8 * ub * spec.num_kv_heads * spec.value_head_dim * len(sizes)
    if not attention_layers:
        out["attention"] = 0
    return out


def _graph_widths(spec: ModelSpec) -> tuple:
    """What `compute_phases` reads from the spec: (hidden, Q width, K+V width, the attention
    phase's rows, the logits phase's rows, MLA, the widest MLP, hidden rows beside it, mixer
    layers, attention layers)."""
    h = spec.hidden_size
    q = spec.num_heads * spec.head_dim
    kv = spec.num_kv_heads * (spec.head_dim + spec.value_head_dim) if not spec.is_mla else \
        (spec.kv_lora_rank + spec.qk_rope_head_dim)
    if spec.is_mla:
        # The absorbed form: Q of the heads, Q projected into the latent (latent + rope per head)
        # and its rope part, beside 4 rows of hidden state (measured: deepseek-mla in the fixture).
        rows = 4 * h + spec.num_heads * (spec.kv_lora_rank + spec.qk_rope_head_dim) + 2 * q + 5
    else:
        rows = 4 * h + q + kv + 5
        if spec.attention_gate or (spec.is_moe and spec.shared_expert_size):
            # Measured (qwen3_next, granitemoehybrid, llama4_text in llama_cpp_hybrid.json): one more
            # hidden-size row below the scores, the attention gate's half of Q (Q and gate come out of
            # one product) or the routed experts' output waiting for the shared expert's.
            rows += h
    # The widest MLP of any layer: where dense and MoE layers interleave (Llama 4, Jamba) the dense
    # layers' MLP may be the wider one.
    widths = []
    if spec.is_moe:
        widths.append(spec.experts_per_token * spec.moe_intermediate_size)
    if not spec.is_moe or not all(spec.moe_layers):
        widths.append(spec.intermediate_size)
    # In a recurrent layer's MLP (Jamba, LFM2, Bamba...) no attention output is kept beside it: one
    # hidden-size row fewer (measured in llama_cpp_hybrid.json); Nemotron-H's MLPs are layers of their own.
    n_rows = 3 if spec.mixer_layer_count and not spec.mlp_layers else 4
    return (h, q, kv, rows, spec.vocab_size + 2 * h + 1, spec.is_mla, max(widths), n_rows,
            spec.mixer_layer_count, spec.attention_layer_count)


def _mixer_phase(spec: ModelSpec, s: Settings, ub: int) -> int:
    """The widest moment of a recurrent layer, read from llama.cpp's graph builders
    (src/models/mamba-base.cpp and friends) and ggml-alloc's allocation trace: the layer's input, its
    in-projection and the conv window, the conv output and its activation, the scan's output beside
    the gathered states (f32 rows of the ubatch), and, in Falcon-H1's parallel layer, the attention
    output waiting for the mixer's; for a later Mamba-2 layer the copy of z above the holes the
    previous layer leaves. Within 5% of the CPU backend's reservation but for a hole an earlier layer
    leaves or not (Bamba -7%, tests/reference/llama_cpp_hybrid.json)."""
    d = dict(spec.mixer_dims)
    h, f4 = spec.hidden_size, 4
    state = sum(n for name, n, _ in spec.mixer_state if name == "recurrent_states") * max(1, s.n_seq)
    if spec.mixer == "mamba2":
        inner, g, st, nh = d["d_inner"], d["n_group"], d["d_state"], d["n_head"]
        conv = inner + 2 * g * st
        proj = 2 * inner + 2 * g * st + nh
        rows = h + proj + 2 * conv + 2 * inner + 4 * nh
        # A later Mamba-2 layer's widest moment is the contiguous copy of z: above the embedding
        # rows, the previous layer's y and z (2 x d_inner, freed but not reusable for the larger
        # in-projection), the residual, zxBCdt, the conv output and z; the states sit in holes.
        later = 2 * h + proj + conv + 3 * inner
        if later * ub > rows * ub + state:
            rows, state = later, 0
    elif spec.mixer == "mamba":
        rows = h + 7 * d["d_inner"]
    elif spec.mixer == "gated_deltanet":
        k, v, vh = d["k_heads"] * d["k_dim"], d["v_heads"] * d["v_dim"], d["v_heads"]
        rows = h + 3 * (2 * k + v) + 3 * v + 2 * vh
    else:  # short convolution: in_proj (B, C, x), the conv window and output, out_proj
        rows = 3 * h + 3 * h + h
    if HYBRID in spec.layer_types:
        rows += h
    return f4 * ub * rows + f4 * state


OP_OFFLOAD_MIN_BATCH = 32  # ggml-cuda: a host op with a batch this large runs on the GPU (GGML_OP_OFFLOAD_MIN_BATCH)


@lru_cache(maxsize=64)
def _layer_weights(spec: ModelSpec, weights: str) -> tuple[int, ...]:
    """Bytes (in a CUDA buffer) of each layer's tensors, the head (output.weight or the tied
    token_embd it reads) last."""
    out = [0] * (spec.num_layers + 1)
    for name, il, _, cuda_b, _ in _tensor_table(spec, weights):
        if il >= 0:
            out[il] += cuda_b
        if name == "token_embd.weight" and spec.tie_word_embeddings:
            out[spec.num_layers] += cuda_b
    return tuple(out)


def compute_by_device(spec: ModelSpec, s: Settings, weights: str | None = None) -> tuple[list[int], int]:
    """(compute buffer per device, the host's compute buffer).

    With layers left in host memory, ggml's scheduler still runs their matrix products on the
    first GPU when the ubatch has at least 32 rows (op offload): the layer's weights are copied into
    that GPU's compute buffer, one layer at a time, and so is the head with its logits when the head
    stays on the host.
    """
    ph = compute_phases(spec, s, cuda=s.cuda)
    layer_peak = max(ph["attention"], ph["ffn"], ph.get("mixer", 0))
    devs = layer_devices(spec.num_layers, s)
    per = [0] * max(s.n_devices, 0)
    ub = s.n_ubatch
    if s.n_devices == 0:
        return per, max(layer_peak, ph["logits"])
    head = devs[spec.num_layers]
    on_host = [d for d in devs[:-1] if d < 0]
    for d in range(s.n_devices):
        if d in devs[:-1] or d == head:
            per[d] = ph["logits"] if d == head else 0
            if d in devs[:-1]:
                per[d] = max(per[d], layer_peak if not s.no_kv_offload else ph["ffn"])
    if s.split_mode == "row":  # the main device gathers and computes; the others hold their slices
        per = [max(per)] + [0] * (s.n_devices - 1)
    pipeline = (s.n_devices > 1 and s.n_gpu_layers > spec.num_layers and s.split_mode == "layer"
                and not s.no_kv_offload and s.n_cpu_moe == 0)
    if pipeline:
        n_kv, sizes = _n_kv_max(spec, s)
        inputs = 4 * ub * spec.hidden_size + (2 if s.flash_attn else 4) * ub * sum(sizes)
        per = [p + (SCHED_MAX_COPIES - 1) * inputs if p else 0 for p in per]
    # The host: ggml's scheduler keeps every graph input on the CPU backend (tokens, positions,
    # output ids, one attention mask per cache size: f16 with flash attention, f32 without), and
    # the token embedding rows of the ubatch (get_rows runs where token_embd lives); n_copies of
    # them under pipeline parallelism. Then the layers left on the CPU, attention when the KV
    # cache stays in host memory, the head if it does.
    n_kv, sizes = _n_kv_max(spec, s)
    inputs = 4 * ub * (spec.hidden_size + 3) + (2 if s.flash_attn else 4) * ub * sum(sizes)
    host = inputs * (SCHED_MAX_COPIES if pipeline else 1)
    if on_host:
        host = max(host, layer_peak)
    if s.no_kv_offload:
        host = max(host, ph["attention"])
    if head < 0:
        host = max(host, ph["logits"])
    if weights is not None and s.cuda and ub >= OP_OFFLOAD_MIN_BATCH and (on_host or head < 0):
        lw = _layer_weights(spec, weights)
        host_layers = [lw[il] for il, d in enumerate(devs[:-1]) if d < 0]
        if host_layers:
            per[0] = max(per[0], layer_peak + max(host_layers))
        if head < 0:
            per[0] = max(per[0], ph["logits"] + lw[-1])
    return per, host


def output_buffer_bytes(spec: ModelSpec, s: Settings) -> int:
    """llama_context's output buffer, reserved at start: f32 logits of n_seq_max rows."""
    return 4 * spec.vocab_size * s.n_seq


# ---- the plan --------------------------------------------------------------------------------

def plan(request: EngineRequest) -> EnginePlan:
    """llama.cpp's plan for `request`: per device weights / KV / compute, the host's share."""
    from ..hardware import runtime_context_bytes

    spec = request.spec
    s = settings(request)
    w_dev, w_host = weights_by_device(spec, request.weights, s)
    kv_dev, kv_host = kv_by_device(spec, s)
    c_dev, c_host = compute_by_device(spec, s, request.weights)
    out_buf = output_buffer_bytes(spec, s)
    gpu = request.gpu
    runtime = runtime_context_bytes(gpu) if gpu is not None else 0
    # ROCm runs ggml-cuda's code through HIP (same buffers and padding); Metal has its own backend.
    label = {"apple": "Metal", "amd": "ROCm"}.get(getattr(gpu, "vendor", ""), "CUDA")
    devices = tuple(
        DeviceMemory(name=f"{label}{i} ({gpu.id})", weights_bytes=w_dev[i], kv_cache_bytes=kv_dev[i],
                     compute_bytes=c_dev[i], other_bytes=runtime if (w_dev[i] or kv_dev[i] or c_dev[i]) else 0)
        for i in range(s.n_devices))
    host = DeviceMemory(name="Host", weights_bytes=w_host, kv_cache_bytes=kv_host, compute_bytes=c_host + out_buf)
    fits = None
    if gpu is not None:
        usable = gpu.usable_bytes()
        fits = all(d.total_bytes <= usable for d in devices)
    notes = ["compute buffers: the widest moment of llama.cpp's worst-case graph, within a few percent "
             "of the CPU backend's reservation (ggml-alloc fragmentation not modelled)"]
    if s.cuda:
        notes.append("CUDA compute and weight padding read from ggml-cuda's source; the reference build is CPU-only")
        notes.append("other_bytes: the CUDA context from published measurements (vramkit.hardware)")
    if s.split_mode == "row" and s.n_devices > 1:
        notes.append("row split: the non-main devices' small compute buffers are not modelled")
    if s.cuda and s.n_gpu_layers <= spec.num_layers:
        notes.append("partial offload: host layers' matrix products run on the first GPU (op offload), "
                     "their weights copied into its compute buffer one layer at a time (an estimate)")
    n_layer = spec.num_layers
    devs = layer_devices(n_layer, s)
    extra = {"n_ctx": s.n_ctx, "n_ctx_seq": s.n_ctx_seq, "n_ubatch": s.n_ubatch, "n_batch": s.n_batch,
             "flash_attn": s.flash_attn, "cache_type_k": s.type_k, "cache_type_v": s.type_v,
             "n_gpu_layers": s.n_gpu_layers, "split_mode": s.split_mode,
             "layers_per_device": [sum(1 for d in devs[:n_layer] if d == i) for i in range(s.n_devices)],
             "layers_on_host": sum(1 for d in devs[:n_layer] if d < 0),
             "output_on_device": devs[n_layer] >= 0, "output_buffer_bytes": out_buf,
             "recurrent_state_bytes": _recurrent_total(spec, s),
             "compute_moment": max(phases := compute_phases(spec, s, cuda=s.cuda), key=phases.get)}
    return EnginePlan(engine=ENGINE, engine_version=ENGINE_VERSION, devices=devices, host=host,
                      kv_tokens_capacity=s.n_ctx_seq * s.n_stream, fits=fits, notes=tuple(notes), extra=extra)


def max_gpu_layers(spec: ModelSpec, request: EngineRequest, budget_bytes: int) -> int:
    """The largest -ngl (0..n_layer + 1) whose every device stays within `budget_bytes`."""
    def fits(n: int) -> bool:  # device memory grows with -ngl
        p = plan(EngineRequest(**{**request.__dict__, "options": {**dict(request.options), "n_gpu_layers": n}}))
        return all(d.total_bytes <= budget_bytes for d in p.devices)

    # Every layer fits, the common case, in one plan; otherwise a bisection below it.
    if fits(spec.num_layers + 1):
        return spec.num_layers + 1
    return largest_true(fits, spec.num_layers)


