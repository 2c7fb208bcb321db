"""vramkit's parameter counts and KV-cache bytes equal what transformers builds, exactly.

The truth is tests/reference/static.json, written by tests/reference/generate_static.py from
models that transformers built on the meta device and prefills it ran under FakeTensorMode.
This file needs no torch: it only rebuilds each ModelSpec from the recorded config.
"""
import json
from pathlib import Path

import pytest

from vramkit import ModelSpec
from vramkit.inference import kv_cache_bytes

FIXTURE = json.loads((Path(__file__).parent / "reference" / "static.json").read_text(encoding="utf-8"))
SMALL = FIXTURE["small"]
CATALOG = FIXTURE["catalog"]
KV_CASES = [(name, case) for name, rec in SMALL.items() for case in rec["kv"]]


def _kv_id(item):
    name, c = item
    return f"{name}-b{c['batch']}-t{c['context']}-{c['dtype']}"


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
    rec = SMALL[name]
    assert ModelSpec.from_config(rec["config"]).params() == rec["params"]


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_catalog_params(name):
    rec = CATALOG[name]
    assert ModelSpec.from_config(rec["config"]).params() == rec["params"]


@pytest.mark.parametrize("item", KV_CASES, ids=_kv_id)
def test_kv_cache_bytes(item):
    name, case = item
    spec = ModelSpec.from_config(SMALL[name]["config"])
    got = kv_cache_bytes(spec, case["context"], case["batch"], case["dtype"])
    assert got == case["kv_bytes"], f"tokens per layer in transformers: {case['tokens_per_layer']}"


@pytest.mark.parametrize("item", KV_CASES, ids=_kv_id)
def test_cached_tokens_per_layer(item):
    from vramkit.inference import cached_tokens

    name, case = item
    spec = ModelSpec.from_config(SMALL[name]["config"])
    got = [cached_tokens(spec, i, case["context"]) for i in range(spec.num_layers)]
    assert got == case["tokens_per_layer"]


def test_deepseek_router_bias_is_a_buffer():
    """transformers keeps DeepSeek-V3's e_score_correction_bias out of the parameters."""
    from test_catalog_params import BUFFER_IN_PUBLISHED

    rec = CATALOG["deepseek-v3"]
    buffers = {k: v for k, v in rec["buffers"].items() if k.endswith("e_score_correction_bias")}
    assert not any(k.endswith("e_score_correction_bias") for k in rec["param_kinds"])
    assert sum(buffers.values()) == BUFFER_IN_PUBLISHED["deepseek-v3"]
