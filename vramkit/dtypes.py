"""Number formats: bits per element (scales included), range and precision.

Every fact here is read from a library that implements the format, never typed in:
float formats from `ml_dtypes.finfo` (and numpy's for fp32/fp16), integer ranges from
`ml_dtypes.iinfo`, GGUF block sizes from ggml's type table (`GGML_TYPES`, checked against gguf). Memory is
counted from bits, never from numpy's `itemsize` (ml_dtypes stores a 4-bit value in a whole byte).

`Format.bits` is the exact average number of bits per element as a `Fraction`, block scales
included: NF4 with bitsandbytes' 64-element blocks and an fp32 absmax is 4 + 32/64 = 4.5 bits.

GGUF "mixes" such as Q4_K_M are file types, not block types: llama.cpp picks a block type per
tensor (Q6_K for the output head, more bits for some attn_v/ffn_down layers). Their size depends on
the model, so it comes from `gguf_model_bytes(spec, "Q4_K_M")`, which follows llama.cpp's rules.

Explained in the chapter on number formats (chapters/*/02-formats.ipynb).
"""
from __future__ import annotations

import functools
import math
from fractions import Fraction

from .errors import VramkitError, unknown
from .record import record

KINDS = ("float", "int", "nf", "mx", "gguf", "affine")


@record
class Format:
    """A storage format.

    `bits` is the exact average bits per element, block scales included. `dtype` names the
    numpy/ml_dtypes type of one element (float and int formats; for MX formats the element type).
    `block_size` is the number of elements that share one scale (1: no block). For a GGUF mix
    (`mix=True`) `bits` is that of its `base` block type; the file's real average depends on the
    model (see `gguf_model_bytes`).
    """

    name: str
    bits: Fraction
    kind: str
    description: str = ""
    dtype: str | None = None
    block_size: int = 1
    scale_dtype: str | None = None
    base: str | None = None
    mix: bool = False

    @property
    def bytes_per_param(self) -> Fraction:
        """Average bytes per element (bits / 8), exact."""
        return self.bits / 8

    # ---- float facts (from ml_dtypes.finfo / numpy.finfo) ---------------------------------

    def _finfo(self):
        import ml_dtypes

        if self.kind not in ("float", "mx") or self.dtype is None:
            raise VramkitError(f"dtype '{self.name}' is not a floating-point format")
        return ml_dtypes.finfo(np_dtype(self.dtype))

    @property
    def exponent_bits(self) -> int:
        return int(self._finfo().nexp)

    @property
    def mantissa_bits(self) -> int:
        return int(self._finfo().nmant)

    @property
    def sign_bits(self) -> int:
        # Whatever the exponent and mantissa do not use (0 for the unsigned e8m0 scale type).
        return int(self._finfo().bits) - self.exponent_bits - self.mantissa_bits

    @property
    def exponent_bias(self) -> int:
        # minexp is the exponent of the smallest normal number, 1 - bias, for every format here.
        return 1 - int(self._finfo().minexp)

    @property
    def max(self) -> float:
        return float(self._finfo().max)

    @property
    def smallest_normal(self) -> float:
        return float(self._finfo().smallest_normal)

    @property
    def smallest_subnormal(self) -> float:
        return float(self._finfo().smallest_subnormal)

    @property
    def eps(self) -> float:
        """Machine epsilon: the gap between 1 and the next representable number."""
        return float(self._finfo().eps)

    @property
    def has_inf(self) -> bool:
        return _special_values(self.dtype)[0]

    @property
    def has_nan(self) -> bool:
        return _special_values(self.dtype)[1]


def np_dtype(name: str):
    """The numpy dtype called `name`, looked up in ml_dtypes first ('bfloat16', 'float8_e4m3fn')."""
    import ml_dtypes
    import numpy as np

    return np.dtype(getattr(ml_dtypes, name, None) or name)


@functools.cache
def _special_values(dtype: str) -> tuple[bool, bool]:
    """(has inf, has nan): every code of a <=16-bit type is decoded; fp32 is IEEE 754."""
    import ml_dtypes
    import numpy as np

    dt = np_dtype(dtype)
    bits = ml_dtypes.finfo(dt).bits
    if bits > 16:
        probe = np.array([np.inf, np.nan]).astype(dt)
        return bool(np.isinf(probe[0])), bool(np.isnan(probe[1]))
    with np.errstate(invalid="ignore"):  # NaN codes are expected here
        values = _all_codes(dt, bits).astype(np.float64)
    return bool(np.isinf(values).any()), bool(np.isnan(values).any())


def _all_codes(dt, bits: int):
    """Every bit pattern of a `bits`-wide type, decoded as `dt` (ml_dtypes keeps sub-byte types in uint8)."""
    import numpy as np

    container = np.uint8 if dt.itemsize == 1 else np.uint16
    return np.arange(2 ** bits, dtype=container).view(dt)


# ---- the formats ----------------------------------------------------------------------------

