"""The token mixers of hybrid models, counted as transformers 5 builds them, and their cache state.

Each function returns `(linear, other, state)`: the elements of the mixer's nn.Linear weights
(and their biases), of its other parameters (the depthwise conv kernel and bias, A_log, D,
dt_bias, inner norms), and what one layer's cache holds per sequence after a prefill, as
`ModelSpec.mixer_state` tuples. transformers' cache keeps the conv state (the last
`kernel` inputs of the depthwise convolution) in the model's dtype, and the recurrent state
that the torch paths (and the flash-linear-attention / mamba-ssm kernels) return in fp32
(tests/reference/static_hybrid.json). Widths are elements; `h` is hidden_size.
"""
from __future__ import annotations

from ..errors import VramkitError
from ..model import _Config


def with_defaults(c: _Config, defaults: dict, aliases: dict | None = None) -> _Config:
    """`c` with the config class's defaults for absent keys, and its aliases resolved
    (`aliases`: {name in the file: the class's field}, transformers' attribute_map and
    __post_init__ renames; where a file has both, the alias wins, as `kwargs.pop(alias)` does).
    A key present but null keeps null, as in the dataclass."""
    data = dict(c.data)
    for alias, field in (aliases or {}).items():
        if alias in data:  # __post_init__'s kwargs.pop(alias): the alias wins over the field
            data[field] = data.pop(alias)
    for key, value in defaults.items():
        data.setdefault(key, value)
    return _Config(data, c.source)


def gated_deltanet(h: int, key_heads: int, value_heads: int, key_dim: int, value_dim: int, kernel: int):
    """Qwen3-Next / Qwen3.5 Gated DeltaNet: in_proj_qkvz (or in_proj_qkv + in_proj_z), in_proj_ba
    (in_proj_b + in_proj_a), out_proj; a bias-free depthwise conv over Q, K and V; dt_bias, A_log per
    value head; a gated RMSNorm over value_dim. State: the conv window and a
    value_heads x key_dim x value_dim recurrent matrix (fp32)."""
    k, v = key_heads * key_dim, value_heads * value_dim
    conv = 2 * k + v
    linear = h * (2 * k + 2 * v) + h * 2 * value_heads + v * h
    other = conv * kernel + 2 * value_heads + value_dim
    return linear, other, (("conv_states", conv * kernel, ""),
                           ("recurrent_states", value_heads * key_dim * value_dim, "fp32"))


def mamba2(h: int, heads: int, head_dim: int, groups: int, state: int, kernel: int, *, conv_bias: bool,
           in_bias: bool, out_bias: bool, norm: bool):
    """Mamba-2 (Bamba, Granite 4.0-H, Nemotron-H, Falcon-H1): in_proj to gate, x, B, C and dt
    (2 x inner + 2 x groups x state + heads), a depthwise conv over x, B and C, dt_bias, A_log, D per
    head, an optional gated RMSNorm over the inner width, out_proj. inner = heads x head_dim.
    State: the conv window and heads x head_dim x state (fp32)."""
    inner = heads * head_dim
    conv = inner + 2 * groups * state
    proj = 2 * inner + 2 * groups * state + heads
    linear = h * proj + (proj if in_bias else 0) + inner * h + (h if out_bias else 0)
    other = conv * kernel + (conv if conv_bias else 0) + 3 * heads + (inner if norm else 0)
    return linear, other, (("conv_states", conv * kernel, ""), ("recurrent_states", heads * head_dim * state, "fp32"))


def mamba2_dims(inner: int, state: int, groups: int, heads: int, conv_bias: bool, in_bias: bool, out_bias: bool,
                norm: bool) -> tuple[tuple[str, int], ...]:
    """`ModelSpec.mixer_dims` of a Mamba-2 mixer."""
    return (("d_inner", inner), ("d_state", state), ("n_group", groups), ("n_head", heads),
            ("conv_bias", int(conv_bias)), ("in_bias", int(in_bias)), ("out_bias", int(out_bias)), ("norm", int(norm)))


def mamba1(h: int, inner: int, state: int, kernel: int, dt_rank: int, *, conv_bias: bool, proj_bias: bool,
           inner_norms: bool):
    """Mamba-1 (Jamba): in_proj to x and gate (2 x inner), a depthwise conv, x_proj to dt, B, C,
    dt_proj (with bias), A_log (inner x state), D, out_proj; Jamba adds RMSNorms over dt, B and C.
    State: the conv window and inner x state (fp32)."""
    linear = h * 2 * inner + (2 * inner if proj_bias else 0) + inner * (dt_rank + 2 * state) \
        + dt_rank * inner + inner + inner * h + (h if proj_bias else 0)
    other = inner * kernel + (inner if conv_bias else 0) + inner * state + inner \
        + ((dt_rank + 2 * state) if inner_norms else 0)
    return linear, other, (("conv_states", inner * kernel, ""), ("recurrent_states", inner * state, "fp32"))


def short_conv(h: int, kernel: int, *, bias: bool):
    """LFM2's gated short convolution: in_proj to B, C, x (3 x hidden), a depthwise conv of
    `kernel` taps, out_proj. State: the conv window only (hidden x kernel)."""
    linear = 3 * h * h + h * h + (4 * h if bias else 0)
    other = h * kernel + (h if bias else 0)
    return linear, other, (("conv_states", h * kernel, ""),)


def layer_kinds(c: _Config, field: str, n: int, names: dict) -> tuple[str, ...]:
    """A list of per-layer names in `field` mapped through `names` (one-line error otherwise)."""
    kinds = c.get(field)
    if not isinstance(kinds, list) or len(kinds) != n:
        raise VramkitError(f"{c.source}: field '{field}' must list {n} layer kinds")
    out = []
    for k in kinds:
        if k not in names:
            from ..errors import unknown

            raise VramkitError(f"{c.source}: {unknown(field, k, names)}")
        out.append(names[k])
    return tuple(out)
