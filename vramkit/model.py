"""Architecture facts from a Hugging Face `config.json`, and exact parameter counts.

`ModelSpec.from_config` reads a config (a dict, a `config.json` path, or a folder holding one)
the way transformers does, defaults included, and `ModelSpec.params` counts the elements of the
`nn.Parameter`s that transformers builds from it: every bias, norm, router, sink and tied or
untied head. The counts are checked against meta-device models in tests/reference.

Explained in the chapter on parameters (chapters/*/01-parameters.ipynb).
"""
from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path
from collections.abc import Mapping

from .errors import VramkitError, clip, did_you_mean, unknown
from .record import field, record, replace
from . import dropout

FULL = "full_attention"
SLIDING = "sliding_attention"
# Layer kinds without attention, named as transformers 5's cache names them (cache_utils'
# DYNAMIC_LAYER_TYPE_MAPPING): a recurrent mixer (Gated DeltaNet, Mamba, Mamba-2), a short
# convolution (LFM2), attention and Mamba side by side in one layer (Falcon-H1), and a layer with
# no token mixer at all (Nemotron-H's MLP-only and MoE-only layers; transformers' DummyLayer).
LINEAR = "linear_attention"
CONV = "conv"
HYBRID = "hybrid"
NO_MIXER = "none"
_NO_ATTENTION = (LINEAR, CONV, NO_MIXER)
_HAS_MIXER = (LINEAR, CONV, HYBRID)
CHUNKED = "chunked_attention"  # attends within fixed chunks (llama4); cached like a window of the chunk

# A wrapper config that no family registers (towers not modelled)
# is read by its `text_config`: the language model with its head.
_WRAPPERS = ("text_config",)
# The language model's model_type inside a wrapper whose text_config does not name one.
_TEXT_TYPE = {"gemma3": "gemma3_text", "llama4": "llama4_text", "gemma3n": "gemma3n_text", "mistral3": "mistral"}
# transformers' attribute_map of each config class: {alias: canonical name}. A config saved by
# transformers 5 may use either name (e.g. qwen3_moe writes num_local_experts); families add theirs.
ATTRIBUTE_MAPS: dict[str, dict[str, str]] = {
    "mixtral": {"num_experts": "num_local_experts"},
    "qwen3_moe": {"num_experts": "num_local_experts"},
    "gpt_oss": {"num_experts": "num_local_experts"},
    "deepseek_v3": {"num_local_experts": "n_routed_experts", "num_mtp_layers": "num_nextn_predict_layers"},
}
# Config class defaults applied when a key is absent (not when it is null), for the fields the
# readers would otherwise reject: e.g. gemma-3-27b-it's text_config has no vocab_size. Families add theirs.
CLASS_DEFAULTS: dict[str, dict[str, object]] = {
    "gemma3_text": {"vocab_size": 262208},
    "deepseek_v3": dict(  # DeepseekV3Config: DeepSeek-V3's shapes (e.g. 3 dense layers first)
        vocab_size=129280, hidden_size=7168, intermediate_size=18432, moe_intermediate_size=2048,
        num_hidden_layers=61, num_attention_heads=128, num_key_value_heads=128, n_shared_experts=1,
        n_routed_experts=256, kv_lora_rank=512, q_lora_rank=1536, qk_rope_head_dim=64, v_head_dim=128,
        qk_nope_head_dim=128, num_experts_per_tok=8, first_k_dense_replace=3, max_position_embeddings=4096,
        tie_word_embeddings=False, attention_bias=False),
}

# tie_word_embeddings when the config does not say (each transformers config class's default).
_TIE_DEFAULT = {
    "gpt2": True, "gemma": True, "gemma2": True, "gemma3_text": True,
}
# num_key_value_heads when the config lacks the key (the config classes' defaults; elsewhere, and
# when the key is null, the number of query heads).
_KV_HEADS_DEFAULT = {
    "mistral": 8, "mixtral": 8, "qwen2": 32, "qwen2_moe": 16, "qwen3": 32, "qwen3_moe": 4,
    "gemma": 16, "gemma2": 4, "gemma3_text": 4, "exaone4": 32, "gpt_oss": 8,
}
# head_dim when the config lacks it: a fixed class default, not hidden_size / num_attention_heads.
# The two ways model cards count active parameters (ModelSpec.active_params).
ACTIVE_CONVENTIONS = ("with_embedding", "without_embedding")
_HEAD_DIM_DEFAULT = {"qwen3": 128, "gemma": 256, "gemma2": 256, "gemma3_text": 256, "gpt_oss": 64}


