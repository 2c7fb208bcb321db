"""Quantization: error bounds that hold for every input, storage that matches the published
formats (GGUF Q8_0, bitsandbytes NF4), the outlier effect, and NF4's published levels."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from vramkit import dtypes, quantize as q
from vramkit.errors import VramkitError

# bitsandbytes' NF4 table (bitsandbytes/functional.py, QLoRA appendix E), the independent reference.
BNB_NF4 = [-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
           -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
           0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
           0.7229568362236023, 1.0]

# Arrays of any length (0 included, most not a multiple of a block), constant runs, zeros, and
# magnitudes from tiny to large; values a float32 scale can hold.
values = st.one_of(st.just(0.0), st.floats(-1e6, 1e6, allow_nan=False, width=64),
                   st.floats(-1e-6, 1e-6, allow_nan=False, width=64))
arrays = hnp.arrays(np.float64, st.integers(0, 300), elements=values)
blocks = st.one_of(st.none(), st.integers(1, 100))


def _per_element(scales, block_size, n):
    """Each element's block scale (one block per tensor when block_size is None)."""
    s = np.asarray(scales, dtype=np.float64)
    return np.repeat(s, block_size or max(n, 1))[:n]


def _slack(x):
    # float64 rounding in x - code*scale: a few ulps of the larger of |x| and the step
    return 8 * np.finfo(np.float64).eps * np.abs(x)


@pytest.mark.parametrize("method", ["absmax", "zeropoint"])
@given(x=arrays, bits=st.integers(2, 8), block_size=blocks)
def test_linear_error_at_most_half_a_step(method, x, bits, block_size):
    r = q.quantize(x, method, bits=bits, block_size=block_size)
    s = _per_element(r.scales, block_size, x.size)
    err = np.abs(x - r.dequantized)
    assert r.dequantized.shape == x.shape
    assert np.all(err <= s / 2 * (1 + 1e-12) + _slack(x))
    assert r.max_abs_error == (err.max() if x.size else 0.0)


@given(x=arrays, block_size=st.integers(1, 100))
def test_blockwise_is_absmax_per_block(x, block_size):
    a = q.quantize(x, "blockwise", bits=8, block_size=block_size)
    b = q.quantize(x, "absmax", bits=8, block_size=block_size)
    assert np.array_equal(a.dequantized, b.dequantized) and a.storage_bytes == b.storage_bytes


@given(x=arrays, scale_dtype=st.sampled_from(["fp32", "fp16", "bf16"]))
def test_absmax_bound_holds_for_low_precision_scales(x, scale_dtype):
    x = np.clip(x, -1e3, 1e3)  # an fp16 scale holds at most 65504
    r = q.quantize(x, "absmax", bits=8, block_size=32, scale_dtype=scale_dtype)
    s = _per_element(r.scales, 32, x.size)
    assert np.all(np.abs(x - r.dequantized) <= s / 2 * (1 + 1e-12) + _slack(x))


@given(x=arrays, bits=st.integers(1, 8))
def test_quantile_picks_the_nearest_stored_level(x, bits):
    r = q.quantize(x, "quantile", bits=bits)
    assert len(r.scales) == 2 ** bits
    if x.size:
        nearest = np.abs(x.reshape(-1)[:, None] - r.scales[None, :]).min(axis=1)
        assert np.all(np.abs(x.reshape(-1) - r.dequantized.reshape(-1)) <= nearest + _slack(x.reshape(-1)))


@given(x=arrays, block_size=st.integers(1, 100))
def test_nf4_error_at_most_half_the_widest_gap(x, block_size):
    r = q.quantize(x, "nf4", block_size=block_size)
    half_gap = np.diff(q.nf4_levels()).max() / 2
    s = _per_element(r.scales, block_size, x.size)
    assert np.all(np.abs(x - r.dequantized) <= s * half_gap * (1 + 1e-9) + _slack(x))


@given(x=arrays)
def test_nf4_double_quant_never_raises_and_stays_close(x):
    r = q.quantize(x, "nf4", double_quant=True)
    single = q.quantize(x, "nf4")
    assert r.dequantized.shape == x.shape
    # the 8-bit absmax adds at most half an int8 step of the largest centred absmax per block
    assert r.max_abs_error <= single.max_abs_error + np.abs(x).max(initial=0) * 2 / 127 + 1e-300


@pytest.mark.parametrize("method", sorted(q.METHODS))
@given(x=arrays)
def test_metrics_are_consistent(method, x):
    r = q.quantize(x, method)
    if x.size == 0:
        return
    assert math.isclose(r.mse, float(np.mean((x - r.dequantized) ** 2)), rel_tol=1e-9, abs_tol=1e-300)
    if r.mse > 0 and np.any(x):
        assert math.isclose(r.sqnr_db, 10 * math.log10(float(np.mean(x * x)) / r.mse), rel_tol=1e-9, abs_tol=1e-9)


