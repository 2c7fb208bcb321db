"""Hybrid models (Gated DeltaNet, Mamba, Mamba-2, short convolution): vramkit equals transformers.

The truth is tests/reference/static_hybrid.json, written by tests/reference/generate_hybrid.py
from models transformers built on the meta device (parameters, per layer) and prefills it ran
under FakeTensorMode (every tensor its cache held: keys, values, conv and recurrent states).
This file needs no torch: it rebuilds each ModelSpec from the recorded config.
"""
import pytest
import reference_checks as check

from vramkit import ModelSpec
from vramkit.inference import cache_bytes_per_layer, kv_cache_bytes_grid, weights_bytes

FIXTURE = check.load("static_hybrid.json")
SMALL = FIXTURE["small"]
CATALOG = FIXTURE["catalog"]
CASES = check.per_case(SMALL, "cache")
FAMILIES = {"qwen3_next", "qwen3_5_text", "qwen3_5_moe_text", "nemotron_h", "granitemoehybrid", "falcon_h1",
            "jamba", "bamba", "lfm2"}


def test_fixture_covers_every_family():
    types = {rec["config"]["model_type"] for rec in SMALL.values()}
    assert types == FAMILIES
    for t in FAMILIES:
        names = [n for n, r in SMALL.items() if r["config"]["model_type"] == t]
        assert any(n.endswith("_defaults") for n in names), t       # the class defaults
        assert len(names) >= 2, t                                    # and an odd-shaped one
    assert len(CASES) >= 200
    kinds = {t for _, c in CASES for L in c["layers"] for t in L["tensors"]}
    assert kinds == {"keys", "values", "conv_states", "recurrent_states"}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_params(name):
    check.assert_params(SMALL[name])


@pytest.mark.parametrize("name", sorted(SMALL))
def test_layer_params(name):
    rec = SMALL[name]
    spec = ModelSpec.from_config(rec["config"])
    assert [spec.layer_params(i) for i in range(spec.num_layers)] == rec["layer_params"]


@pytest.mark.parametrize("name", sorted(SMALL))
def test_bf16_weight_bytes(name):
    """The parameters' bytes of the model built in bf16: Nemotron-H keeps its router in fp32."""
    rec = SMALL[name]
    assert weights_bytes(ModelSpec.from_config(rec["config"]), "bf16") == rec["param_bytes"]["bf16"]


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_catalog_params(name):
    rec = CATALOG[name]
    spec = ModelSpec.from_config(rec["config"])
    assert spec.params() == rec["params"]
    assert [spec.layer_params(i) for i in range(spec.num_layers)] == rec["layer_params"]
    assert weights_bytes(spec, "bf16") == rec["param_bytes"]["bf16"]


@pytest.mark.parametrize("item", CASES, ids=check.case_id)
def test_cache_bytes_total(item):
    name, case = item
    check.assert_cache_bytes(SMALL[name]["config"], case, "cache_bytes")


@pytest.mark.parametrize("item", CASES, ids=check.case_id)
def test_cache_bytes_per_layer_and_tensor(item):
    name, case = item
    spec = ModelSpec.from_config(SMALL[name]["config"])
    got = cache_bytes_per_layer(spec, case["context"], case["batch"], case["dtype"])
    want = [{k: t["bytes"] for k, t in L["tensors"].items()} for L in case["layers"]]
    assert got == want, [L["class"] for L in case["layers"]]


@pytest.mark.parametrize("name", sorted(n for n, r in SMALL.items() if r["cache"]))
def test_state_is_constant_in_context_and_grid_agrees(name):
    import numpy as np

    rec = SMALL[name]
    spec = ModelSpec.from_config(rec["config"])
    for dtype in ("bf16", "fp32"):
        cases = [c for c in rec["cache"] if c["dtype"] == dtype]
        grid = kv_cache_bytes_grid(spec, [c["context"] for c in cases], [c["batch"] for c in cases], dtype)
        assert list(np.asarray(grid)) == [c["cache_bytes"] for c in cases]
        states = {(c["batch"], sum(t["bytes"] for L in c["layers"] for k, t in L["tensors"].items()
                                   if k not in ("keys", "values"))) for c in cases}
        per_batch = {b: s for b, s in states}
        assert len(per_batch) == len(states)  # the same state bytes at every context of one batch


