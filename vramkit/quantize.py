"""Quantization on numpy arrays: absmax, zero-point, block-wise, quantile and NF4.

Each method has a `*_quantize(x, ...) -> (codes, scales, meta)` and one `dequantize(codes, scales,
meta)` undoes any of them. `quantize(x, method, ...)` does both and measures the damage: a
`QuantResult` with the dequantized array, MSE, max absolute error, SQNR and the exact storage in
bytes (codes at their bit width plus scales, zero-points or level tables at their own dtype).

Conventions, so that the error bounds hold exactly:
- scales are rounded *up* to their storage dtype (fp32 by default, as bitsandbytes keeps absmax),
  so no value is pushed past the largest code by the rounding of its scale;
- a block is a run of `block_size` consecutive elements of the flattened array; the last block is
  padded with zeros, which changes neither an absmax nor (zero is always in range) a min-max range;
- codes are held one per numpy byte but counted at `bits` (see `vramkit.dtypes`).

Explained in the chapter on quantization (chapters/*/03-quantization.ipynb).
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np

from .dtypes import get_format, np_dtype, storage_bytes
from .errors import VramkitError, unknown

NF4_BLOCK = 64        # bitsandbytes' default blocksize for 4-bit weights
NF4_DQ_BLOCK = 256    # blocksize of the second quantization of the absmax values


@dataclass(frozen=True)
class QuantResult:
    """A quantized array and what it cost. Errors are in the array's units; bytes are exact."""

    method: str
    bits: int
    block_size: int | None
    dequantized: np.ndarray = field(repr=False)
    mse: float
    max_abs_error: float
    sqnr_db: float            # 10 log10(signal power / noise power); inf when the error is zero
    storage_bytes: int
    n_elements: int
    codes: np.ndarray = field(repr=False)
    scales: np.ndarray = field(repr=False)
    meta: dict = field(repr=False)

    @property
    def bits_per_element(self) -> float:
        """Average stored bits per element, scales included."""
        return 8 * self.storage_bytes / self.n_elements if self.n_elements else 0.0


# ---- helpers ---------------------------------------------------------------------------------

def _as_float(x) -> np.ndarray:
    try:
        a = np.asarray(x)
    except (TypeError, ValueError) as e:  # ragged lists, objects numpy cannot hold
        raise VramkitError(f"expected a numeric array ({str(e).splitlines()[0][:80]})") from None
    if a.dtype.kind not in "fiub":
        raise VramkitError(f"expected a numeric array, got dtype {a.dtype}")
    a = a.astype(np.float64, copy=False)
    if not np.isfinite(a).all():
        raise VramkitError("array holds inf or NaN; quantization needs finite values")
    if a.size and not np.isfinite(float(a.max()) - float(a.min())):
        raise VramkitError("array values span more than float64 holds (max - min overflows)")
    return a


def _check_bits(bits, low: int, high: int) -> int:
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not low <= bits <= high:
        raise VramkitError(f"bits must be an integer from {low} to {high}, got {bits!r}")
    return int(bits)