@record  # a frozen dataclass (vramkit.record: without importing dataclasses at start-up)
class ModelSpec:
    """The shape of a decoder-only transformer, as transformers builds it.

    Sizes are element counts; `layer_types` holds one entry per layer ("full_attention" or
    "sliding_attention"; in hybrids also "linear_attention", "conv", "hybrid" or "none", see
    `has_attention` and `has_mixer`) and `moe_layers` one bool per layer. Every field has a plain
    meaning so other modules (KV cache, activations, training) can read it without knowing the family.
    """

    model_type: str
    hidden_size: int
    num_layers: int
    vocab_size: int
    num_heads: int
    num_kv_heads: int
    head_dim: int                  # per-head width of Q and K (and V unless v_head_dim says otherwise)
    intermediate_size: int         # dense MLP width
    tie_word_embeddings: bool = False
    # attention
    qkv_bias: bool = False         # biases on Q, K, V
    o_bias: bool = False           # bias on the output projection
    qk_norm: str = "none"          # "none", "head" (RMSNorm over head_dim) or "proj" (over the whole projection)
    sinks: bool = False            # learned attention sink per head (gpt-oss)
    layer_types: tuple[str, ...] = ()
    sliding_window: int | None = None
    # MLA (DeepSeek): 0 means plain multi-head attention
    q_lora_rank: int = 0
    kv_lora_rank: int = 0
    qk_rope_head_dim: int = 0
    v_head_dim: int = 0            # 0: same as head_dim
    # MLP
    mlp_gated: bool = True         # gate/up/down (SwiGLU, GeGLU) rather than up/down
    mlp_bias: bool = False
    # norms
    norm_bias: bool = False        # LayerNorm (weight and bias) rather than RMSNorm (weight only)
    norms_per_layer: int = 2
    # embeddings
    learned_positions: int = 0     # rows of a learned position table (gpt2); 0 for RoPE
    # mixture of experts
    num_experts: int = 0
    experts_per_token: int = 0
    moe_intermediate_size: int = 0
    shared_expert_size: int = 0    # total width of the always-on shared expert MLP(s)
    shared_expert_gate: bool = False
    router_bias: bool = False
    expert_bias: bool = False
    moe_layers: tuple[bool, ...] = ()
    max_position_embeddings: int = 0  # the context the model was trained for (0: the config does not say)
    # ---- attention variants (llama4 chunked/NoPE, gemma3n KV sharing, DSA indexer): families/ ----
    attention_chunk: int | None = None  # tokens per chunk of "chunked_attention" layers (llama4)
    kv_shared_from: tuple[int, ...] = ()  # per layer: -1, or the earlier layer whose K/V it reuses
                                          # (gemma3n: such a layer has no k_proj, v_proj, k_norm, no cache)
    index_head_dim: int = 0        # DSA indexer key width, cached per token and layer (deepseek_v32)
    intermediate_sizes: tuple[int, ...] = ()  # per-layer dense MLP widths where they vary (gemma3n)
    layer_extra_params: tuple[tuple[str, int], ...] = ()  # named parameters in every layer (indexer, AltUp)
    family_dims: tuple[tuple[str, int], ...] = ()  # a family's own sizes no other field holds (DSA: indexer, router)
    extra_params: tuple[tuple[str, int], ...] = ()  # named parameters the model holds once
    # Shapes and switches a family's forward uses beyond the fields above, by name, for training's
    # activation accounting (gemma3n: AltUp streams, Laurel rank, per-layer width, sparse layers, softcap)
    family_dims: tuple[tuple[str, object], ...] = ()
    # ---- hybrid layers (linear attention, Mamba, short convolution): families/ ----
    # The token mixer of the "linear_attention", "conv" and "hybrid" layers (one kind per model):
    # "gated_deltanet" (Qwen3-Next, Qwen3.5), "mamba" (Jamba), "mamba2" (Bamba, Granite 4.0-H,
    # Nemotron-H, Falcon-H1) or "short_conv" (LFM2); "" for none.
    mixer: str = ""
    mixer_linear_params: int = 0   # per mixer layer: its nn.Linear weights (in/out, x/dt projections)
    mixer_other_params: int = 0    # per mixer layer: the rest (conv kernel and bias, A_log, D, dt_bias, norms)
    # What one mixer layer's cache holds per sequence, constant in the context:
    # (tensor name, elements, dtype), dtype "" meaning the cache's (the model's) dtype.
    mixer_state: tuple[tuple[str, int, str], ...] = ()
    mixer_conv_kernel: int = 0     # taps of the mixer's depthwise conv (transformers caches all, vLLM/llama.cpp one fewer)
    # The mixer's shapes by name. For engines that lay out its tensors one by one (llama.cpp's GGUF):
    # mamba2: d_inner, d_state, n_group, n_head, conv_bias, in_bias, out_bias, norm; mamba: d_inner,
    # d_state, dt_rank, conv_bias, proj_bias; gated_deltanet: k_heads, v_heads, k_dim, v_dim;
    # short_conv: bias (booleans as 0/1). As its forward uses them (heads, head widths, state, groups,
    # chunk size), for training's activation accounting (vramkit.training_hybrid). () when not read.
    mixer_dims: tuple[tuple[str, int], ...] = ()
    mlp_layers: tuple[bool, ...] = ()  # False where a non-MoE layer has no dense MLP (Nemotron-H); empty: all have one
    attention_gate: bool = False   # q_proj also yields a sigmoid output gate per query element (Qwen3-Next, Qwen3.5)
    router_fp32: bool = False      # the MoE router stays fp32 whatever the dtype (Nemotron-H: _keep_in_fp32_modules_strict)
    # ---- multimodal towers and encoders: families/ ----
    # Parameter groups outside the language model (vision/audio tower, projector), by name; each is a
    # key of breakdown(), so params() counts the whole model and language_model_params() the rest.
    towers: tuple[tuple[str, int], ...] = ()
    # Further named groups inside the model that the decoder-stack arithmetic above does not cover:
    # token-type rows, task heads, T5's encoder stack, cross-attention and relative position biases.
    components: tuple[tuple[str, int], ...] = ()
    multimodal: str = ""           # the wrapper's model_type ("gemma3", "llava", ...); "" for text-only
    architecture: str = "decoder"  # "decoder"; "encoder" (bidirectional, no cache); "encoder-decoder" (T5)
    encoder_layers: int = 0        # encoder-decoder: layers of the encoder (num_layers: the decoder's)
    lm_head: bool = True           # False: a task head (in `components`) replaces the vocabulary head
    # How many context tokens one image takes: ("fixed", n); ("qwen_vl", factor, min_pixels,
    # max_pixels, default_side); ("pixtral", factor, longest_edge). See inference.image_tokens.
    image_tokens: tuple = ()
    source: str = field(default="", compare=False)
    # The checkpoint's own storage: `quantization_config` (vramkit.checkpoints prices it) and torch_dtype.
    quantization: Mapping[str, object] | None = field(default=None, compare=False, repr=False)
    torch_dtype: str | None = field(default=None, compare=False, repr=False)
    # Dropout probabilities {"hidden", "attention", "embedding"} as the config sets them (vramkit.dropout).
    dropout: Mapping[str, float] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self):
        check_spec(self)  # every spec, however built, is one vramkit can compute with

    # ---- construction -------------------------------------------------------------------

    @classmethod
    def from_config(cls, config: Mapping[str, object] | str | Path, *, source: str = "") -> "ModelSpec":
        """Read a config dict, a `config.json` path or a folder holding one."""
        if not isinstance(config, Mapping):
            if not isinstance(config, (str, os.PathLike)):
                raise VramkitError(f"config must be a dict, a config.json path or a folder, "
                                   f"got {type(config).__name__}")
            path = Path(config)
            config = read_config_file(path)
            source = source or str(path)
        spec = _read(dict(config), source or "config")
        # Both sit at the top of a multimodal config too, beside its text_config.
        quant = config.get("quantization_config")
        text = config.get("text_config")
        dtype = config.get("torch_dtype") or config.get("dtype") or (text.get("torch_dtype") if isinstance(text, Mapping) else None)
        if quant is not None and not isinstance(quant, Mapping):
            raise VramkitError(f"{source or 'config'}: field 'quantization_config' must be an object")
        changes = {"dropout": dropout.read(config)}
        if quant or dtype:
            changes.update(quantization=dict(quant) if quant else None,
                           torch_dtype=dtype if isinstance(dtype, str) else None)
        return _with_storage_fields(spec, changes)

    def with_changes(self, **changes) -> "ModelSpec":
        """A copy with some fields changed (e.g. a different context window or vocabulary)."""
        return replace(self, **changes)

    # ---- derived shapes -----------------------------------------------------------------

    @property
    def is_mla(self) -> bool:
        return self.kv_lora_rank > 0

    @property
    def is_moe(self) -> bool:
        return self.num_experts > 0 and any(self.moe_layers)

    def has_attention(self, layer: int) -> bool:
        """Whether decoder layer `layer` holds an attention block (and so K/V in the cache)."""
        return not self.layer_types or self.layer_types[layer] not in _NO_ATTENTION

    def has_mixer(self, layer: int) -> bool:
        """Whether layer `layer` holds the recurrent or convolution mixer (`mixer`) and its state."""
        return bool(self.layer_types) and self.layer_types[layer] in _HAS_MIXER

    def has_dense_mlp(self, layer: int) -> bool:
        """Whether layer `layer` holds a dense MLP (MoE layers hold experts instead)."""
        if self.moe_layers and self.moe_layers[layer]:
            return False
        return not self.mlp_layers or self.mlp_layers[layer]

    # The layer counts and the breakdown are loops over the layers that a spec's (frozen) fields
    # decide once: memoized per spec, so a sweep calling them thousands of times loops once.
    # (Without layer_types every layer is plain attention: no loop. `vramkit models` builds a hundred specs.)
    @property
    def attention_layer_count(self) -> int:
        return memo(self, "attention_layers", lambda: sum(self.has_attention(i) for i in range(self.num_layers))
                    if self.layer_types else self.num_layers)

    @property
    def mixer_layer_count(self) -> int:
        return memo(self, "mixer_layers", lambda: sum(self.has_mixer(i) for i in range(self.num_layers))
                    if self.layer_types else 0)

    @property
    def is_hybrid(self) -> bool:
        """Some layer is not plain attention + MLP: a recurrent or convolution mixer, or no mixer."""
        return memo(self, "is_hybrid", lambda: bool(self.layer_types) and any(
            t in _NO_ATTENTION or t == HYBRID for t in self.layer_types)
            or bool(self.mlp_layers) and not all(self.mlp_layers))

    def mixer_state_elements(self) -> int:
        """Elements one mixer layer's cache holds per sequence (all its state tensors)."""
        return sum(n for _, n, _ in self.mixer_state)

    @property
    def value_head_dim(self) -> int:
        return self.v_head_dim or self.head_dim

    @property
    def q_dim(self) -> int:
        """Width of all query heads together."""
        return self.num_heads * self.head_dim

    @property
    def kv_dim(self) -> int:
        """Width of all key heads together (GQA: fewer heads than queries)."""
        return self.num_kv_heads * self.head_dim

    # ---- parameter counts -----------------------------------------------------------------

    def attention_params(self) -> int:
        """Parameters of one attention block (projections, biases, QK norms, sinks)."""
        h = self.hidden_size
        if self.is_mla:
            return _mla_params(self)
        gate = 2 if self.attention_gate else 1  # the output gate doubles q_proj (and its bias)
        n = gate * h * self.q_dim + 2 * h * self.kv_dim + self.q_dim * h
        if self.qkv_bias:
            n += gate * self.q_dim + 2 * self.kv_dim
        if self.o_bias:
            n += h
        if self.qk_norm == "head":
            n += 2 * self.head_dim
        elif self.qk_norm == "proj":
            n += self.q_dim + self.kv_dim
        if self.sinks:
            n += self.num_heads
        return n

    def mlp_params(self, width: int | None = None) -> int:
        """Parameters of one dense MLP of `width` (default: intermediate_size)."""
        width = self.intermediate_size if width is None else width
        h = self.hidden_size
        mats = 3 if self.mlp_gated else 2
        n = mats * h * width
        if self.mlp_bias:
            n += (mats - 1) * width + h
        return n

    def expert_params(self) -> int:
        """Parameters of one routed expert."""
        n = self.mlp_params(self.moe_intermediate_size)
        if self.expert_bias and not self.mlp_bias:  # gpt-oss: biases on gate_up (2 x width) and down
            n += 2 * self.moe_intermediate_size + self.hidden_size
        return n

    def router_params(self) -> int:
        """Parameters of one MoE router (plus the shared-expert gate where there is one)."""
        n = self.hidden_size * self.num_experts + (self.num_experts if self.router_bias else 0)
        if self.shared_expert_gate:
            n += self.hidden_size
        return n

    def norm_params(self) -> int:
        """Parameters of one norm over hidden_size."""
        return self.hidden_size * (2 if self.norm_bias else 1)

    def breakdown(self) -> dict[str, int]:
        """Parameter count by component; the values add up to `params()`.

        Keys (all always present, 0 where a model has none): embedding, position, attention
        (attention layers only), mixer and mixer_other (the recurrent/convolution mixer layers:
        their nn.Linear weights, and their conv kernels, A_log, D, dt_bias and inner norms),
        mlp (dense MLPs and shared experts), experts, router, norms, lm_head.
        """
        return dict(memo(self, "breakdown", self._breakdown))  # a copy: callers may change theirs

    def _breakdown(self) -> dict[str, int]:
        h, v = self.hidden_size, self.vocab_size
        moe = sum(self.moe_layers)
        dense = sum(self.has_dense_mlp(i) for i in range(self.num_layers)) \
            if self.moe_layers or self.mlp_layers else self.num_layers  # (no loop where every layer has one)
        mixers = self.mixer_layer_count
        return self._with_attention_variants({
            "embedding": v * h,
            "position": self.learned_positions * h,
            "attention": self.attention_layer_count * self.attention_params(),
            "mixer": mixers * self.mixer_linear_params,
            "mixer_other": mixers * self.mixer_other_params,
            "mlp": dense * self.mlp_params() + moe * self.mlp_params(self.shared_expert_size)
            * (self.shared_expert_size > 0),
            "experts": moe * self.num_experts * self.expert_params(),
            "router": moe * self.router_params(),
            "norms": (self.num_layers * self.norms_per_layer + 1) * self.norm_params(),
            "lm_head": 0 if self.tie_word_embeddings or not self.lm_head else v * h,
            **dict(self.components),
            **dict(self.towers),
        })

    def params(self) -> int:
        """Elements of every nn.Parameter transformers builds (tied embeddings counted once)."""
        return sum(self.breakdown().values())

    def language_model_params(self) -> int:
        """The language model with its head: params() less the towers and projector."""
        return self.params() - sum(n for _, n in self.towers)

    def active_params(self, convention: str = "with_embedding") -> int:
        """Parameters used for one token: all but the routed experts a token does not visit.

        Two conventions, named: "with_embedding" (the default: every parameter a token touches,
        the input embedding table counted whole) and "without_embedding" (the input embedding and
        learned position tables left out, since a token reads one row of them: OpenAI's gpt-oss
        model card, 5.13 B / 3.61 B active for gpt-oss-120b / 20b). With tied embeddings the table is
        also the output head, which every token uses whole, so nothing is left out.
        """
        if convention not in ACTIVE_CONVENTIONS:
            raise unknown("active-parameter convention", convention, ACTIVE_CONVENTIONS)
        idle = self.num_experts - self.experts_per_token
        n = self.params() - sum(self.moe_layers) * idle * self.expert_params()
        if convention == "without_embedding":
            parts = self.breakdown()
            n -= parts["position"] + (0 if self.tie_word_embeddings else parts["embedding"])
        return n

    def layer_params(self, layer: int) -> int:
        """Parameters of decoder layer `layer` (0-based): its norms, attention and/or mixer, MLP or experts.

        Summed over the layers, plus embedding, position, lm_head and the final norm, this is `params()`.
        """
        n = self.norms_per_layer * self.norm_params()
        if self.has_attention(layer):
            n += self.attention_params()
        if self.has_mixer(layer):
            n += self.mixer_linear_params + self.mixer_other_params
        if self.moe_layers and self.moe_layers[layer]:
            n += self.num_experts * self.expert_params() + self.router_params()
            if self.shared_expert_size:
                n += self.mlp_params(self.shared_expert_size)
        elif self.has_dense_mlp(layer):
            n += self.mlp_params(self.intermediate_sizes[layer] if self.intermediate_sizes else None)
        if self.kv_shared_from and self.kv_shared_from[layer] >= 0:
            n -= self.kv_projection_params()
        return n + sum(count for _, count in self.layer_extra_params)

    # ---- attention variants ---------------------------------------------------------------

    def kv_projection_params(self) -> int:
        """What a layer that reuses another's K/V lacks: k_proj, v_proj (with biases) and the K norm."""
        n = 2 * self.hidden_size * self.kv_dim + (2 * self.kv_dim if self.qkv_bias else 0)
        return n + (self.head_dim if self.qk_norm == "head" else self.kv_dim if self.qk_norm == "proj" else 0)

    def _with_attention_variants(self, parts: dict[str, int]) -> dict[str, int]:
        """`parts` corrected for KV-sharing layers and per-layer MLP widths, plus named extras."""
        if self.kv_shared_from:
            parts["attention"] -= sum(j >= 0 for j in self.kv_shared_from) * self.kv_projection_params()
        if self.intermediate_sizes:
            moe = self.moe_layers or (False,) * self.num_layers
            parts["mlp"] += sum(self.mlp_params(w) - self.mlp_params()
                                for w, m in zip(self.intermediate_sizes, moe) if not m)
        for name, count in self.layer_extra_params:
            parts[name] = parts.get(name, 0) + self.num_layers * count
        for name, count in self.extra_params:
            parts[name] = parts.get(name, 0) + count
        return parts