# ---- storage against published formats ------------------------------------------------------------

@settings(max_examples=25)
@given(n_blocks=st.integers(1, 64))
def test_int8_blocks_of_32_with_fp16_scales_are_gguf_q8_0(n_blocks):
    """GGUF Q8_0 is exactly 32 int8 codes plus one fp16 scale (gguf.GGML_QUANT_SIZES: 34 bytes)."""
    n = 32 * n_blocks
    r = q.quantize(np.linspace(-1, 1, n), "absmax", bits=8, block_size=32, scale_dtype="fp16")
    assert r.storage_bytes == dtypes.storage_bytes(n, "Q8_0")


@settings(max_examples=25)
@given(n_blocks=st.integers(1, 64))
def test_nf4_storage_matches_bitsandbytes_format(n_blocks):
    n = 64 * n_blocks
    assert q.quantize(np.ones(n), "nf4").storage_bytes == dtypes.storage_bytes(n, "nf4")


def test_nf4_double_quant_storage_matches_format_plus_mean():
    n = 64 * 256 * 3
    r = q.quantize(np.random.default_rng(0).normal(size=n), "nf4", double_quant=True)
    assert r.storage_bytes == dtypes.storage_bytes(n, "nf4_dq") + 4  # + the fp32 mean of the absmax


@pytest.mark.parametrize("bits", [2, 4, 8])
def test_int_storage_counts_bits_not_bytes(bits):
    r = q.quantize(np.arange(1000.0), "absmax", bits=bits)
    assert r.storage_bytes == math.ceil(1000 * bits / 8) + 4


# ---- NF4 levels --------------------------------------------------------------------------------------------

def test_nf4_levels_match_bitsandbytes():
    # bitsandbytes computed its table in float32 with the offset typed as 0.9677083: 2e-7 apart.
    np.testing.assert_allclose(q.nf4_levels(), BNB_NF4, rtol=0, atol=1e-6)


def test_nf4_levels_shape():
    levels = q.nf4_levels()
    assert len(levels) == 16 and np.all(np.diff(levels) > 0)
    assert levels[0] == -1 and levels[-1] == 1 and 0.0 in levels


# ---- the outlier effect --------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_outliers_ruin_per_tensor_absmax_but_not_blockwise(seed):
    """LLM.int8() and QLoRA's motivation: one large column sets the scale of the whole tensor."""
    def gap(w):
        per_tensor = q.quantize(w, "absmax", bits=8).mse
        return per_tensor / q.quantize(w, "blockwise", bits=8, block_size=64).mse

    with_outliers = gap(q.weights_with_outliers(seed=seed))
    # Clean normal weights gain a little from blocks too (a block's max is ~2.5 sigma, the
    # tensor's ~5 sigma, so ~4x); the outlier columns make the gap several times wider.
    without = gap(q.weights_with_outliers(seed=seed, n_outlier_cols=0))
    assert with_outliers > 10 and with_outliers > 5 * without


def test_nf4_beats_int4_on_normal_weights():
    """QLoRA's claim: for normally distributed weights NF4 has lower error than 4-bit integers
    at the same block size and storage."""
    w = np.random.default_rng(0).normal(0, 0.02, size=(256, 1024))
    nf4 = q.quantize(w, "nf4", block_size=64)
    int4 = q.quantize(w, "blockwise", bits=4, block_size=64)
    assert nf4.storage_bytes == int4.storage_bytes
    assert nf4.mse < int4.mse


def test_outlier_matrix_is_reproducible():
    assert np.array_equal(q.weights_with_outliers(seed=3), q.weights_with_outliers(seed=3))


# ---- bad input --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("x, method, options, match", [
    ([1.0, np.nan], "absmax", {}, "NaN"),
    ([1.0, np.inf], "nf4", {}, "inf"),
    ([1.0], "absmax", {"bits": 9}, "bits must be"),
    ([1.0], "absmax", {"bits": 1}, "bits must be"),
    ([1.0], "blockwise", {"block_size": 0}, "block_size"),
    ([1.0], "absmx", {}, "did you mean 'absmax'"),
    ([1e30], "absmax", {"scale_dtype": "fp16"}, "too large for fp16"),
    ([1.0], "absmax", {"scale_dtype": "int8"}, "scale_dtype"),
])
def test_bad_input_is_one_line(x, method, options, match):
    with pytest.raises(VramkitError, match=match) as err:
        q.quantize(np.array(x), method, **options)
    assert "\n" not in str(err.value)
