"""Chapter 04 (inference and the KV cache): its claims against independent published figures.

The chapter shows that the Hugging Face Llama 3.1 blog's KV table used 16,000/128,000 tokens for
"16k"/"128k" and twice the 405B model's KV heads; these tests pin both findings to the printed
table kept in the catalog, and check vramkit against per-token figures that others published.
"""
import pytest

from vramkit import catalog, load_model
from vramkit.errors import VramkitError
from vramkit.inference import kv_cache_bytes
from vramkit.units import GIB

BLOG = catalog.published("hf-blog-llama31-kv")
# Llama 3.1 70B has Llama 3 70B's layers, KV heads and head_dim (only RoPE scaling differs).
BLOG_MODELS = {"8B": "llama-3.1-8b", "70B": "llama-3-70b", "405B": "llama-3.1-405b"}


def _gib(spec, tokens):
    return kv_cache_bytes(spec, tokens, kv_dtype="fp16") / GIB


def _prints_as(value: float, printed: float) -> bool:
    """True if `value` rounds to `printed` at the digits printed (0.3125 may print as 0.313)."""
    digits = len(repr(printed).partition(".")[2])
    return abs(value - printed) <= 0.5 * 10**-digits + 1e-12


@pytest.mark.parametrize("row", ["8B", "70B"])
def test_blog_columns_are_gib_of_1024_16000_and_128000_tokens(row):
    spec = load_model(BLOG_MODELS[row])
    one_k, sixteen_k, big = BLOG["rows"][row]
    assert _prints_as(_gib(spec, 1024), one_k)
    assert _prints_as(_gib(spec, 16_000), sixteen_k)
    assert _prints_as(_gib(spec, 128_000), big)
    # with binary "k" the 16k and 128k entries would not match
    assert not _prints_as(_gib(spec, 16_384), sixteen_k)
    assert not _prints_as(_gib(spec, 131_072), big)


def test_blog_405b_row_has_twice_the_kv_heads_of_the_config():
    spec = load_model("llama-3.1-405b")
    assert spec.num_kv_heads == 8
    doubled = spec.with_changes(num_kv_heads=16)
    one_k, sixteen_k, big = BLOG["rows"]["405B"]
    assert _prints_as(_gib(doubled, 1024), one_k)
    assert _prints_as(_gib(doubled, 16_000), sixteen_k)
    assert _prints_as(_gib(doubled, 128_000), big)
    assert not _prints_as(_gib(spec, 128_000), big)


def test_scaling_book_llama2_13b_8k_sequence_is_6_7_gb():
    # jax-ml/scaling-book inference.md: one 8192-token bf16 sequence of LLaMA-2-13B "= 6.7 GB".
    assert round(kv_cache_bytes(load_model("llama-2-13b"), 8192) / 1e9, 1) == 6.7


def test_scaling_book_llama3_70b_int8_kv_is_160_kib_per_token():
    # jax-ml/scaling-book applied-inference.md: 2 * 8 * 128 * 80 = 160 kiB per token in int8.
    assert kv_cache_bytes(load_model("llama-3-70b"), 1, kv_dtype="int8") == 160 * 1024


def test_unknown_published_table_is_one_line_error():
    with pytest.raises(VramkitError, match="did you mean 'hf-blog-llama31-kv'"):
        catalog.published("hf-blog-llama31")