def _with_storage_fields(spec: ModelSpec, changes: dict) -> ModelSpec:
    """`spec` with fields that say how it is stored and trained (quantization_config, torch_dtype,
    dropout), none of which the shape checks of `check_spec` read: each new value is checked
    alone instead of the whole spec again (`dataclasses.replace` would run every check once more
    per field set, which is most of what reading the catalog costs)."""
    where = spec.source or "ModelSpec"
    for name, value in changes.items():
        if name != "quantization":  # read by vramkit.checkpoints
            _check_value(where, name, value)
    new = object.__new__(ModelSpec)  # a shallow copy, as copy.copy (not imported at start-up)
    new.__dict__.update(spec.__dict__)
    # A copy of the memo, not the same dict: what check_spec memoized (parameter counts, layer
    # counts) depends on the shapes only, but later answers may depend on the storage too.
    if "_memo" in spec.__dict__:
        object.__setattr__(new, "_memo", dict(spec.__dict__["_memo"]))
    for name, value in changes.items():
        object.__setattr__(new, name, value)
    return new


def memo(spec: ModelSpec, key, compute):
    """`compute()` once per spec and `key`: a cache of what a spec's (immutable) fields determine.

    Kept in the instance itself, so a lookup costs one dict access instead of hashing every field;
    `with_changes` builds a new spec with an empty cache. A key that cannot be hashed (it holds a
    value a caller passed, such as a list-valued option) is not cached: `compute()` runs each time,
    so an error it raises is raised each time.
    """
    cache = spec.__dict__.get("_memo")
    if cache is None:
        cache = {}
        object.__setattr__(spec, "_memo", cache)
    try:
        return cache[key]
    except KeyError:
        cache[key] = value = compute()
        return value
    except TypeError:  # a key holding something unhashable (a caller's odd option): computed afresh
        return compute()