# Element widths of the ml_dtypes/numpy types, so that `get_format("bf16").bits` needs neither
# numpy nor ml_dtypes at import time (the CLI stays fast). tests/test_dtypes.py checks every entry
# against ml_dtypes.finfo / iinfo.
ELEMENT_BITS = {
    "float32": 32, "float16": 16, "bfloat16": 16, "float8_e4m3fn": 8, "float8_e5m2": 8,
    "float8_e8m0fnu": 8, "float6_e2m3fn": 6, "float6_e3m2fn": 6, "float4_e2m1fn": 4, "int8": 8, "int4": 4,
}


def _float(name: str, dtype: str, description: str) -> Format:
    return Format(name, Fraction(ELEMENT_BITS[dtype]), "float", description, dtype)


def _int(name: str, dtype: str, description: str) -> Format:
    return Format(name, Fraction(ELEMENT_BITS[dtype]), "int", description, dtype)


def _bits_of(dtype: str) -> int:
    return ELEMENT_BITS[dtype]


# bitsandbytes 4-bit defaults (QLoRA): 64 weights per absmax; with double quantization the absmax
# values are themselves quantized to 8 bits in blocks of 256, each block with an fp32 scale.
NF4_BLOCK = 64
NF4_DQ_BLOCK = 256
# OCP Microscaling (MX) v1.0: 32 elements share one e8m0 (power-of-two) scale.
MX_BLOCK = 32
# NVIDIA NVFP4: 16 e2m1 elements share one e4m3 scale (plus one fp32 scale per tensor, ignored here).
NVFP4_BLOCK = 16


def _nf4(double_quant: bool) -> Format:
    absmax = Fraction(_bits_of("float32"), NF4_BLOCK)
    if double_quant:
        absmax = Fraction(8, NF4_BLOCK) + Fraction(_bits_of("float32"), NF4_BLOCK * NF4_DQ_BLOCK)
        return Format("nf4_dq", 4 + absmax, "nf",
                      "NF4, double quantization: 8-bit absmax per 64, fp32 per 256 absmax (bitsandbytes)",
                      None, NF4_BLOCK, "int8")
    return Format("nf4", 4 + absmax, "nf", "NormalFloat4, fp32 absmax per 64 weights (bitsandbytes, QLoRA)",
                  None, NF4_BLOCK, "float32")


def _mx(name: str, element: str, block: int, scale: str, description: str) -> Format:
    bits = Fraction(_bits_of(element)) + Fraction(_bits_of(scale), block)
    return Format(name, bits, "mx", description, element, block, scale)


_CORE: tuple[Format, ...] = (
    _float("fp32", "float32", "IEEE 754 single precision"),
    _float("fp16", "float16", "IEEE 754 half precision"),
    _float("bf16", "bfloat16", "bfloat16: fp32's exponent, 7 mantissa bits"),
    _float("fp8_e4m3", "float8_e4m3fn", "FP8 E4M3 (e4m3fn: no inf; S.1111.111 is NaN)"),
    _float("fp8_e5m2", "float8_e5m2", "FP8 E5M2 (IEEE-like: inf and NaN)"),
    _float("fp6_e2m3", "float6_e2m3fn", "FP6 E2M3 (OCP MX element, no inf/NaN)"),
    _float("fp6_e3m2", "float6_e3m2fn", "FP6 E3M2 (OCP MX element, no inf/NaN)"),
    _float("fp4_e2m1", "float4_e2m1fn", "FP4 E2M1 (OCP MX element, no inf/NaN), no scale"),
    _int("int8", "int8", "8-bit integer codes (scales not included)"),
    _int("int4", "int4", "4-bit integer codes (scales not included)"),
    _nf4(False),
    _nf4(True),
    _mx("mxfp8", "float8_e4m3fn", MX_BLOCK, "float8_e8m0fnu", "OCP MXFP8: 32 e4m3 + one e8m0 scale"),
    _mx("mxfp6", "float6_e2m3fn", MX_BLOCK, "float8_e8m0fnu", "OCP MXFP6: 32 e2m3 + one e8m0 scale"),
    _mx("mxfp4", "float4_e2m1fn", MX_BLOCK, "float8_e8m0fnu", "OCP MXFP4: 32 e2m1 + one e8m0 scale"),
    _mx("nvfp4", "float4_e2m1fn", NVFP4_BLOCK, "float8_e4m3fn", "NVIDIA NVFP4: 16 e2m1 + one e4m3 scale"),
    # MLX's affine quantization (mlx.core.quantize, what `mlx_lm.convert -q` writes): per group of
    # 64 weights one scale and one bias in the model's 16-bit dtype, w = scale * q + bias.
    Format("mlx-4bit", 4 + Fraction(2 * 16, 64), "affine", "MLX affine 4-bit: groups of 64, fp16/bf16 scale + bias",
           None, 64, "bfloat16"),
    Format("mlx-8bit", 8 + Fraction(2 * 16, 64), "affine", "MLX affine 8-bit: groups of 64, fp16/bf16 scale + bias",
           None, 64, "bfloat16"),
)

