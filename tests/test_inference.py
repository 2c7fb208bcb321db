"""Inference memory: identities, published per-token figures, and properties that must hold for any input."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from vramkit import catalog, load_model
from vramkit.errors import VramkitError
from vramkit.inference import (ENGINES, infer_memory, kv_cache_bytes, kv_cache_bytes_grid, weights_bytes)
from vramkit.units import GIB

MODELS = catalog.model_names()


def test_llama3_8b_kv_per_token_is_128_kib():
    # stas00/ml-engineering inference/README.md: Llama-3-8B, bf16 KV: 131,072 bytes per token.
    assert kv_cache_bytes(load_model("llama-3-8b"), 1) == 131_072


def test_hf_blog_llama31_8b_1k_row():
    # huggingface/blog llama31.md: 8B, fp16 KV, 1k tokens = 0.125 (GiB).
    assert kv_cache_bytes(load_model("llama-3.1-8b"), 1024, kv_dtype="fp16") / GIB == 0.125


def test_deepseek_v3_latent_versus_expanded_kv():
    # reference published.json dsv3-kv: MLA latent 70,272 B/token; expanded K/V 4,997,120 B/token.
    spec = load_model("deepseek-v3")
    assert kv_cache_bytes(spec, 1, engine="vllm") == 70_272
    # transformers 5 caches the latent as well (tests/reference/static.json); the expanded
    # figure is what transformers 4.x cached: every head's K and V.
    assert kv_cache_bytes(spec, 1, engine="transformers") == 70_272
    # mlx-lm caches the latent since early 2026, in buffers grown by 256 tokens
    assert kv_cache_bytes(spec, 256, engine="mlx") == 256 * 70_272 == kv_cache_bytes(spec, 1, engine="mlx")


@pytest.mark.parametrize("name", ["llama-3.1-8b", "qwen3-8b", "mistral-7b-v0.1", "gemma-2-9b"])
def test_gqa_identity(name):
    """KV bytes scale exactly with the number of KV heads: kv(GQA) * heads == kv(MHA) * kv_heads."""
    spec = load_model(name)
    mha = spec.with_changes(num_kv_heads=spec.num_heads)
    for ctx in (1, 777, 8192):
        assert kv_cache_bytes(spec, ctx) * spec.num_heads == kv_cache_bytes(mha, ctx) * spec.num_kv_heads


def test_sliding_window_bounds_the_cache():
    spec = load_model("gpt-oss-20b")  # alternating 128-token sliding and full layers
    a, b = kv_cache_bytes(spec, 100_000), kv_cache_bytes(spec, 200_000)
    full_layers = spec.layer_types.count("full_attention")
    per_layer_token = 2 * spec.num_kv_heads * spec.head_dim * 2
    assert b - a == 100_000 * full_layers * per_layer_token  # only full layers grow


def test_weights_bytes_by_format():
    spec = load_model("llama-3.1-8b")
    n = spec.params()
    assert weights_bytes(spec, "bf16") == 2 * n
    assert weights_bytes(spec, "fp32") == 4 * n
    # int4 quantizes the decoder's linear layers; embeddings, head and norms stay bf16
    parts = spec.breakdown()
    kept = parts["embedding"] + parts["lm_head"] + parts["norms"]
    assert weights_bytes(spec, "int4") == (n - kept) // 2 + 2 * kept


@pytest.mark.parametrize("name", ["llama-3.1-8b", "gemma-3-27b", "gpt-oss-20b", "deepseek-v3", "mistral-7b-v0.1"])
def test_vectorised_grid_equals_scalar(name):
    spec = load_model(name)
    ctx, batch = np.meshgrid(np.arange(1, 40) * 1013, np.arange(1, 9))
    grid = kv_cache_bytes_grid(spec, ctx, batch)
    for i in range(batch.shape[0]):
        for j in range(0, ctx.shape[1], 5):
            assert grid[i, j] == kv_cache_bytes(spec, int(ctx[i, j]), int(batch[i, j]))


def test_bad_sizes_raise_one_line():
    spec = load_model("llama-3.1-8b")
    for ctx, batch in ((0, 1), (-5, 1), (10, 0), (1.5, 1)):
        with pytest.raises(VramkitError):
            kv_cache_bytes(spec, ctx, batch)


# ---- properties -------------------------------------------------------------------------

contexts = st.integers(min_value=1, max_value=1 << 20)
batches = st.integers(min_value=1, max_value=512)
DTYPES_BY_BITS = ["int4", "fp8_e4m3", "bf16", "fp32"]


@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(MODELS), c=contexts, dc=st.integers(0, 1 << 16), b=batches, db=st.integers(0, 64))
def test_kv_monotone_in_context_and_batch(name, c, dc, b, db):
    spec = load_model(name)
    assert kv_cache_bytes(spec, c, b) <= kv_cache_bytes(spec, c + dc, b) <= kv_cache_bytes(spec, c + dc, b + db)


@settings(max_examples=40, deadline=None)
@given(name=st.sampled_from(MODELS), c=contexts, b=batches)
def test_kv_monotone_in_bytes_per_element(name, c, b):
    spec = load_model(name)
    sizes = [kv_cache_bytes(spec, c, b, dt) for dt in DTYPES_BY_BITS]
    assert sizes == sorted(sizes)


@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(MODELS), c=st.integers(1, 1 << 17), b=st.integers(1, 64),
       engine=st.sampled_from(ENGINES), w=st.sampled_from(["bf16", "fp16", "fp32", "int8", "int4", "fp8"]))
def test_any_valid_input_gives_consistent_totals(name, c, b, engine, w):
    from hypothesis import assume

    from vramkit.engines import runs

    assume(runs(engine, w))  # the others are refused in one line (tests/test_engines.py)
    # llama.cpp's plan covers full and sliding attention; chunked and recurrent layers are refused in
    # one line (tests/test_engine_llama_cpp.py)
    assume(engine != "llama.cpp" or set(load_model(name).layer_types) <= {"full_attention", "sliding_attention"})

    m = infer_memory(name, c, b, weights=w, engine=engine)
    parts = (m.weights_bytes, m.kv_cache_bytes, m.activation_bytes, m.overhead_bytes)
    assert all(isinstance(p, int) and p >= 0 for p in parts)
    assert m.total_bytes == sum(parts)
    bigger = infer_memory(name, c + 1, b, weights=w, engine=engine)
    # Not for mlx-lm: a sliding layer's cache after a chunked prefill depends on the last chunk (a
    # one-token chunk is written in place into a window-sized buffer; tests/reference/mlx_cache.json).
    assert bigger.total_bytes >= m.total_bytes or engine == "mlx"


def test_no_cuda_context_on_apple_silicon():
    from vramkit.inference import CUDA_CONTEXT_BYTES

    for engine in ("transformers", "llama.cpp"):
        cuda = infer_memory("llama-3.1-8b", 4096, engine=engine, gpu="rtx-4090")
        mac = infer_memory("llama-3.1-8b", 4096, engine=engine, gpu="apple-m2-max-96gb")
        assert cuda.overhead_bytes - mac.overhead_bytes == CUDA_CONTEXT_BYTES
    assert infer_memory("llama-3.1-8b", 4096, engine="transformers").overhead_bytes == CUDA_CONTEXT_BYTES