def _blocks(a: np.ndarray, block_size: int | None) -> tuple[np.ndarray, int]:
    """The flattened array as rows of `block_size` (one row per tensor when None), zero-padded."""
    flat = a.reshape(-1)
    n = flat.size
    if block_size is None:
        block = max(n, 1)
    else:
        if isinstance(block_size, bool) or not isinstance(block_size, (int, np.integer)) or block_size < 1:
            raise VramkitError(f"block_size must be a positive integer or None, got {block_size!r}")
        if block_size > max(n, 2**24):  # padding one block to that size would only allocate zeros
            raise VramkitError(f"block_size {block_size:,} is larger than the array ({n:,} values) and 2**24")
        block = int(block_size)
    n_blocks = -(-n // block)
    if n_blocks * block == n:  # no padding needed: a view, no copy
        return flat.reshape(n_blocks, block), n
    padded = np.zeros(n_blocks * block)
    padded[:n] = flat
    return padded.reshape(n_blocks, block), n


def _unblock(blocks: np.ndarray, meta: dict) -> np.ndarray:
    return blocks.reshape(-1)[: meta["n"]].reshape(meta["shape"])


def _scale_format(scale_dtype: str):
    fmt = get_format(scale_dtype)
    if fmt.kind != "float" or fmt.bits < 16:
        raise VramkitError(f"scale_dtype must be fp32, fp16 or bf16, got '{scale_dtype}'")
    return fmt


def _round_up(span: np.ndarray, qmax: float, scale_dtype: str) -> np.ndarray:
    """The scales span / qmax stored in `scale_dtype`, each rounded up to a representable value.

    Rounding up keeps |x| / scale <= qmax, so no code needs clipping; a nonzero span whose
    quotient underflows still gets the smallest positive scale.
    """
    dt = np_dtype(_scale_format(scale_dtype).dtype)
    scales = span / qmax
    scales[(span > 0) & (scales == 0)] = np.nextafter(0.0, 1.0)
    with np.errstate(over="ignore"):
        stored = scales.astype(dt)
    low = stored.astype(np.float64) < scales
    if low.any():
        stored[low] = np.nextafter(stored[low], np.array(np.inf, dtype=dt))
    if not np.isfinite(stored.astype(np.float64)).all():
        raise VramkitError(f"values too large for {scale_dtype} scales (max {get_format(scale_dtype).max:g})")
    return stored


def _code_bytes(n: int, bits: int) -> int:
    return -(-n * bits // 8)


def _safe(s: np.ndarray) -> np.ndarray:
    """Scales as float64 with zeros replaced by one (an all-zero block: every code is 0)."""
    s = s.astype(np.float64)
    return np.where(s == 0, 1.0, s)


# ---- absmax (symmetric) and block-wise absmax --------------------------------------------------

def absmax_quantize(x, bits: int = 8, block_size: int | None = None, scale_dtype: str = "fp32"):
    """Symmetric quantization: code = round(x / s), s = absmax / (2**(bits-1) - 1) per block.

    `block_size=None` uses one scale for the whole tensor. Error per element <= s / 2.
    """
    a = _as_float(x)
    bits = _check_bits(bits, 2, 8)
    blocks, n = _blocks(a, block_size)
    qmax = 2 ** (bits - 1) - 1
    scales = _round_up(np.abs(blocks).max(axis=1, initial=0.0), qmax, scale_dtype)
    codes = np.rint(blocks / _safe(scales)[:, None]).astype(np.int8)
    meta = {"method": "absmax", "bits": bits, "block_size": block_size, "scale_dtype": scale_dtype,
            "shape": a.shape, "n": n}
    return codes, scales, meta


def blockwise_quantize(x, bits: int = 8, block_size: int = 64, scale_dtype: str = "fp32"):
    """Block-wise absmax: one scale per `block_size` consecutive elements, so an outlier only
    coarsens its own block."""
    if block_size is None:
        raise VramkitError("block_size must be a positive integer for block-wise quantization")
    return absmax_quantize(x, bits, block_size, scale_dtype)


# ---- zero-point (asymmetric, min-max) -----------------------------------------------------------

def zeropoint_quantize(x, bits: int = 8, block_size: int | None = None, scale_dtype: str = "fp32"):
    """Asymmetric quantization: code = round(x / s) + z in [0, 2**bits - 1].

    The range [min(x, 0), max(x, 0)] is mapped onto all codes, so zero is exact (as PyTorch's
    MinMaxObserver does); the integer zero-point z is stored at the code width. Error <= s / 2.
    """
    a = _as_float(x)
    bits = _check_bits(bits, 2, 8)
    blocks, n = _blocks(a, block_size)
    qmax = 2 ** bits - 1
    lo = np.minimum(blocks.min(axis=1, initial=0.0), 0.0)
    hi = np.maximum(blocks.max(axis=1, initial=0.0), 0.0)
    scales = _round_up(hi - lo, qmax, scale_dtype)
    s = _safe(scales)
    zero_points = np.clip(np.rint(-lo / s), 0, qmax)
    codes = np.clip(np.rint(blocks / s[:, None]) + zero_points[:, None], 0, qmax).astype(np.uint8)
    meta = {"method": "zeropoint", "bits": bits, "block_size": block_size, "scale_dtype": scale_dtype,
            "shape": a.shape, "n": n, "zero_points": zero_points.astype(np.uint8)}
    return codes, scales, meta


# ---- quantile ------------------------------------------------------------------------------------

def quantile_quantize(x, bits: int = 4, levels_dtype: str = "fp32"):
    """Quantile quantization: 2**bits levels, each the midpoint of two neighbouring quantiles
    (QLoRA eq. 4, with the tensor's own empirical quantiles), so every level is equally used.
    The level table (2**bits values in `levels_dtype`) is stored with the codes."""
    a = _as_float(x)
    bits = _check_bits(bits, 1, 8)
    k = 2 ** bits
    flat = a.reshape(-1)
    if flat.size:
        q = np.quantile(flat, np.arange(k + 1) / k)
        levels = (q[:-1] + q[1:]) / 2
    else:
        levels = np.zeros(k)
    with np.errstate(over="ignore"):
        levels = levels.astype(np_dtype(_scale_format(levels_dtype).dtype)).astype(np.float64)
    codes = _nearest(flat, levels).astype(np.uint8)
    meta = {"method": "quantile", "bits": bits, "block_size": None, "scale_dtype": levels_dtype,
            "shape": a.shape, "n": flat.size}
    return codes, levels, meta


def _nearest(values: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Index into sorted `levels` of the level nearest each value (ties to the lower one)."""
    mid = (levels[:-1] + levels[1:]) / 2
    return np.searchsorted(mid, values, side="left")


# ---- NF4 -------------------------------------------------------------------------------------------

@functools.cache
def _nf4_levels() -> tuple[float, ...]:
    # QLoRA / bitsandbytes create_normal_map(offset, use_extra_value=True): 8 positive quantiles of
    # N(0, 1) from `offset` down to 0.5, 7 negative ones, and an exact zero, scaled into [-1, 1].
    # The offset is the mean of 1 - 1/(2*15) and 1 - 1/(2*16) (QLoRA, appendix E).
    offset = (1 - 1 / (2 * 15) + 1 - 1 / (2 * 16)) / 2
    ppf = NormalDist().inv_cdf
    positive = [ppf(p) for p in np.linspace(offset, 0.5, 9)[:-1]]
    negative = [-ppf(p) for p in np.linspace(offset, 0.5, 8)[:-1]]
    values = np.sort(np.array(positive + [0.0] + negative))
    return tuple((values / values.max()).tolist())


def nf4_levels() -> np.ndarray:
    """The 16 NF4 levels in [-1, 1], ascending (float64)."""
    return np.array(_nf4_levels())


def nf4_quantize(x, block_size: int = NF4_BLOCK, double_quant: bool = False):
    """NF4: each block is divided by its absmax (fp32) and each value mapped to the nearest NF4 level.

    With `double_quant`, the absmax values are stored as 8-bit codes in blocks of 256 with one fp32
    scale per block, after subtracting their fp32 mean (QLoRA's double quantization; bitsandbytes
    uses a non-linear 8-bit map there, this uses linear absmax int8).
    """
    a = _as_float(x)
    blocks, n = _blocks(a, block_size)
    levels = nf4_levels()
    absmax = _round_up(np.abs(blocks).max(axis=1, initial=0.0), 1, "fp32")
    codes = _nearest(blocks / _safe(absmax)[:, None], levels).astype(np.uint8)
    meta = {"method": "nf4", "bits": 4, "block_size": block_size, "scale_dtype": "fp32",
            "shape": a.shape, "n": n, "double_quant": bool(double_quant)}
    if not double_quant:
        return codes, absmax, meta
    stored = absmax.astype(np.float64)
    mean = np.float32(stored.mean()) if stored.size else np.float32(0)
    c_codes, c_scales, c_meta = absmax_quantize(stored - float(mean), 8, NF4_DQ_BLOCK)
    meta.update(absmax_mean=mean, absmax_scales=c_scales, absmax_meta=c_meta)
    return codes, c_codes, meta


# ---- dequantize, measure -----------------------------------------------------------------------------

def dequantize(codes: np.ndarray, scales: np.ndarray, meta: dict) -> np.ndarray:
    """The float64 array that (codes, scales, meta) from any `*_quantize` stands for."""
    method = meta["method"]
    if method == "absmax":
        return _unblock(codes * scales.astype(np.float64)[:, None], meta)
    if method == "zeropoint":
        z = meta["zero_points"].astype(np.float64)
        return _unblock((codes - z[:, None]) * scales.astype(np.float64)[:, None], meta)
    if method == "quantile":
        return scales[codes].reshape(meta["shape"])
    if method == "nf4":
        if meta.get("double_quant"):
            absmax = dequantize(scales, meta["absmax_scales"], meta["absmax_meta"]) + float(meta["absmax_mean"])
        else:
            absmax = scales.astype(np.float64)
        return _unblock(nf4_levels()[codes] * absmax[:, None], meta)
    raise unknown("quantization method", method, METHODS)


def stored_bytes(codes: np.ndarray, scales: np.ndarray, meta: dict) -> int:
    """Exact bytes: codes at their bit width plus scales, zero-points and tables at their dtype."""
    n, bits = meta["n"], meta["bits"]
    total = _code_bytes(n, bits)
    if meta["method"] == "zeropoint":
        total += _code_bytes(meta["zero_points"].size, bits)
    if meta.get("double_quant"):
        total += stored_bytes(scales, meta["absmax_scales"], meta["absmax_meta"])
        total += storage_bytes(1, "fp32")  # the mean subtracted from the absmax values
    else:
        total += storage_bytes(scales.size, meta["scale_dtype"])
    return total


def _metrics(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    err = x - y
    if not x.size:
        return 0.0, 0.0, math.inf
    noise = float(np.sum(err * err))
    signal = float(np.sum(x * x))
    mse = noise / x.size
    if noise == 0:
        sqnr = math.inf
    elif signal == 0:
        sqnr = -math.inf
    else:
        sqnr = 10 * math.log10(signal / noise)
    return mse, float(np.abs(err).max()), sqnr


METHODS = {
    "absmax": absmax_quantize,
    "blockwise": blockwise_quantize,
    "zeropoint": zeropoint_quantize,
    "quantile": quantile_quantize,
    "nf4": nf4_quantize,
}


def quantize(x, method: str = "absmax", **options) -> QuantResult:
    """Quantize `x` with `method` (see METHODS), dequantize, and measure error and storage."""
    if method not in METHODS:
        raise unknown("quantization method", method, METHODS)
    a = _as_float(x)
    codes, scales, meta = METHODS[method](a, **options)
    y = dequantize(codes, scales, meta)
    mse, max_err, sqnr = _metrics(a, y)
    return QuantResult(method, meta["bits"], meta["block_size"], y, mse, max_err, sqnr,
                       stored_bytes(codes, scales, meta), meta["n"], codes, scales, meta)


# ---- test data -----------------------------------------------------------------------------------------

def weights_with_outliers(rows: int = 256, cols: int = 1024, *, n_outlier_cols: int = 4,
                          outlier_scale: float = 20.0, std: float = 0.02, seed: int = 0) -> np.ndarray:
    """A weight-like matrix: N(0, std) entries, with `n_outlier_cols` columns `outlier_scale` times
    larger, like the outlier features LLM.int8() found in large models. Seeded, so reproducible."""
    rng = np.random.default_rng(seed)
    w = rng.normal(0.0, std, size=(rows, cols))
    if n_outlier_cols:
        cols_ = rng.choice(cols, size=min(n_outlier_cols, cols), replace=False)
        w[:, cols_] *= outlier_scale
    return w