def _mla_params(s: ModelSpec) -> int:
    """DeepSeek multi-head latent attention: low-rank Q and a compressed, shared KV latent."""
    h, nh = s.hidden_size, s.num_heads
    qk_head = s.head_dim  # nope + rope
    bias = s.qkv_bias
    if s.q_lora_rank:
        n = h * s.q_lora_rank + (s.q_lora_rank if bias else 0) + s.q_lora_rank  # q_a_proj, q_a_layernorm
        n += s.q_lora_rank * nh * qk_head                                      # q_b_proj
    else:
        n = h * nh * qk_head
    n += h * (s.kv_lora_rank + s.qk_rope_head_dim) + ((s.kv_lora_rank + s.qk_rope_head_dim) if bias else 0)
    n += s.kv_lora_rank                                                         # kv_a_layernorm
    n += s.kv_lora_rank * nh * (qk_head - s.qk_rope_head_dim + s.value_head_dim)  # kv_b_proj
    n += nh * s.value_head_dim * h + (h if s.o_bias else 0)                     # o_proj
    return n


# ---- reading configs ----------------------------------------------------------------------


# Bounds on what a config may hold, checked before anything is allocated or looped over. Real
# config.json files are a few kB (the largest, with label maps, well under 1 MB); real models have
# at most a few hundred layers. A bound keeps every answer interactive and refuses what is absurd.
MAX_CONFIG_BYTES = 8 * 2**20
MAX_LAYERS = 1024
MAX_FIELD = 2**32              # any other integer field (widths, vocabulary, experts, positions)
_LAYER_COUNT_KEYS = {"num_hidden_layers", "n_layer", "num_layers", "n_layers", "decoder_layers",
                     "encoder_layers", "num_decoder_layers", "num_encoder_layers"}
# transformers' ALLOWED_ATTN_LAYER_TYPES (configuration_utils), plus the legacy names it remaps.
ATTENTION_LAYER_TYPES = (
    "full_attention", "sliding_attention", "chunked_attention", "window_attention", "indexed_attention",
    "compressed_sparse_attention", "heavily_compressed_attention", "minimax_m3_sparse", "conv", "moe",
    "hybrid", "hybrid_sliding", "reference_sliding_attention", "linear_attention",
    "mamba", "attention", "deepseek_sparse_attention", "qwen_sparse_attention",
)


def read_config_file(path: Path) -> dict:
    """The JSON object in `path` (or `path`/config.json), or a one-line VramkitError.

    Reads only a regular file (never a FIFO, a device or stdin), at most MAX_CONFIG_BYTES, as UTF-8;
    JSON nested too deep or with integers of thousands of digits is refused in one line.
    """
    data = parse_json_bytes(read_regular_file(path, MAX_CONFIG_BYTES, default_name="config.json"), path)
    if not isinstance(data, dict):
        raise VramkitError(f"{_short(path)}: expected a JSON object, got {_json_kind(data)}")
    return data


