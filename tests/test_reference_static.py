"""vramkit's parameter counts and KV-cache bytes equal what transformers builds, exactly.

The truth is tests/reference/static.json, written by tests/reference/generate_static.py from
models that transformers built on the meta device and prefills it ran under FakeTensorMode.
This file needs no torch: it only rebuilds each ModelSpec from the recorded config.
"""
import pytest
import reference_checks as check

FIXTURE = check.load("static.json")
SMALL = FIXTURE["small"]
CATALOG = FIXTURE["catalog"]
KV_CASES = check.per_case(SMALL, "kv")


def test_fixture_is_broad_enough():
    assert len(SMALL) >= 15
    assert len({rec["config"]["model_type"] for rec in SMALL.values()}) >= 15
    assert len(KV_CASES) >= 200
    # contexts on both sides of every small sliding window
    windowed = [rec for rec in SMALL.values() if "DynamicSlidingWindowLayer" in rec["kv"][0]["layer_classes"]]
    assert windowed
    for rec in windowed:
        assert any(min(c["tokens_per_layer"]) == c["context"] > 1 for c in rec["kv"])  # window not full
        assert any(min(c["tokens_per_layer"]) < c["context"] for c in rec["kv"])       # window cut


@pytest.mark.parametrize("name", sorted(SMALL))
def test_small_params(name):
    check.assert_params(SMALL[name])


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_catalog_params(name):
    check.assert_params(CATALOG[name])


@pytest.mark.parametrize("item", KV_CASES, ids=check.case_id)
def test_kv_cache_bytes(item):
    name, case = item
    check.assert_cache_bytes(SMALL[name]["config"], case)


@pytest.mark.parametrize("item", KV_CASES, ids=check.case_id)
def test_cached_tokens_per_layer(item):
    name, case = item
    check.assert_cached_tokens(SMALL[name]["config"], case)


def test_deepseek_router_bias_is_a_buffer():
    """transformers keeps DeepSeek-V3's e_score_correction_bias out of the parameters."""
    from test_catalog_params import BUFFER_IN_PUBLISHED

    rec = CATALOG["deepseek-v3"]
    buffers = {k: v for k, v in rec["buffers"].items() if k.endswith("e_score_correction_bias")}
    assert not any(k.endswith("e_score_correction_bias") for k in rec["param_kinds"])
    assert sum(buffers.values()) == BUFFER_IN_PUBLISHED["deepseek-v3"]
