"""vramkit equals transformers on the 2026 attention variants, exactly.

The truth is tests/reference/static_2026_attn.json, written by
tests/reference/generate_static_attn.py: meta-device parameter counts and FakeTensorMode
prefills of llama4_text (chunked attention, interleaved MoE, NoPE), gemma3n_text (KV sharing,
per-layer embeddings, AltUp, Laurel), deepseek_v32 (DSA indexer keys in the cache), glm4_moe,
minimax_m2, olmo3 and smollm3, plus config-reading cases (attribute_map aliases, class and
sub-config defaults). This file needs no torch.
"""
import pytest
import reference_checks as check

from vramkit import ModelSpec
from vramkit.inference import kv_cache_bytes

FIXTURE = check.load("static_2026_attn.json")
SMALL = FIXTURE["small"]
CATALOG = FIXTURE["catalog"]
KV_CASES = check.per_case(SMALL, "kv")
FAMILIES = {"llama4_text", "gemma3n_text", "deepseek_v32", "glm4_moe", "minimax_m2", "olmo3", "smollm3"}


def test_fixture_covers_every_family_and_cache_kind():
    types = {rec["config"]["model_type"] for rec in SMALL.values()}
    assert FAMILIES <= types
    for family in FAMILIES:
        assert f"{family}_defaults" in SMALL, family
    classes = {k for _, case in KV_CASES for k in case["layer_classes"]}
    assert {"DynamicSlidingWindowLayer", "DummyLayer", "DynamicIndexedLayer", "DynamicLayer"} <= classes
    assert any(case["indexer_bytes"] > 0 for _, case in KV_CASES)
    # contexts on both sides of every chunk (llama4) and window
    for name, rec in SMALL.items():
        if "DynamicSlidingWindowLayer" in rec["kv"][0]["layer_classes"]:
            cut = [c for c in rec["kv"] if any(0 < t < c["context"] for t in c["tokens_per_layer"])]
            assert cut, name


@pytest.mark.parametrize("name", sorted(SMALL))
def test_small_params(name):
    check.assert_params(SMALL[name])


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_catalog_params(name):
    check.assert_params(CATALOG[name])


@pytest.mark.parametrize("item", KV_CASES, ids=check.case_id)
def test_kv_cache_bytes(item):
    """Every tensor the cache holds: K, V and DSA indexer keys; a shared-KV layer none."""
    name, case = item
    check.assert_cache_bytes(SMALL[name]["config"], case)


@pytest.mark.parametrize("item", KV_CASES, ids=check.case_id)
def test_cached_tokens_per_layer(item):
    name, case = item
    check.assert_cached_tokens(SMALL[name]["config"], case)


def test_chunked_layers_hold_chunk_minus_one():
    """llama4: transformers caches a chunked layer as a sliding window of the chunk."""
    rec = SMALL["llama4_text_chunk8_interleave2"]
    spec = ModelSpec.from_config(rec["config"])
    long = max(rec["kv"], key=lambda c: c["context"])
    chunked = [i for i, t in enumerate(spec.layer_types) if t == "chunked_attention"]
    assert chunked and all(long["tokens_per_layer"][i] == 8 - 1 for i in chunked)


def test_shared_kv_layers_hold_nothing_and_lack_kv_projections():
    rec = SMALL["gemma3n_text_shared2_widths"]
    spec = ModelSpec.from_config(rec["config"])
    assert spec.kv_shared_from == (-1, -1, -1, -1, -1, 3, 3)
    assert rec["kv"][0]["layer_classes"][5:] == ["DummyLayer", "DummyLayer"]
    assert rec["param_kinds"]["model.layers.*.self_attn.k_proj.weight"] == 5 * 48 * 2 * 16


def test_indexer_bytes_are_index_head_dim_per_token_and_layer():
    rec = SMALL["deepseek_v32_dsa"]
    spec = ModelSpec.from_config(rec["config"])
    for case in rec["kv"]:
        width = 2 if case["dtype"] == "bf16" else 4
        assert case["indexer_bytes"] == spec.num_layers * case["batch"] * case["context"] * spec.index_head_dim * width


@pytest.mark.parametrize("name", ["qwen3_moe_num_local_experts", "mixtral_num_experts_alias",
                                  "deepseek_v32_mlp_layer_types_alias_bias", "glm4_moe_alias_no_headdim_tied",
                                  "minimax_m2_alias_tied"])
def test_attribute_map_aliases(name):
    """A config naming its experts by the other name of transformers' attribute_map."""
    rec = SMALL[name]
    spec = ModelSpec.from_config(rec["config"])
    experts = {k: v for k, v in rec["param_kinds"].items() if "experts" in k and "shared" not in k}
    alias = next(rec["config"][k] for k in ("num_local_experts", "num_experts") if k in rec["config"])
    assert spec.num_experts == alias and experts


@pytest.mark.parametrize("name", sorted(FIXTURE["wrapped"]))
def test_sub_config_class_defaults(name):
    """gemma-3-27b-it's text_config leaves vocab_size to Gemma3TextConfig's default."""
    rec = FIXTURE["wrapped"][name]
    assert "vocab_size" not in rec["config"]["text_config"]
    spec = ModelSpec.from_config(rec["config"])
    assert spec.vocab_size == rec["text_vocab_size"]
    text = {k: v for k, v in rec["config"]["text_config"].items()}
    assert ModelSpec.from_config(text).params() == rec["text_params"]


@pytest.mark.parametrize("name", sorted(SMALL))
def test_saved_config_form(name):
    """The config.json save_pretrained writes (every field, lists expanded, canonical alias names,
    layer_types spelled out) reads to the same model and the same cache."""
    rec = SMALL[name]
    spec = ModelSpec.from_config(rec["saved_config"])
    assert spec.params() == rec["params"]
    case = max(rec["kv"], key=lambda c: c["context"])
    assert kv_cache_bytes(spec, case["context"], case["batch"], case["dtype"]) == case["kv_bytes"]


@pytest.mark.parametrize("name", [n for n in sorted(SMALL) if n.startswith(("llama4_text", "gemma3n_text"))])
def test_text_config_of_a_wrapper(name):
    """Inside a llama4 / gemma3n config, a text_config without model_type is the text model: its
    cache is the text model's (a vision or audio tower adds parameters, never cache)."""
    rec = SMALL[name]
    inner = {k: v for k, v in rec["config"].items() if k != "model_type"}
    outer = rec["config"]["model_type"].removesuffix("_text")
    spec = ModelSpec.from_config({"model_type": outer, "text_config": inner})
    for case in rec["kv"]:
        assert kv_cache_bytes(spec, case["context"], case["batch"], case["dtype"]) == case["kv_bytes"]


@pytest.mark.parametrize("name", ["kimi-k2", "glm-4.5", "glm-4.6"])
def test_router_bias_is_a_buffer(name):
    """The published counts include e_score_correction_bias; transformers keeps it a buffer."""
    from test_catalog_params import BUFFER_IN_PUBLISHED

    rec = CATALOG[name]
    assert not any(k.endswith("e_score_correction_bias") for k in rec["param_kinds"])
    buffers = sum(v for k, v in rec["buffers"].items() if k.endswith("e_score_correction_bias"))
    assert buffers == BUFFER_IN_PUBLISHED[name]