def read_regular_file(path: Path, limit: int, *, default_name: str | None = None) -> bytes:
    """The bytes of the regular file `path` (or `path`/`default_name` for a folder), at most `limit`."""
    path = Path(path)
    try:
        st = os.stat(path)
        if default_name and stat.S_ISDIR(st.st_mode):
            path = path / default_name
            st = os.stat(path)
    except OSError as e:
        raise path_error(path, e) from None
    except ValueError as e:  # an embedded NUL byte
        raise VramkitError(f"{str(path)!r}: not a usable path ({e})") from None
    if not stat.S_ISREG(st.st_mode):
        raise VramkitError(f"{_short(path)}: not a regular file (a {_file_kind(st.st_mode)}); pass a file or a folder")
    if st.st_size > limit:
        raise VramkitError(f"{_short(path)}: {st.st_size:,} bytes is too large for this file (at most {limit:,})")
    try:
        # O_NONBLOCK: should the path turn into a FIFO between stat and open, open does not wait.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as f:
            data = f.read(limit + 1)
    except OSError as e:
        raise path_error(path, e) from None
    if len(data) > limit:
        raise VramkitError(f"{_short(path)}: larger than {limit:,} bytes")
    return data


def path_error(path, e: OSError) -> VramkitError:
    """An OSError on `path` as one line (no such file, permission denied, name too long, ...)."""
    if isinstance(e, FileNotFoundError):
        return VramkitError(f"{_short(path)}: no such file or folder")
    if isinstance(e, PermissionError):
        return VramkitError(f"{_short(path)}: permission denied")
    return VramkitError(f"{_short(path)}: cannot read ({e.strerror or e})")


def _short(path) -> str:
    return clip(path, 200)


def _file_kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "FIFO"), (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"),
                       (stat.S_ISSOCK, "socket"), (stat.S_ISDIR, "folder")):
        if test(mode):
            return name
    return "special file"


def _json_kind(value) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "true/false", int: "a number",
            float: "a number", type(None): "null"}.get(type(value), type(value).__name__)