# GGUF block types (names as in gguf.GGMLQuantizationType); sizes from GGML_TYPES below.
GGUF_BLOCK_TYPES = ("Q8_0", "Q6_K", "Q5_K", "Q5_1", "Q5_0", "Q4_K", "Q4_1", "Q4_0", "Q3_K", "Q2_K")
# llama.cpp file types (llama_ftype_get_default_type): the block type most tensors get.
GGUF_MIXES = {
    "Q2_K_S": "Q2_K", "Q3_K_S": "Q3_K", "Q3_K_M": "Q3_K", "Q3_K_L": "Q3_K",
    "Q4_K_S": "Q4_K", "Q4_K_M": "Q4_K", "Q5_K_S": "Q5_K", "Q5_K_M": "Q5_K",
}

ALIASES = {
    "float32": "fp32", "f32": "fp32", "float": "fp32",
    "float16": "fp16", "f16": "fp16", "half": "fp16",
    "bfloat16": "bf16",
    "fp8": "fp8_e4m3", "float8": "fp8_e4m3", "e4m3": "fp8_e4m3", "fp8_e4m3fn": "fp8_e4m3",
    "float8_e4m3fn": "fp8_e4m3", "e5m2": "fp8_e5m2", "float8_e5m2": "fp8_e5m2",
    "fp4": "fp4_e2m1", "e2m1": "fp4_e2m1", "float4_e2m1fn": "fp4_e2m1",
    "e2m3": "fp6_e2m3", "e3m2": "fp6_e3m2",
    "nf4-dq": "nf4_dq", "nf4_double_quant": "nf4_dq",
    "mxfp6_e2m3": "mxfp6", "mxfp8_e4m3": "mxfp8",
    "mlx-4": "mlx-4bit", "mlx4": "mlx-4bit", "mlx_4bit": "mlx-4bit", "mlx-8": "mlx-8bit", "mlx8": "mlx-8bit",
    "mlx_8bit": "mlx-8bit",
}


# ggml's tensor types: id -> (name, elements per block, bytes per block), as ggml.h defines them
# (copied from gguf 0.19.0's GGML_QUANT_SIZES; tests/test_dtypes.py checks it against the installed
# gguf). Kept here so that GGUF formats, `fit` and `formats` need no gguf package and no 0.2 s import.
GGML_TYPES = {
    0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20), 6: ("Q5_0", 32, 22),
    7: ("Q5_1", 32, 24), 8: ("Q8_0", 32, 34), 9: ("Q8_1", 32, 40), 10: ("Q2_K", 256, 84), 11: ("Q3_K", 256, 110),
    12: ("Q4_K", 256, 144), 13: ("Q5_K", 256, 176), 14: ("Q6_K", 256, 210), 15: ("Q8_K", 256, 292),
    16: ("IQ2_XXS", 256, 66), 17: ("IQ2_XS", 256, 74), 18: ("IQ3_XXS", 256, 98), 19: ("IQ1_S", 256, 50),
    20: ("IQ4_NL", 32, 18), 21: ("IQ3_S", 256, 110), 22: ("IQ2_S", 256, 82), 23: ("IQ4_XS", 256, 136),
    24: ("I8", 1, 1), 25: ("I16", 1, 2), 26: ("I32", 1, 4), 27: ("I64", 1, 8), 28: ("F64", 1, 8),
    29: ("IQ1_M", 256, 56), 30: ("BF16", 1, 2), 34: ("TQ1_0", 256, 54), 35: ("TQ2_0", 256, 66),
    39: ("MXFP4", 32, 17), 40: ("NVFP4", 64, 36), 41: ("Q1_0", 128, 18),
}


@functools.cache
def _ggml_sizes() -> dict[str, tuple[int, int]]:
    """{type name: (elements per block, bytes per block)} of every ggml tensor type."""
    return {name: (block, size) for name, block, size in GGML_TYPES.values()}


def ggml_bits(type_name: str) -> Fraction:
    """Exact bits per element of a ggml tensor type ('Q4_K', 'F16', 'F32', ...)."""
    block, size = _ggml_sizes()[type_name]
    return Fraction(8 * size, block)


@functools.cache
def _formats() -> dict[str, Format]:
    out = {f.name: f for f in _CORE}
    sizes = _ggml_sizes()
    for name in GGUF_BLOCK_TYPES:
        block, size = sizes[name]
        out[name] = Format(name, ggml_bits(name), "gguf", f"GGUF {name}: {size} bytes per {block} weights",
                           None, block, base=name)
    for name, base in GGUF_MIXES.items():
        out[name] = Format(name, ggml_bits(base), "gguf",
                           f"GGUF file type {name}: mostly {base}, model-dependent mix", None,
                           sizes[base][0], base=base, mix=True)
    return out


_CORE_BY_NAME = {f.name: f for f in _CORE}


def __getattr__(attr: str):
    # FORMATS is built on first use (the GGUF entries are derived from GGML_TYPES).
    if attr == "FORMATS":
        return _formats()
    raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")


