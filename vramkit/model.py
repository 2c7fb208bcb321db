"""Architecture facts from a Hugging Face `config.json`, and exact parameter counts.

`ModelSpec.from_config` reads a config (a dict, a `config.json` path, or a folder holding one)
the way transformers does, defaults included, and `ModelSpec.params` counts the elements of the
`nn.Parameter`s that transformers builds from it: every bias, norm, router, sink and tied or
untied head. The counts are checked against meta-device models in tests/reference.

Explained in the chapter on parameters (chapters/*/01-parameters.ipynb).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

from .errors import VramkitError, unknown

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

# A wrapper config that no family registers (e.g. llama4, gemma3n, whose towers are not modelled)
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
CLASS_DEFAULTS: dict[str, dict[str, Any]] = {
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


@dataclass(frozen=True)
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
    extra_params: tuple[tuple[str, int], ...] = ()  # named parameters the model holds once
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
    quantization: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)
    torch_dtype: str | None = field(default=None, compare=False, repr=False)

    # ---- construction -------------------------------------------------------------------

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | str | Path, *, source: str = "") -> "ModelSpec":
        """Read a config dict, a `config.json` path or a folder holding one."""
        if not isinstance(config, Mapping):
            path = Path(config)
            config = read_config_file(path)
            source = source or str(path)
        spec = _read(dict(config), source or "config")
        # Both sit at the top of a multimodal config too, beside its text_config.
        quant = config.get("quantization_config")
        dtype = config.get("torch_dtype") or config.get("dtype") or (config.get("text_config") or {}).get("torch_dtype")
        if quant is not None and not isinstance(quant, Mapping):
            raise VramkitError(f"{source or 'config'}: field 'quantization_config' must be an object")
        if quant or dtype:
            spec = replace(spec, quantization=dict(quant) if quant else None,
                           torch_dtype=dtype if isinstance(dtype, str) else None)
        return spec

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

    @property
    def attention_layer_count(self) -> int:
        return sum(self.has_attention(i) for i in range(self.num_layers))

    @property
    def mixer_layer_count(self) -> int:
        return sum(self.has_mixer(i) for i in range(self.num_layers))

    @property
    def is_hybrid(self) -> bool:
        """Some layer is not plain attention + MLP: a recurrent or convolution mixer, or no mixer."""
        return bool(self.layer_types) and any(t in _NO_ATTENTION or t == HYBRID for t in self.layer_types) \
            or bool(self.mlp_layers) and not all(self.mlp_layers)

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
        h, v = self.hidden_size, self.vocab_size
        moe = sum(self.moe_layers)
        dense = sum(self.has_dense_mlp(i) for i in range(self.num_layers))
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


def read_config_file(path: Path) -> dict:
    """The JSON object in `path` (or `path`/config.json), or a one-line VramkitError."""
    if path.is_dir():
        path = path / "config.json"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise VramkitError(f"{path}: no such file") from None
    except OSError as e:
        raise VramkitError(f"{path}: cannot read ({e.strerror})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise VramkitError(f"{path}: not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
    if not isinstance(data, dict):
        raise VramkitError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


class _Config:
    """A config dict with one-line errors for missing or wrong fields."""

    def __init__(self, data: dict, source: str):
        self.data, self.source = data, source

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def get(self, key: str, default=None):
        value = self.data.get(key)
        return default if value is None else value

    def int(self, *keys: str, default: int | None = None, allow_zero: bool = False) -> int:
        """The first of `keys` that is present, as a positive int."""
        for key in keys:
            if self.data.get(key) is not None:
                value = self.data[key]
                if isinstance(value, bool) or not isinstance(value, int) or value < 0 or (value == 0 and not allow_zero):
                    raise VramkitError(
                        f"{self.source}: field '{key}' must be a positive integer, got {value!r}")
                return value
        if default is not None:
            return default
        raise VramkitError(f"{self.source}: missing field '{keys[0]}' (needed for {self.data.get('model_type')})")

    def bool(self, key: str, default: bool) -> bool:
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise VramkitError(f"{self.source}: field '{key}' must be true or false, got {value!r}")
        return value


def _layer_types(c: _Config, n_layers: int, window: int | None, rule) -> tuple[tuple[str, ...], int | None]:
    """Per-layer attention kinds: the config's `layer_types`, else the family's `rule(i)`."""
    if window is None:
        return (FULL,) * n_layers, None
    types = c.get("layer_types")
    if types is not None:
        if not isinstance(types, list) or len(types) != n_layers:
            raise VramkitError(f"{c.source}: field 'layer_types' must list {n_layers} layer kinds")
        return tuple(SLIDING if t in (SLIDING, "chunked_attention") else FULL for t in types), window
    return tuple(SLIDING if rule(i) else FULL for i in range(n_layers)), window


def _every_nth_full(pattern: int):
    """Sliding except every `pattern`-th layer (Gemma 2/3, gpt-oss, EXAONE 4)."""
    return lambda i: bool((i + 1) % pattern) if pattern else False


def _read(data: dict, source: str) -> ModelSpec:
    for key in _WRAPPERS:
        if (data.get("model_type") not in READERS and isinstance(data.get(key), dict)
                and data[key].get("model_type", data.get("model_type"))):
            inner = dict(data[key])
            inner.setdefault("model_type", data.get("model_type"))
            inner["model_type"] = _TEXT_TYPE.get(inner["model_type"], inner["model_type"])
            data = inner
            break
    model_type = data.get("model_type")
    data = _as_transformers_reads(data, model_type)
    if model_type is None:
        raise VramkitError(f"{source}: missing field 'model_type' (one of: {', '.join(sorted(READERS))})")
    if model_type not in READERS:
        err = unknown("model_type", model_type, READERS)
        raise VramkitError(f"{source}: {err}; supported: {', '.join(sorted(READERS))}")
    return READERS[model_type](_Config(data, source), model_type)


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
    window = c.data.get("sliding_window", 4096) if t == "mistral" else c.get("sliding_window")
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
    window = c.get("sliding_window") if c.bool("use_sliding_window", False) else None
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
        only_dense = set(c.get("mlp_only_layers", []))
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
    window = c.get("sliding_window", 4096)
    if t == "gemma3_text" and c.bool("use_bidirectional_attention", False):
        window = window // 2 + 1  # Gemma3TextConfig: a window of w//2 on either side, bounds exclusive
    f["layer_types"], f["sliding_window"] = _layer_types(c, n, window, _every_nth_full(pattern))
    return ModelSpec(**f)


def _phi3(c: _Config, t: str) -> ModelSpec:
    f = _base(c, t)  # fused qkv_proj and gate_up_proj hold the same elements as separate ones
    f["layer_types"], f["sliding_window"] = _layer_types(
        c, f["num_layers"], c.get("sliding_window"), lambda i: True)
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
    window = c.data.get("sliding_window", 4096)  # Exaone4Config's default when the key is absent
    pattern = c.get("sliding_window_pattern", 4)
    if isinstance(pattern, str):  # e.g. "LLLG": local, local, local, global
        rule = lambda i: pattern[i % len(pattern)] == "L"  # noqa: E731
    else:
        rule = _every_nth_full(pattern)
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
    return ModelSpec(**f)


def _gpt_oss(c: _Config, t: str) -> ModelSpec:
    f = _base(c, t, qkv_bias=c.bool("attention_bias", True), o_bias=c.bool("attention_bias", True),
              sinks=True, router_bias=True, expert_bias=True, mlp_bias=False)
    n = f["num_layers"]
    f.update(num_experts=c.int("num_local_experts"), experts_per_token=c.int("num_experts_per_tok"),
             moe_intermediate_size=f["intermediate_size"], moe_layers=(True,) * n)
    f["layer_types"], f["sliding_window"] = _layer_types(c, n, c.get("sliding_window", 128), _every_nth_full(2))
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