def parse_json_bytes(data: bytes, path) -> object:
    """JSON from UTF-8 bytes (a UTF-8 BOM allowed), with one-line errors for every way it can fail."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise VramkitError(f"{_short(path)}: the file is UTF-16; save it as UTF-8")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise VramkitError(f"{_short(path)}: not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start}); "
                           "save it as UTF-8") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise VramkitError(f"{_short(path)}: not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
    except RecursionError:
        raise VramkitError(f"{_short(path)}: JSON nested too deeply") from None
    except ValueError as e:  # Python's limit on digits in an integer (4300)
        raise VramkitError(f"{_short(path)}: not usable JSON ({str(e).splitlines()[0]})") from None


class _Config:
    """A config dict with one-line errors for missing or wrong fields.

    Every accessor checks the type and range of what it returns, so a family's reader that reads
    its fields through these never sees a bool for an int, a float for a count or a string for a list.
    """

    def __init__(self, data: dict, source: str):
        self.data, self.source = data, source

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def get(self, key: str, default=None):
        """The raw value of `key` (`default` when absent or null). Prefer the typed accessors below."""
        value = self.data.get(key)
        return default if value is None else value

    def _bad(self, key: str, expected: str, value) -> VramkitError:
        shown = repr(value)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        return VramkitError(f"{self.source}: field '{key}' must be {expected}, got {shown}")

    def _missing(self, key: str) -> VramkitError:
        hint = did_you_mean(key, [k for k in self.data if isinstance(k, str)])
        return VramkitError(
            f"{self.source}: missing field '{key}' (needed for {self.data.get('model_type')}){hint}")

    def _check_int(self, key: str, value, allow_zero: bool) -> int:
        cap = MAX_LAYERS if key in _LAYER_COUNT_KEYS else MAX_FIELD
        if isinstance(value, bool) or not isinstance(value, int) or value < 0 or (value == 0 and not allow_zero):
            raise self._bad(key, "a non-negative integer" if allow_zero else "a positive integer", value)
        if value > cap:
            raise self._bad(key, f"an integer of at most {cap:,}", value)
        return value

    def int(self, *keys: str, default: int | None = None, allow_zero: bool = False) -> int:
        """The first of `keys` that is present, as a positive int (at most MAX_FIELD; MAX_LAYERS for layers)."""
        for key in keys:
            if self.data.get(key) is not None:
                return self._check_int(key, self.data[key], allow_zero)
        if default is not None:
            return default
        raise self._missing(keys[0])

    def bool(self, key: str, default: bool) -> bool:
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self._bad(key, "true or false", value)
        return value

    def str(self, key: str, default: str | None = None, choices=None) -> str | None:
        """A string field (one of `choices` when given)."""
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, str):
            raise self._bad(key, "a string", value)
        if choices is not None and value not in choices:
            raise VramkitError(f"{self.source}: field '{key}': {unknown('value', value, choices)}")
        return value

    def window(self, key: str, default: int | None = None) -> int | None:
        """An attention window in tokens: a positive int, or None when the key is null.

        `default` applies only when the key is absent (a config class's default); an explicit null
        means no window, as in transformers.
        """
        value = self.data.get(key, default)
        if value is None:
            return None
        return self._check_int(key, value, allow_zero=False) if key in self.data else value

    def int_list(self, key: str, default=(), *, below: int | None = None) -> tuple[int, ...]:
        """A list of non-negative ints (e.g. layer indices, each < `below`)."""
        value = self.data.get(key)
        if value is None:
            return tuple(default)
        expected = "a list of layer indices" if below is not None else "a list of non-negative integers"
        if not isinstance(value, list) or len(value) > MAX_LAYERS:
            raise self._bad(key, expected, value)
        for v in value:
            if isinstance(v, bool) or not isinstance(v, int) or v < 0 or (below is not None and v >= below):
                raise self._bad(key, expected + (f" in 0..{below - 1}" if below is not None else ""), value)
        return tuple(value)

    def layer_types(self, n_layers: int, key: str = "layer_types", vocabulary=ATTENTION_LAYER_TYPES):
        """`layer_types` as transformers validates it: `n_layers` entries from its vocabulary, or None."""
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, list) or len(value) != n_layers:
            n = len(value) if isinstance(value, list) else None
            raise VramkitError(f"{self.source}: field '{key}' must list {n_layers} layer kinds (one per layer), "
                               f"got {'a list of ' + str(n) if n is not None else repr(value)[:40]}")
        for t in value:
            if not isinstance(t, str) or t not in vocabulary:
                raise VramkitError(f"{self.source}: field '{key}': {unknown('layer kind', t, vocabulary)}")
        return tuple(value)


def _layer_types(c: _Config, n_layers: int, window: int | None, rule) -> tuple[tuple[str, ...], int | None]:
    """Per-layer attention kinds: the config's `layer_types`, else the family's `rule(i)`."""
    types = c.layer_types(n_layers)  # checked whenever present, as transformers' validate_layer_type does
    if window is None:
        return (FULL,) * n_layers, None
    if isinstance(window, bool) or not isinstance(window, int) or window <= 0:  # a reader's own default
        raise VramkitError(f"{c.source}: field 'sliding_window' must be a positive integer or null, got {window!r}")
    if types is not None:
        return tuple(SLIDING if t in (SLIDING, "chunked_attention") else FULL for t in types), window
    return tuple(SLIDING if rule(i) else FULL for i in range(n_layers)), window


def _every_nth_full(pattern: int):
    """Sliding except every `pattern`-th layer (Gemma 2/3, gpt-oss, EXAONE 4)."""
    return lambda i: bool((i + 1) % pattern) if pattern else False


# Imports vramkit.families (which registers every family's readers, aliases and defaults here);
# set by the package's __init__ (this floor never imports a family), called by `_read` once.
FAMILY_LOADER = None


def _read(data: dict, source: str) -> ModelSpec:
    global FAMILY_LOADER
    outer = data.get("model_type")
    if FAMILY_LOADER is not None and not (isinstance(outer, str) and outer in READERS):
        # A model_type this module does not read itself (or none, or a bad one, whose error lists
        # every family's): the families first. The ones read here no family changes, so a command
        # reading a llama, qwen, mistral or deepseek config never imports the sixteen family modules.
        loader, FAMILY_LOADER = FAMILY_LOADER, None
        loader()
    for key in _WRAPPERS:
        outer = data.get("model_type")
        if (isinstance(outer, str) and outer not in READERS and isinstance(data.get(key), dict)
                and data[key].get("model_type", outer)):
            inner = dict(data[key])
            inner.setdefault("model_type", outer)
            if isinstance(inner["model_type"], str):
                inner["model_type"] = _TEXT_TYPE.get(inner["model_type"], inner["model_type"])
            data = inner
            break
    model_type = data.get("model_type")
    if isinstance(model_type, str):
        data = _as_transformers_reads(data, model_type)
    if model_type is None:
        raise VramkitError(f"{source}: missing field 'model_type' (one of: {', '.join(sorted(READERS))})")
    if not isinstance(model_type, str):
        raise VramkitError(f"{source}: field 'model_type' must be a string such as 'llama', "
                           f"got {_json_kind(model_type)}")
    if model_type not in READERS:
        err = unknown("model_type", model_type[:100], READERS)
        raise VramkitError(f"{source}: {err}; supported: {', '.join(sorted(READERS))}")
    try:
        spec = READERS[model_type](_Config(data, source), model_type)
    except VramkitError:
        raise
    except (TypeError, KeyError, IndexError, AttributeError, ZeroDivisionError, OverflowError,
            MemoryError, RecursionError) as e:
        # A value of a type the reader did not expect: still one line, naming the config.
        raise VramkitError(f"{source}: cannot read this {model_type} config ({type(e).__name__}: "
                           f"{str(e).splitlines()[0] if str(e) else 'bad value'})") from None
    return spec  # checked in ModelSpec.__post_init__, however the reader built it


def _as_transformers_reads(data: dict, model_type) -> dict:
    """`data` with the config class's defaults for absent keys and both names of every alias."""
    aliases = ATTRIBUTE_MAPS.get(model_type, {})
    data = dict(data)
    for alias, name in aliases.items():
        if data.get(name) is None and data.get(alias) is not None:
            data[name] = data[alias]          # transformers sets the canonical attribute
    data = {**CLASS_DEFAULTS.get(model_type, {}), **data}
    for alias, name in aliases.items():
        if name in data:
            data[alias] = data[name]          # and reads it back under either name
    return data


def _class_default(c: _Config, key: str, table: dict, model_type: str, otherwise: int) -> int:
    """The config class's default for `key` when the config lacks it; `otherwise` when it is null."""
    return table.get(model_type, otherwise) if key not in c.data else otherwise


def _base(c: _Config, model_type: str, **over) -> dict:
    """Fields common to the Llama-like families."""
    h = c.int("hidden_size")
    nh = c.int("num_attention_heads")
    n = c.int("num_hidden_layers")
    fields = dict(
        model_type=model_type,
        hidden_size=h,
        num_layers=n,
        vocab_size=c.int("vocab_size"),
        num_heads=nh,
        num_kv_heads=c.int("num_key_value_heads", default=_class_default(c, "num_key_value_heads",
                                                                         _KV_HEADS_DEFAULT, model_type, nh)),
        head_dim=c.int("head_dim", default=_class_default(c, "head_dim", _HEAD_DIM_DEFAULT, model_type, h // nh)),
        intermediate_size=c.int("intermediate_size"),
        tie_word_embeddings=c.bool("tie_word_embeddings", _TIE_DEFAULT.get(model_type, False)),
        max_position_embeddings=c.int("max_position_embeddings", default=0, allow_zero=True),
        source=c.source,
    )
    fields.update(over)
    return fields


def _llama(c: _Config, t: str) -> ModelSpec:
    bias = c.bool("attention_bias", False)
    f = _base(c, t, qkv_bias=bias, o_bias=bias, mlp_bias=c.bool("mlp_bias", False))
    f["layer_types"], f["sliding_window"] = _layer_types(c, f["num_layers"], None, None)
    return ModelSpec(**f)


def _mistral(c: _Config, t: str) -> ModelSpec:
    f = _base(c, t)
    # Without `layer_types`, transformers' cache treats every layer as sliding when a window is set.
    # MistralConfig's window defaults to 4096 when the key is absent (null means none); Mixtral's to none.
    window = c.window("sliding_window", 4096 if t == "mistral" else None)
    f["layer_types"], f["sliding_window"] = _layer_types(c, f["num_layers"], window, lambda i: True)
    if t == "mixtral":
        f.update(num_experts=c.int("num_local_experts"), experts_per_token=c.int("num_experts_per_tok"),
                 moe_intermediate_size=f["intermediate_size"], moe_layers=(True,) * f["num_layers"])
    return ModelSpec(**f)


def _qwen(c: _Config, t: str) -> ModelSpec:
    over = {}
    if t in ("qwen2", "qwen2_moe"):
        over["qkv_bias"] = c.bool("qkv_bias", True) if t == "qwen2_moe" else True
    else:  # qwen3, qwen3_moe
        bias = c.bool("attention_bias", False)
        over.update(qkv_bias=bias, o_bias=bias, qk_norm="head")
    f = _base(c, t, **over)
    n = f["num_layers"]
    window = c.window("sliding_window") if c.bool("use_sliding_window", False) else None
    max_window_layers = c.int("max_window_layers", default=28, allow_zero=True)  # the config classes' default
    if t == "qwen2_moe":    # Qwen2MoeConfig: every other layer below max_window_layers slides
        rule = lambda i: i % 2 == 0 and i < max_window_layers  # noqa: E731
    elif t == "qwen3_moe":  # Qwen3MoeConfig has no layer rule: the cache slides every layer
        rule = lambda i: True  # noqa: E731
    else:                   # Qwen2/Qwen3: the layers from max_window_layers up slide
        rule = lambda i: i >= max_window_layers  # noqa: E731
    f["layer_types"], f["sliding_window"] = _layer_types(c, n, window, rule)
    if t.endswith("_moe"):
        experts = c.int("num_experts", allow_zero=True)
        step = c.int("decoder_sparse_step", default=1)
        only_dense = set(c.int_list("mlp_only_layers", below=n))
        f.update(num_experts=experts, experts_per_token=c.int("num_experts_per_tok"),
                 moe_intermediate_size=c.int("moe_intermediate_size"),
                 moe_layers=tuple(i not in only_dense and experts > 0 and (i + 1) % step == 0 for i in range(n)))
        if t == "qwen2_moe":
            f.update(shared_expert_size=c.int("shared_expert_intermediate_size"), shared_expert_gate=True)
    return ModelSpec(**f)


def _gemma(c: _Config, t: str) -> ModelSpec:
    bias = c.bool("attention_bias", False)
    f = _base(c, t, qkv_bias=bias, o_bias=bias)
    n = f["num_layers"]
    if t == "gemma":
        f["layer_types"], f["sliding_window"] = (FULL,) * n, None
        return ModelSpec(**f)
    f["norms_per_layer"] = 4  # input, post-attention, pre-feedforward, post-feedforward
    if t == "gemma3_text":
        f["qk_norm"] = "head"
        pattern = c.int("sliding_window_pattern", "_sliding_window_pattern", default=6)
    else:
        pattern = 2
    window = c.window("sliding_window", 4096)
    if window is not None and t == "gemma3_text" and c.bool("use_bidirectional_attention", False):
        window = window // 2 + 1  # Gemma3TextConfig: a window of w//2 on either side, bounds exclusive
    f["layer_types"], f["sliding_window"] = _layer_types(c, n, window, _every_nth_full(pattern))
    return ModelSpec(**f)


def _phi3(c: _Config, t: str) -> ModelSpec:
    f = _base(c, t)  # fused qkv_proj and gate_up_proj hold the same elements as separate ones
    f["layer_types"], f["sliding_window"] = _layer_types(
        c, f["num_layers"], c.window("sliding_window"), lambda i: True)
    return ModelSpec(**f)


def _gpt2(c: _Config, t: str) -> ModelSpec:
    h = c.int("n_embd", "hidden_size")
    nh = c.int("n_head", "num_attention_heads")
    n = c.int("n_layer", "num_hidden_layers")
    return ModelSpec(
        model_type=t, hidden_size=h, num_layers=n, vocab_size=c.int("vocab_size"),
        num_heads=nh, num_kv_heads=nh, head_dim=h // nh,
        intermediate_size=c.int("n_inner", default=4 * h),
        tie_word_embeddings=c.bool("tie_word_embeddings", True),
        qkv_bias=True, o_bias=True, mlp_gated=False, mlp_bias=True, norm_bias=True,
        learned_positions=c.int("n_positions", "max_position_embeddings"),
        max_position_embeddings=c.int("n_positions", "max_position_embeddings"),
        layer_types=(FULL,) * n, source=c.source)


def _gpt_neox(c: _Config, t: str) -> ModelSpec:
    bias = c.bool("attention_bias", True)
    f = _base(c, t, qkv_bias=bias, o_bias=bias, mlp_gated=False, mlp_bias=True, norm_bias=True)
    f["head_dim"] = f["hidden_size"] // f["num_heads"]
    f["num_kv_heads"] = f["num_heads"]
    f["layer_types"] = (FULL,) * f["num_layers"]
    return ModelSpec(**f)


def _olmo2(c: _Config, t: str) -> ModelSpec:
    bias = c.bool("attention_bias", False)
    f = _base(c, t, qkv_bias=bias, o_bias=bias, qk_norm="proj")
    f["layer_types"] = (FULL,) * f["num_layers"]
    return ModelSpec(**f)


def _exaone4(c: _Config, t: str) -> ModelSpec:
    f = _base(c, t, qk_norm="head")
    window = c.window("sliding_window", 4096)  # Exaone4Config's default when the key is absent
    pattern = c.get("sliding_window_pattern", 4)
    if isinstance(pattern, str):  # e.g. "LLLG": local, local, local, global
        if not pattern or set(pattern) - {"L", "G"} or len(pattern) > MAX_LAYERS:
            raise c._bad("sliding_window_pattern", "a positive integer or a string of L and G such as 'LLLG'",
                         pattern)
        rule = lambda i: pattern[i % len(pattern)] == "L"  # noqa: E731
    else:
        rule = _every_nth_full(c.int("sliding_window_pattern", default=4))
    f["layer_types"], f["sliding_window"] = _layer_types(c, f["num_layers"], window, rule)
    return ModelSpec(**f)


def _deepseek_v3(c: _Config, t: str) -> ModelSpec:
    bias = c.bool("attention_bias", False)
    nope, rope = c.int("qk_nope_head_dim"), c.int("qk_rope_head_dim")
    f = _base(c, t, qkv_bias=bias, o_bias=bias)
    n = f["num_layers"]
    first_dense = c.int("first_k_dense_replace", default=0, allow_zero=True)
    f.update(
        head_dim=nope + rope, num_kv_heads=f["num_heads"],
        q_lora_rank=c.int("q_lora_rank", default=0, allow_zero=True),
        kv_lora_rank=c.int("kv_lora_rank"), qk_rope_head_dim=rope, v_head_dim=c.int("v_head_dim"),
        num_experts=c.int("n_routed_experts"), experts_per_token=c.int("num_experts_per_tok"),
        moe_intermediate_size=c.int("moe_intermediate_size"),
        shared_expert_size=c.int("moe_intermediate_size") * c.int("n_shared_experts", default=0, allow_zero=True),
        moe_layers=tuple(i >= first_dense for i in range(n)),
        layer_types=(FULL,) * n,
    )
    # DeepseekV3TopkRouter views the experts as n_group groups and keeps topk_group of them
    # (each group contributes its top 2 scores): these must divide and fit, or the router cannot run.
    groups, top_groups = c.int("n_group", default=8), c.int("topk_group", default=4)
    if f["num_experts"] % groups or not top_groups <= groups:
        raise VramkitError(f"{c.source}: n_routed_experts ({f['num_experts']}) must be a multiple of n_group "
                           f"({groups}), and topk_group ({top_groups}) at most n_group")
    return ModelSpec(**f)


def _gpt_oss(c: _Config, t: str) -> ModelSpec:
    f = _base(c, t, qkv_bias=c.bool("attention_bias", True), o_bias=c.bool("attention_bias", True),
              sinks=True, router_bias=True, expert_bias=True, mlp_bias=False)
    n = f["num_layers"]
    f.update(num_experts=c.int("num_local_experts"), experts_per_token=c.int("num_experts_per_tok"),
             moe_intermediate_size=f["intermediate_size"], moe_layers=(True,) * n)
    f["layer_types"], f["sliding_window"] = _layer_types(c, n, c.window("sliding_window", 128), _every_nth_full(2))
    return ModelSpec(**f)


READERS = {
    "llama": _llama,
    "mistral": _mistral,
    "mixtral": _mistral,
    "qwen2": _qwen,
    "qwen2_moe": _qwen,
    "qwen3": _qwen,
    "qwen3_moe": _qwen,
    "gemma": _gemma,
    "gemma2": _gemma,
    "gemma3_text": _gemma,
    "phi3": _phi3,
    "gpt2": _gpt2,
    "gpt_neox": _gpt_neox,
    "olmo2": _olmo2,
    "exaone4": _exaone4,
    "deepseek_v3": _deepseek_v3,
    "gpt_oss": _gpt_oss,
}
SUPPORTED_MODEL_TYPES = tuple(sorted(READERS))


# ---- the consistency of a spec ------------------------------------------------------------

# Families whose config class requires hidden_size to be a multiple of num_attention_heads
# (transformers' validate_architecture: Llama, Gemma 2/3, GPT-NeoX; GPT-2's attention splits
# n_embd into n_head heads the same way).
HIDDEN_DIVISIBLE_BY_HEADS = {"llama", "gemma2", "gemma3_text", "gpt_neox", "gpt2"}
MAX_PARAMS = 2**50  # about 10**15 parameters: a thousand times the largest model built


def _check_value(where: str, name: str, value) -> None:
    """Ints non-negative and bounded, floats finite, strings short, tuples element by element."""
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, int):
        if value < 0 or value > MAX_FIELD:
            raise VramkitError(f"{where}: {name} must be an integer in 0..{MAX_FIELD:,}, got {value!r}")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise VramkitError(f"{where}: {name} must be a finite number, got {value!r}")
    elif isinstance(value, str):
        if len(value) > 4096:
            raise VramkitError(f"{where}: {name} is a string of {len(value):,} characters")
    elif isinstance(value, (tuple, list, dict)):
        if len(value) > MAX_LAYERS * 64:
            raise VramkitError(f"{where}: {name} has {len(value):,} entries")
        items = value.values() if isinstance(value, dict) else value
        # the common case, a per-layer tuple of short strings or flags, in one pass
        if all(v.__class__ is bool or (v.__class__ is str and len(v) <= 4096)
               or (v.__class__ is int and 0 <= v <= MAX_FIELD) for v in items):
            return
        for v in items:
            _check_value(where, name, v)


def check_spec(spec: ModelSpec) -> ModelSpec:
    """`spec` when its fields are consistent, else a one-line VramkitError naming the field.

    Called for every ModelSpec (in __post_init__) and after every family's reader, so a reader
    added in vramkit/families inherits it. Checks what every computation relies on: types and
    ranges of every field (new fields included), per-layer tuples of the right length, heads that
    group into KV heads, experts per token within the experts, and plausible sizes.
    """
    where = spec.source or "ModelSpec"
    values = spec.__dict__
    for name in spec.__record_fields__:
        value = values[name]
        kind = value.__class__
        # Most fields are small ints, flags, None or short strings, which _check_value passes: checked
        # here inline (a spec has some 60 fields, and `vramkit models` builds a hundred specs).
        if kind is bool or value is None or (kind is int and 0 <= value <= MAX_FIELD) or (kind is str and len(value) <= 4096) \
                or (kind is tuple and not value):
            continue
        if name == "kv_shared_from":  # -1: the layer keeps its own K/V; else an earlier layer's index
            need_shared = all(isinstance(j, int) and not isinstance(j, bool) and -1 <= j < i
                              for i, j in enumerate(spec.kv_shared_from))
            if not need_shared:
                raise VramkitError(f"{where}: kv_shared_from must give, per layer, -1 or an earlier layer")
        elif name not in ("source", "quantization"):  # quantization_config: read by vramkit.checkpoints
            _check_value(where, name, value)

    def need(ok: bool, message) -> None:
        # `message`: a string, or a function that writes it (an f-string is formatted only on failure)
        if not ok:
            raise VramkitError(f"{where}: {message() if callable(message) else message}")

    need(isinstance(spec.model_type, str) and spec.model_type != "", "model_type must be a non-empty string")
    for name in ("hidden_size", "num_layers", "vocab_size"):
        value = getattr(spec, name)
        need(isinstance(value, int) and not isinstance(value, bool) and value > 0,
             lambda: f"{name} must be a positive integer, got {value!r}")
    for name in ("num_heads", "num_kv_heads", "head_dim", "intermediate_size"):
        value = getattr(spec, name)
        need(isinstance(value, int) and not isinstance(value, bool),
             lambda: f"{name} must be a non-negative integer, got {value!r}")
    need(spec.num_layers <= MAX_LAYERS,
         lambda: f"num_hidden_layers must be at most {MAX_LAYERS:,} (got {spec.num_layers:,}); real models have a few hundred")
    if spec.num_heads:
        need(0 < spec.num_kv_heads <= spec.num_heads,
             lambda: f"num_key_value_heads ({spec.num_kv_heads}) must be between 1 and num_attention_heads ({spec.num_heads})")
        need(spec.num_heads % spec.num_kv_heads == 0,
             lambda: f"num_attention_heads ({spec.num_heads}) must be a multiple of num_key_value_heads "
             f"({spec.num_kv_heads}): each KV head serves the same number of query heads")
        need(spec.head_dim > 0, lambda: f"head_dim must be a positive integer, got {spec.head_dim!r}")
        if spec.model_type in HIDDEN_DIVISIBLE_BY_HEADS:
            need(spec.hidden_size % spec.num_heads == 0,
                 lambda: f"hidden_size ({spec.hidden_size}) must be a multiple of num_attention_heads ({spec.num_heads}) "
                 f"for {spec.model_type}")
    for name in ("layer_types", "moe_layers"):
        value = getattr(spec, name)
        need(isinstance(value, tuple) and len(value) in (0, spec.num_layers),
             lambda: f"{name} must have one entry per layer ({spec.num_layers}), got {len(value) if isinstance(value, tuple) else value!r}")
    need(all(isinstance(t, str) for t in spec.layer_types), "layer_types entries must be strings")
    need(all(isinstance(m, bool) for m in spec.moe_layers), "moe_layers entries must be true or false")
    need(spec.sliding_window is None or (isinstance(spec.sliding_window, int) and not isinstance(spec.sliding_window, bool)
                                         and spec.sliding_window > 0),
         lambda: f"sliding_window must be a positive integer or null, got {spec.sliding_window!r}")
    need(spec.qk_norm in ("none", "head", "proj"), lambda: f"qk_norm must be 'none', 'head' or 'proj', got {spec.qk_norm!r}")
    if any(spec.moe_layers) and spec.num_experts > 0:
        need(1 <= spec.experts_per_token <= spec.num_experts,
             lambda: f"num_experts_per_tok ({spec.experts_per_token}) must be between 1 and the number of experts "
             f"({spec.num_experts})")
    if spec.is_mla:
        need(spec.qk_rope_head_dim <= spec.head_dim,
             lambda: f"qk_rope_head_dim ({spec.qk_rope_head_dim}) must not exceed the query/key head width ({spec.head_dim})")
    need(spec.params() <= MAX_PARAMS, lambda: f"{spec.params():,} parameters is beyond any model (at most {MAX_PARAMS:,})")
    return spec