def test_recurrent_state_is_fp32_and_conv_state_follows_the_model():
    for _, case in CASES:
        for L in case["layers"]:
            t = L["tensors"]
            if "recurrent_states" in t:
                assert t["recurrent_states"]["dtype"] == "float32"
            if "conv_states" in t:
                assert t["conv_states"]["dtype"] == {"bf16": "bfloat16", "fp32": "float32"}[case["dtype"]]


@pytest.mark.parametrize("name", sorted(SMALL))
def test_breakdown_adds_up_and_attention_only_on_attention_layers(name):
    spec = ModelSpec.from_config(SMALL[name]["config"])
    parts = spec.breakdown()
    assert sum(parts.values()) == spec.params()
    assert parts["attention"] == spec.attention_layer_count * spec.attention_params()
    layers = sum(spec.layer_params(i) for i in range(spec.num_layers))
    final_norm = spec.norm_params()
    assert layers + parts["embedding"] + parts["position"] + parts["lm_head"] + final_norm == spec.params()


def test_llama_cpp_conv_state_is_kernel_minus_one_f32():
    """llama.cpp's recurrent memory for Granite-4.0-H-Tiny (a public gdb dump of its GGUF run):
    cache_r_l0 is F32 with 9,984 = (ssm_d_conv - 1) x (d_inner + 2 x groups x d_state) elements
    per sequence, 39,936 bytes; transformers keeps all 4 taps in the model dtype."""
    from vramkit.inference import mixer_state_bytes

    spec = ModelSpec.from_config(dict(
        model_type="granitemoehybrid", hidden_size=1536, num_hidden_layers=2, num_attention_heads=12,
        num_key_value_heads=4, intermediate_size=512, vocab_size=100352, num_local_experts=64,
        num_experts_per_tok=6, shared_intermediate_size=1024, layer_types=["mamba", "attention"],
        mamba_n_heads=48, mamba_n_groups=1, mamba_d_state=128, mamba_d_conv=4, mamba_expand=2))
    conv_only = spec.with_changes(mixer_state=tuple(s for s in spec.mixer_state if s[0] == "conv_states"))
    assert mixer_state_bytes(conv_only, 1, "bf16", "llama.cpp") == 39_936
    assert mixer_state_bytes(conv_only, 1, "bf16", "transformers") == 4 * 3328 * 2


BAD = {
    "pattern": (dict(model_type="nemotron_h", hybrid_override_pattern="M-X*"), "hybrid_override_pattern"),
    "kind": (dict(model_type="lfm2", num_hidden_layers=2, layer_types=["conv", "atention"]), "did you mean 'full_attention'"),
    "length": (dict(model_type="qwen3_next", num_hidden_layers=3, layer_types=["linear_attention"]), "must list 3"),
    "heads": (dict(model_type="bamba", mamba_n_heads=100), "must divide the Mamba inner width 8192"),
    "latent": (dict(model_type="nemotron_h", moe_latent_size=1024), "moe_latent_size"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_hybrid_configs_get_one_line(name):
    from vramkit.errors import VramkitError

    cfg, message = BAD[name]
    with pytest.raises(VramkitError, match=message) as err:
        ModelSpec.from_config(cfg)
    assert "\n" not in str(err.value)


def test_qwen3_5_multimodal_config_reads_its_text_config():
    """The Hub's Qwen3.5 configs wrap the language model in text_config (qwen3_5_text); the whole
    model adds the vision tower (tests/test_multimodal_encoders.py checks that count)."""
    rec = SMALL["qwen3_5_text_dense"]
    wrapped = ModelSpec.from_config({"model_type": "qwen3_5", "text_config": rec["config"], "vision_config": {"depth": 1}})
    assert wrapped.language_model_params() == rec["params"]
    assert wrapped.params() > rec["params"] and dict(wrapped.towers)["vision_tower"] > 0
