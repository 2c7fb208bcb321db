"""Claims of the quantization chapter (03-quantization), its published data and its charts.

- vramkit's block-wise absmax against llama.cpp's own Q8_0 (the `gguf` package's port of
  ggml's quantize_row_q8_0): same storage to the byte, same error up to the rounding of the scale.
- The llama.cpp tables kept in vramkit/catalog: internally consistent (size = bpw x the published
  GGUF parameter count) and consistent with each other, so a transcription error fails here.
"""
import numpy as np
import pytest

from vramkit import quantize as q
from vramkit.catalog import published
from vramkit.units import label

README = "lcpp-quantize-readme-llama31-8b"
OPTIONS = "lcpp-quantize-options-llama3-8b"
# general.parameter_count of the Llama-3.1-8B GGUF files (ollama /api/show, llama-server /v1/models).
GGUF_PARAMS_LLAMA31_8B = 8_030_261_248


@pytest.fixture(scope="module")
def weights():
    return q.weights_with_outliers().astype(np.float32)


def test_blockwise_int8_matches_llama_cpp_q8_0(weights):
    gguf = pytest.importorskip("gguf")
    from gguf.quants import dequantize, quantize

    t = gguf.GGMLQuantizationType.Q8_0
    ref = quantize(weights, t)
    ref_x = dequantize(ref, t).astype(np.float64)
    ours = q.quantize(weights, "blockwise", bits=8, block_size=32, scale_dtype="fp16")
    assert ours.storage_bytes == ref.nbytes  # 32 int8 codes + one fp16 scale per block, in both
    # Both round x / (absmax / 127); scales differ only in their last fp16 bit (ggml rounds to
    # nearest, vramkit up), so elements differ by at most one code step of their block.
    step = np.repeat(np.abs(weights.reshape(-1, 32)).max(axis=1) / 127, 32).reshape(weights.shape)
    assert np.all(np.abs(ours.dequantized - ref_x) <= 1.01 * step)
    ref_noise = np.sum((weights - ref_x) ** 2)
    ref_sqnr = 10 * np.log10(np.sum(weights.astype(np.float64) ** 2) / ref_noise)
    assert abs(ours.sqnr_db - ref_sqnr) < 0.1


def test_outliers_hurt_one_scale_more_than_blocks(weights):
    """The chapter's central claim, with the numbers recomputed: outliers cost per-tensor int4
    far more SQNR than block-wise int4, and block-wise NF4 beats block-wise int4 at equal bits."""
    clean = q.weights_with_outliers(n_outlier_cols=0)
    drop_tensor = q.quantize(clean, "absmax", bits=4).sqnr_db - q.quantize(weights, "absmax", bits=4).sqnr_db
    drop_block = (q.quantize(clean, "blockwise", bits=4, block_size=64).sqnr_db
                  - q.quantize(weights, "blockwise", bits=4, block_size=64).sqnr_db)
    assert drop_tensor > drop_block > 0
    nf4 = q.quantize(weights, "nf4", block_size=64)
    int4 = q.quantize(weights, "blockwise", bits=4, block_size=64)
    assert nf4.bits_per_element == int4.bits_per_element and nf4.sqnr_db > int4.sqnr_db


def test_double_quant_storage_is_qlora_figure(weights):
    """QLoRA: double quantization cuts the scale overhead from 0.5 to about 0.127 bits per parameter."""
    r = q.quantize(weights, "nf4", block_size=64, double_quant=True)
    assert round(r.bits_per_element - 4, 3) == 0.127
    assert q.quantize(weights, "nf4", block_size=64).bits_per_element == 4.5


# ---- the published llama.cpp tables --------------------------------------------------------------

def test_readme_sizes_follow_from_bpw():
    rows = published(README)["rows"]
    assert rows, "empty table"
    for name, row in rows.items():
        gib = row["bpw"] * GGUF_PARAMS_LLAMA31_8B / 8 / 2**30
        assert abs(gib - row["gib"]) <= 0.005 + 1e-9, (name, gib, row["gib"])


def test_quant_options_sizes_agree_with_readme():
    """QUANT_OPTIONS' 'G' is GiB: its Llama-3 sizes equal the README's Llama-3.1 GiB column within
    rounding (same architecture and parameter count), except Q2_K_S, whose printed size is Q2_K's."""
    readme, options = published(README)["rows"], published(OPTIONS)["rows"]
    shared = [n for n in options if n in readme and options[n]["model"] == "Llama-3-8B"]
    assert len(shared) >= 10
    for name in shared:
        if name == "Q2_K_S":
            assert options[name]["size_g"] == options["Q2_K"]["size_g"] != readme[name]["gib"]
            continue
        assert abs(options[name]["size_g"] - readme[name]["gib"]) <= 0.011, name


def test_quant_options_have_perplexity_for_every_llama3_row():
    options = published(OPTIONS)
    assert options["model"] == "llama-3-8b" and options["source"]
    for name, row in options["rows"].items():
        has_ppl = row["ppl_increase"] is not None
        assert has_ppl == (row["model"] == "Llama-3-8B"), name
        if has_ppl:
            assert 0 < row["ppl_increase"] < 10


def test_more_bits_cost_less_perplexity_within_k_quants():
    """Within one mix family (_S, _M) the published perplexity falls as the bits rise."""
    rows = published(OPTIONS)["rows"]
    for suffix in ("_S", "_M"):
        family = sorted((r["size_g"], r["ppl_increase"]) for n, r in rows.items() if n.endswith("_K" + suffix))
        assert len(family) >= 2
        assert [p for _, p in family] == sorted((p for _, p in family), reverse=True)


# ---- charts -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("lang", ["ko", "en"])
def test_chapter03_charts_are_valid_vega_lite(lang, weights):
    pytest.importorskip("altair")
    from vramkit import charts

    counts, edges = np.histogram(weights, bins=10)
    bins = [{"start": float(a), "end": float(b), "count": int(c)} for a, b, c in zip(edges[:-1], edges[1:], counts)]
    levels = [{"method": m, "level": float(v)} for m in ("a", "b") for v in q.nf4_levels()]
    sweep = [{"method": "NF4", "block_size": b, "sqnr_db": 10.0, "bits_per_weight": 4 + 32 / b} for b in (32, 64)]
    points = [{"name": "Q4_K_M", "bytes": 4 * 2**30, "ppl_increase": 0.2, "family": "K-quant"}]
    for chart, key in ((charts.histogram_levels(bins, levels, lang), "weight_value"),
                       (charts.block_size_tradeoff(sweep, lang), "sqnr_db"),
                       (charts.size_vs_quality(points, lang), "ppl_increase")):
        assert label(key, lang) in str(chart.to_dict())  # to_dict validates against the schema