def get_format(name: str | Format) -> Format:
    """The format called `name` (case-insensitive; aliases such as 'bfloat16' or 'e4m3' accepted)."""
    if name.__class__ is str:  # the hot path: a name seen before costs one dict lookup
        fmt = _BY_SPELLING.get(name)
        if fmt is not None:
            return fmt
    elif isinstance(name, Format):
        return name
    key = str(name).strip().lower()
    key = ALIASES.get(key, key)
    fmt = _CORE_BY_NAME.get(key)  # the common case: no GGUF table to build
    if fmt is None:
        fmt = _formats_by_lower_name().get(key)
    if fmt is None:
        raise unknown("dtype", name, list(_formats()) + list(ALIASES))
    if name.__class__ is str and len(_BY_SPELLING) < 4096:  # bounded: spellings a user typed
        _BY_SPELLING[name] = fmt
    return fmt


_BY_SPELLING: dict[str, Format] = {}  # exactly as the caller spelled it -> its format


@functools.cache
def _formats_by_lower_name() -> dict[str, Format]:
    return {fmt_name.lower(): fmt for fmt_name, fmt in reversed(list(_formats().items()))}


def storage_bytes(n_elements: int, fmt: str | Format) -> int:
    """Bytes to store `n_elements` in `fmt` at its average rate (scales included), rounded up.

    Exact when `n_elements` is a multiple of the format's block size. A GGUF mix (Q4_K_M, Q3_K_S, ...)
    has no rate of its own: llama.cpp picks a block type per tensor, so its size needs the model
    (`inference.weights_bytes(spec, "Q4_K_M")`); pricing it at its base type's flat rate would give
    a second, wrong answer for one name, so it raises.
    """
    if n_elements.__class__ is not int or n_elements < 0:  # the common case costs one test
        from .errors import require_positive

        n_elements = require_positive("n_elements", n_elements, allow_zero=True)
    fmt = get_format(fmt)
    if fmt.mix:
        raise VramkitError(
            f"dtype '{fmt.name}' is a GGUF mix (a block type per tensor), not a flat format: price it with "
            f"vramkit.inference.weights_bytes(spec, '{fmt.name}'), or use its base type '{fmt.base}' for a flat rate")
    return -(-n_elements * fmt.bits.numerator // (8 * fmt.bits.denominator))


# ---- bit-level views --------------------------------------------------------------------------

def _float_format(fmt: str | Format) -> Format:
    fmt = get_format(fmt)
    if fmt.kind != "float":
        raise VramkitError(f"dtype '{fmt.name}' is not a plain floating-point format; "
                           "expected one of: " + ", ".join(f.name for f in _CORE if f.kind == "float"))
    return fmt


def bit_fields(value: float, fmt: str | Format) -> dict:
    """`value` cast (round to nearest even) to `fmt`, and its sign/exponent/mantissa bit strings.

    Returns {"value": the rounded value as a float, "bits": all bits, "sign", "exponent", "mantissa"}.
    """
    import numpy as np

    fmt = _float_format(fmt)
    dt = np_dtype(fmt.dtype)
    with np.errstate(over="ignore", invalid="ignore"):  # out of range gives inf or NaN, as the format does
        x = np.array([value], dtype=np.float64).astype(dt)
    width = _bits_of(fmt.dtype)
    container = {1: np.uint8, 2: np.uint16, 4: np.uint32}[dt.itemsize]
    code = int(x.view(container)[0]) & ((1 << width) - 1)  # sub-byte types sit in the low bits
    text = format(code, f"0{width}b")
    s, e = fmt.sign_bits, fmt.exponent_bits
    return {"value": float(x.astype(np.float64)[0]), "bits": text,
            "sign": text[:s], "exponent": text[s:s + e], "mantissa": text[s + e:]}


def all_values(fmt: str | Format):
    """Every finite value of a float format of at most 8 bits, one per code, in code order (float64 array).

    Both zeros (+0 and -0) are kept, since they are distinct codes.
    """
    import numpy as np

    fmt = _float_format(fmt)
    width = _bits_of(fmt.dtype)
    if width > 8:
        raise VramkitError(f"dtype '{fmt.name}' has {width} bits; all_values lists formats of at most 8 bits")
    with np.errstate(invalid="ignore"):  # NaN codes are dropped below
        values = _all_codes(np_dtype(fmt.dtype), width).astype(np.float64)
    return values[np.isfinite(values)]


# The finfo / iinfo facts formats_table shows, as ml_dtypes gives them ((max, smallest normal,
# smallest subnormal, eps) for floats, (min, max) for ints). Constants of the formats, kept here so
# that `vramkit formats` answers without importing numpy and ml_dtypes (about 0.2 s);
# tests/test_robust.py checks every entry against ml_dtypes.
RANGE_FACTS = {
    "float32": (3.4028234663852886e+38, 1.1754943508222875e-38, 1.401298464324817e-45, 1.1920928955078125e-07),
    "float16": (65504.0, 6.103515625e-05, 5.960464477539063e-08, 0.0009765625),
    "bfloat16": (3.3895313892515355e+38, 1.1754943508222875e-38, 9.183549615799121e-41, 0.0078125),
    "float8_e4m3fn": (448.0, 0.015625, 0.001953125, 0.125),
    "float8_e5m2": (57344.0, 6.103515625e-05, 1.52587890625e-05, 0.25),
    "float6_e2m3fn": (7.5, 1.0, 0.125, 0.125),
    "float6_e3m2fn": (28.0, 0.25, 0.0625, 0.25),
    "float4_e2m1fn": (6.0, 1.0, 0.5, 0.5),
    "int8": (-128.0, 127.0),
    "int4": (-8.0, 7.0),
}


def formats_table() -> list[dict]:
    """One plain dict per format: name, bits, bytes_per_param, kind, and range facts where defined.

    A GGUF mix (Q4_K_M, ...) has bits and bytes_per_param None: its average depends on the model
    (`gguf_bits_per_weight(spec, name)`); `base` names the block type most of its tensors get.
    """
    rows = []
    for fmt in _formats().values():
        # A GGUF mix has no rate of its own (its bits depend on the model): None, with its base type.
        row = {"name": fmt.name, "kind": fmt.kind, "bits": None if fmt.mix else float(fmt.bits),
               "bytes_per_param": None if fmt.mix else float(fmt.bytes_per_param), "block_size": fmt.block_size,
               "mix": fmt.mix, "base": fmt.base, "description": fmt.description,
               "max": None, "smallest_normal": None, "smallest_subnormal": None, "eps": None}
        facts = RANGE_FACTS.get(fmt.dtype)
        if fmt.kind in ("float", "mx"):
            if facts is None:  # a format added without its facts: ask ml_dtypes
                facts = (fmt.max, fmt.smallest_normal, fmt.smallest_subnormal, fmt.eps)
            row.update(zip(("max", "smallest_normal", "smallest_subnormal", "eps"), facts))
        elif fmt.kind == "int":
            if facts is None:
                import ml_dtypes

                info = ml_dtypes.iinfo(np_dtype(fmt.dtype))
                facts = (float(info.min), float(info.max))
            row.update(min=facts[0], max=facts[1])
        rows.append(row)
    return rows


# ---- GGUF files: llama.cpp's per-tensor types ---------------------------------------------------

@record
class GGUFTensor:
    """One tensor of a GGUF file: llama.cpp name, ggml shape (ne[0] = row length first), ggml type."""

    name: str
    shape: tuple[int, ...]
    type: str

    @property
    def n_elements(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        block, size = _ggml_sizes()[self.type]
        return self.n_elements // block * size


# File types whose tensors all get the base type (apart from the output head and 1-D tensors).
_PLAIN_FTYPES = {"F32": "F32", "F16": "F16", "BF16": "BF16", "Q4_0": "Q4_0", "Q4_1": "Q4_1",
                 "Q5_0": "Q5_0", "Q5_1": "Q5_1", "Q8_0": "Q8_0", "Q2_K": "Q2_K", "Q6_K": "Q6_K"}
GGUF_FILE_TYPES = tuple(_PLAIN_FTYPES) + tuple(GGUF_MIXES)
# llama-quantize accepts these block-type names as aliases for the _M mixes (QUANT_OPTIONS).
_FTYPE_ALIASES = {"Q3_K": "Q3_K_M", "Q4_K": "Q4_K_M", "Q5_K": "Q5_K_M"}
# tensor_type_fallback: a type whose block does not divide the row length falls back to these.
_FALLBACK = {"Q2_K": "Q4_0", "Q3_K": "Q4_0", "Q4_K": "Q5_0", "Q5_K": "Q5_1", "Q6_K": "Q8_0"}
_QUANTIZED = set(GGUF_BLOCK_TYPES)


def _gguf_layout(spec) -> list[tuple[str, tuple[int, ...], int]]:
    """(name, ggml shape, layer or -1) of every tensor llama.cpp's converter writes for `spec`.

    Follows convert_hf_to_gguf's names; 1-D tensors (norms, biases, sinks) are listed too.
    """
    h, v = spec.hidden_size, spec.vocab_size
    norm = [(h,)] * (2 if spec.norm_bias else 1)
    t = [("token_embd.weight", (h, v), -1)]
    if spec.learned_positions:
        t.append(("position_embd.weight", (h, spec.learned_positions), -1))
    t += [(f"output_norm.{i}", s, -1) for i, s in enumerate(norm)]
    if not spec.tie_word_embeddings and getattr(spec, "lm_head", True):
        t.append(("output.weight", (h, v), -1))
    fused = spec.model_type == "phi3"  # llama.cpp keeps Phi-3's fused qkv and gate_up tensors
    for L in range(spec.num_layers):
        p = f"blk.{L}."
        t += [(p + f"norm{k}_{i}", s, L) for k in range(spec.norms_per_layer) for i, s in enumerate(norm)]
        if spec.has_mixer(L):  # Mamba, Gated DeltaNet, short convolution (gguf_mixers)
            from .gguf_mixers import mixer_tensors

            t += [(name, shape, L) for name, shape in mixer_tensors(spec, p)]
        if not spec.has_attention(L):
            pass
        elif spec.is_mla:
            qk, nh = spec.head_dim, spec.num_heads
            if spec.q_lora_rank:
                t += [(p + "attn_q_a.weight", (h, spec.q_lora_rank), L),
                      (p + "attn_q_a_norm.weight", (spec.q_lora_rank,), L),
                      (p + "attn_q_b.weight", (spec.q_lora_rank, nh * qk), L)]
            else:
                t.append((p + "attn_q.weight", (h, nh * qk), L))
            # Today's converter splits kv_b into per-head K and V parts (attn_k_b, attn_v_b), the form
            # llama.cpp needs to cache the latent; llama-quantize treats them as plain tensors.
            nope = qk - spec.qk_rope_head_dim
            t += [(p + "attn_kv_a_mqa.weight", (h, spec.kv_lora_rank + spec.qk_rope_head_dim), L),
                  (p + "attn_kv_a_norm.weight", (spec.kv_lora_rank,), L),
                  (p + "attn_k_b.weight", (nope, spec.kv_lora_rank, nh), L),
                  (p + "attn_v_b.weight", (spec.kv_lora_rank, spec.value_head_dim, nh), L),
                  (p + "attn_output.weight", (nh * spec.value_head_dim, h), L)]
        else:
            q, kv = spec.q_dim, spec.kv_dim
            # A layer that reuses another's K/V (gemma3n) has no K/V projections or K norm as
            # transformers builds it (the checkpoint keeps them; they are not counted here).
            own_kv = not (spec.kv_shared_from and spec.kv_shared_from[L] >= 0)
            if fused:
                t.append((p + "attn_qkv.weight", (h, q + 2 * kv), L))
            else:
                # A gated attention (Qwen3-Next) has q_proj twice as wide: the query and its gate.
                t.append((p + "attn_q.weight", (h, 2 * q if spec.attention_gate else q), L))
                if own_kv:
                    t += [(p + "attn_k.weight", (h, kv), L), (p + "attn_v.weight", (h, kv), L)]
            t.append((p + "attn_output.weight", (q, h), L))
            if spec.qkv_bias:
                t.append((p + "attn_qkv.bias", (q + (2 * kv if own_kv else 0),), L))
            if spec.o_bias:
                t.append((p + "attn_output.bias", (h,), L))
            if spec.qk_norm == "head":
                t += [(p + "attn_q_norm.weight", (spec.head_dim,), L)]
                t += [(p + "attn_k_norm.weight", (spec.head_dim,), L)] if own_kv else []
            elif spec.qk_norm == "proj":
                t += [(p + "attn_q_norm.weight", (q,), L)] + ([(p + "attn_k_norm.weight", (kv,), L)] if own_kv else [])
            if spec.sinks:
                t.append((p + "attn_sinks.weight", (spec.num_heads,), L))
        moe = bool(spec.moe_layers) and spec.moe_layers[L] and spec.num_experts > 0
        if moe:
            e, w = spec.num_experts, spec.moe_intermediate_size
            t.append((p + "ffn_gate_inp.weight", (h, e), L))
            if spec.router_bias:
                t.append((p + "ffn_gate_inp.bias", (e,), L))
            if spec.mlp_gated:
                t.append((p + "ffn_gate_exps.weight", (h, w, e), L))
            t += [(p + "ffn_up_exps.weight", (h, w, e), L), (p + "ffn_down_exps.weight", (w, h, e), L)]
            if spec.expert_bias or spec.mlp_bias:
                mats = 2 if spec.mlp_gated else 1
                t += [(p + "ffn_up_exps.bias", (mats * w, e), L), (p + "ffn_down_exps.bias", (h, e), L)]
            if spec.shared_expert_size:
                t += _mlp(spec, p, "_shexp", spec.shared_expert_size, L, fused=False)
                if spec.shared_expert_gate:
                    t.append((p + "ffn_gate_inp_shexp.weight", (h,), L))
        elif spec.has_dense_mlp(L):
            width = spec.intermediate_sizes[L] if spec.intermediate_sizes else spec.intermediate_size
            t += _mlp(spec, p, "", width, L, fused)
        t += [(p + f"{name}.weight", _extra_shape(h, n), L) for name, n in spec.layer_extra_params]
    t += [(f"{name}.weight", _extra_shape(h, n), -1) for name, n in spec.extra_params]
    # Groups the decoder layout above does not name: a multimodal model's vision tower and projector
    # (llama.cpp writes them to a separate mmproj file, F16 by default) and an encoder's extra tables
    # and heads (token types, poolers, T5's encoder stack), kept as one F16 block each.
    t += [(f"mmproj.{name}", (n,), -1) for name, n in getattr(spec, "towers", ()) if n]
    t += [(f"extra.{name}", (n,), -1) for name, n in getattr(spec, "components", ()) if n]
    return t


def _extra_shape(h: int, n: int) -> tuple[int, ...]:
    """A stand-in shape for `n` elements of a family's extra tensors (DSA indexer, AltUp, Laurel,
    per-layer embeddings): rows of `hidden_size` where they divide, else one F32 vector. An
    estimate of their GGUF types: llama.cpp names and types them per architecture."""
    return (h, n // h) if n % h == 0 else (n,)


def _mlp(spec, p: str, suffix: str, width: int, layer: int, fused: bool) -> list:
    h = spec.hidden_size
    t = []
    if spec.mlp_gated and fused:
        t.append((p + f"ffn_up{suffix}.weight", (h, 2 * width), layer))
    elif spec.mlp_gated:
        t += [(p + f"ffn_gate{suffix}.weight", (h, width), layer), (p + f"ffn_up{suffix}.weight", (h, width), layer)]
    else:
        t.append((p + f"ffn_up{suffix}.weight", (h, width), layer))
    t.append((p + f"ffn_down{suffix}.weight", (width, h), layer))
    if spec.mlp_bias:
        t += [(p + f"ffn_up{suffix}.bias", ((2 if spec.mlp_gated else 1) * width,), layer),
              (p + f"ffn_down{suffix}.bias", (h,), layer)]
    return t


def _category(name: str) -> str:
    """llama.cpp's tensor_get_category, by the same substring tests in the same order."""
    if name == "output.weight":
        return "output"
    if name == "token_embd.weight":
        return "token_embd"
    for key, cat in (("attn_qkv.weight", "attn_qkv"), ("attn_kv_b.weight", "attn_kv_b"),
                     ("attn_v.weight", "attn_v"), ("attn_k.weight", "attn_k"), ("attn_q.weight", "attn_q"),
                     ("attn_output.weight", "attn_output"), ("ffn_up", "ffn_up"), ("ffn_gate", "ffn_gate"),
                     ("ffn_down", "ffn_down")):
        if key in name:
            return cat
    return "other"


def _quantizable(name: str, shape: tuple[int, ...]) -> bool:
    """llama.cpp's tensor_allows_quantization for the tensors `_gguf_layout` writes."""
    # ggml_n_dims: trailing dimensions of 1 do not count
    n_dims = len(shape)
    while n_dims > 1 and shape[n_dims - 1] == 1:
        n_dims -= 1
    return (n_dims >= 2 and name.endswith("weight") and "_norm.weight" not in name
            and "ffn_gate_inp" not in name and name != "position_embd.weight" and not _not_quantized(name))


def _not_quantized(name: str) -> bool:
    """gguf_mixers.not_quantized, imported on the first call (a module above this floor) rather
    than by an import statement run once per tensor."""
    global _not_quantized
    from .gguf_mixers import not_quantized

    _not_quantized = not_quantized
    return not_quantized(name)


def _use_more_bits(i: int, n: int) -> bool:
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


def _pick(spec, ftype: str, base: str, row: int, cat: str, layer: int, i_attn_v: int, n_attn_v: int,
          i_ffn_down: int = -1) -> str:
    """llama_tensor_get_type_impl for the k-quant and legacy file types (no imatrix, no IQ types)."""
    n_expert = spec.num_experts
    n_layer = spec.num_layers
    # hparams.n_gqa() of layer 0: 0 where layer 0 has no attention (a hybrid's per-layer head_count_kv)
    gqa = spec.num_heads // max(spec.num_kv_heads, 1) if spec.has_attention(0) else 0
    # llama.cpp's LLM_TYPE_70B: 80-layer Llama-like models with GQA (Llama 2/3 70B, Qwen2 72B).
    is_70b = n_layer == 80 and spec.num_kv_heads < spec.num_heads
    t = base
    if cat == "output" or (cat == "token_embd" and spec.tie_word_embeddings):
        # The head is the most sensitive tensor: Q6_K unless the base is already Q8_0 or its
        # block does not divide the row length.
        if base == "Q8_0" or row % _ggml_sizes()[base][0]:
            return "Q8_0"
        return "Q6_K"
    if cat == "token_embd":
        return base
    if cat in ("attn_v", "attn_qkv", "attn_kv_b"):  # llama.cpp's category_is_attn_v
        if ftype == "Q2_K":
            t = "Q4_K" if gqa >= 4 else "Q3_K"
        elif ftype == "Q2_K_S" and gqa >= 4:
            t = "Q4_K"
        elif ftype == "Q3_K_M":
            t = "Q5_K" if i_attn_v < 2 else "Q4_K"
        elif ftype == "Q3_K_L":
            t = "Q5_K"
        elif ftype in ("Q4_K_M", "Q5_K_M") and _use_more_bits(i_attn_v, n_attn_v):
            t = "Q6_K"
        elif ftype == "Q4_K_S" and i_attn_v < 4:
            t = "Q5_K"
        if is_70b and t in ("Q3_K", "Q4_K"):
            t = "Q5_K"
        if n_expert == 8:
            t = "Q8_0"
    elif cat == "attn_k":
        if n_expert == 8:
            t = "Q8_0"
    elif cat == "ffn_down":
        # llama.cpp takes the layer from the name when the model has experts, else counts the
        # ffn_down tensors in file order (Nemotron-H: the MLP layers only) out of n_layer.
        i = layer if n_expert > 1 else i_ffn_down
        if ftype == "Q2_K":
            t = "Q3_K"
        elif ftype == "Q2_K_S":
            if i < n_layer // 8:
                t = "Q4_K"
        elif ftype == "Q3_K_M":
            t = "Q5_K" if i < n_layer // 16 else "Q4_K"  # the Q3_K branch is Falcon-only
        elif ftype == "Q3_K_L":
            t = "Q5_K"
        elif ftype == "Q4_K_M":
            if _use_more_bits(i, n_layer):
                t = "Q6_K"
        elif ftype == "Q5_K_M" and _use_more_bits(i, n_layer):
            t = "Q6_K"
        elif ftype == "Q4_K_S" and i < n_layer // 8:
            t = "Q5_K"
    elif cat == "attn_output":
        if n_expert == 8:
            if ftype in ("Q2_K", "Q3_K_S", "Q3_K_M", "Q4_K_S", "Q4_K_M"):
                t = "Q5_K"
        elif ftype == "Q2_K":
            t = "Q3_K"
        elif ftype == "Q3_K_M":
            t = "Q4_K"
        elif ftype == "Q3_K_L":
            t = "Q5_K"
    return t


def gguf_tensors(spec, quant: str) -> list[GGUFTensor]:
    """Every tensor of the GGUF file llama-quantize writes for `spec` at file type `quant`.

    `spec` is a `vramkit.ModelSpec`. Follows llama.cpp's llama_tensor_get_type (src/llama-quant.cpp)
    for the legacy and k-quant file types without an importance matrix: the output head gets Q6_K
    (Q8_0 in a Q8_0 file), and so does token_embd when tied to it; 1-D tensors and the MoE router
    stay F32; the *_M mixes give more bits to some attn_v and ffn_down layers. Hybrid models'
    mixers (Mamba, Gated DeltaNet, short convolution) are laid out by vramkit.gguf_mixers. A row length the
    block does not divide falls back as llama.cpp's tensor_type_fallback does. Not modelled:
    the small rope_freqs tensor of Llama 3.1 (64 floats); architecture-specific tensors (the DSA
    indexer, Gemma 3n's AltUp, Laurel and per-layer embeddings) are counted with stand-in shapes.
    """
    key = _file_type(quant)
    return list(_memo(spec, ("gguf_tensors", key), lambda: _gguf_tensors(spec, key)))


def _memo(spec, key, compute):
    """model.memo (dtypes sits below model, so it is looked up at call time, once)."""
    global _memo
    from .model import memo

    _memo = memo
    return memo(spec, key, compute)


def _file_type(quant: str) -> str:
    key = str(quant).strip().upper()
    key = {"FP16": "F16", "FP32": "F32", **_FTYPE_ALIASES}.get(key, key)
    if key not in GGUF_FILE_TYPES:
        raise unknown("GGUF file type", quant, GGUF_FILE_TYPES + tuple(_FTYPE_ALIASES))
    return key


# A model's GGUF layout does not change between calls: computed once per (spec, file type), so a
# sweep or the fit solver calling weights_bytes thousands of times costs one layout.
def _gguf_tensors(spec, key: str) -> tuple[GGUFTensor, ...]:
    base = GGUF_MIXES.get(key) or _PLAIN_FTYPES[key]
    layout = _gguf_layout(spec)
    quantized = base in _QUANTIZED  # 16- and 32-bit files need no tensor categories
    n_attn_v = sum(_category(n) in ("attn_v", "attn_qkv", "attn_kv_b") for n, _, _ in layout) if quantized else 0
    i_attn_v = i_ffn_down = 0
    out = []
    for name, shape, layer in layout:
        if name.startswith(("mmproj.", "extra.")):
            out.append(GGUFTensor(name, shape, "F32" if base == "F32" else "F16"))
            continue
        if not _quantizable(name, shape):
            out.append(GGUFTensor(name, shape, "F32"))
            continue
        if not quantized:
            out.append(GGUFTensor(name, shape, base))
            continue
        cat = _category(name)
        t = _pick(spec, key, base, shape[0], cat, layer, i_attn_v, n_attn_v, i_ffn_down)
        if cat in ("attn_v", "attn_qkv", "attn_kv_b"):
            i_attn_v += 1
        elif cat == "ffn_down":
            i_ffn_down += 1
        if shape[0] % _ggml_sizes()[t][0]:
            t = _FALLBACK.get(t, t)
            if shape[0] % _ggml_sizes()[t][0]:
                t = "F16"
        out.append(GGUFTensor(name, shape, t))
    return tuple(out)


def gguf_model_bytes(spec, quant: str) -> int:
    """Bytes of tensor data in the GGUF file of `spec` at file type `quant` (e.g. 'Q4_K_M').

    This is what llama.cpp reports as the model size; the file adds its metadata (the tokenizer
    alone is several MB for a 128k vocabulary) and alignment padding.
    """
    key = _file_type(quant)
    return _memo(spec, ("gguf_model_bytes", key),
                 lambda: sum(t.nbytes for t in _memo(spec, ("gguf_tensors", key), lambda: _gguf_tensors(spec, key))))


def gguf_bits_per_weight(spec, quant: str) -> Fraction:
    """The file-average bits per weight, tensor bytes * 8 / elements, as llama.cpp prints 'BPW'."""
    tensors = gguf_tensors(spec, quant)
    return Fraction(8 * sum(t.nbytes for t in tensors), sum(t.n_elements for t in tensors))
