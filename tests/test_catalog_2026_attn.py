"""The 2026 catalog models of the attention-variant families against their published counts.

The exact truth for each is transformers' own count of the catalog config
(tests/reference/static_2026_attn.json, checked in test_reference_static_attn.py). Here: the
model cards' rounded counts, under the convention each entry names; where a card counts
something the config does not build (a vision tower, MTP layers), the entry says so in
"published_scope" and the test checks the direction and size of the difference.
"""
import pytest

from vramkit import catalog, load_model

NAMES = ["llama-4-scout-17b-16e", "llama-4-maverick-17b-128e", "gemma-3n-e4b", "gemma-3n-e2b",
         "deepseek-v3.1", "deepseek-v3.2-exp", "kimi-k2", "glm-4.5", "glm-4.6", "glm-4.5-air",
         "minimax-m2", "olmo-3-7b", "olmo-3-32b", "smollm3-3b", "mistral-small-24b-2501"]


def _b(n: int, digits: int = 0) -> str:
    return f"{n / 1e9:.{digits}f}B"


def _without_embeddings(spec, n):
    parts = spec.breakdown()
    return n - parts["embedding"] - parts["lm_head"]


def test_catalog_has_them():
    assert set(NAMES) <= set(catalog.model_names())
    for name in NAMES:
        entry = catalog.model_entry(name)
        assert entry["sources"] and entry["notes"] and entry["hf_repo"]
        assert ("published_scope" in entry) or ("published_params_rounded" in entry) or \
            ("published_params_without_embeddings" in entry)


@pytest.mark.parametrize("name", ["llama-4-scout-17b-16e", "llama-4-maverick-17b-128e"])
def test_llama4_text_model_within_card(name):
    """Active 17B as the card; the card's total adds the vision encoder (under 2% of it)."""
    entry, spec = catalog.model_entry(name), load_model(name)
    assert _b(spec.active_params()) == entry["published_active_rounded"]
    card = int(entry["published_scope"]["total"].rstrip("B")) * 10**9
    assert abs(card - spec.params()) < 0.02 * card


@pytest.mark.parametrize("name", ["gemma-3n-e4b", "gemma-3n-e2b"])
def test_gemma3n_effective(name):
    """'Effective' parameters: the text model without its per-layer embedding table."""
    entry, spec = catalog.model_entry(name), load_model(name)
    assert _b(spec.params() - spec.breakdown()["per_layer_embedding"]) == entry["published_effective_rounded"]
    raw = int(entry["published_scope"]["total"].split("B")[0]) * 10**9
    assert spec.params() < raw  # the raw count adds the audio and vision encoders


def test_deepseek_v32_is_v31_plus_indexer():
    v31, v32 = load_model("deepseek-v3.1"), load_model("deepseek-v3.2-exp")
    assert v32.params() - v31.params() == v32.breakdown()["indexer"] == 61 * 13_959_424
    assert v32.params() < 685 * 10**9 < v32.params() + 14.5 * 10**9  # card 685B adds the ~14B MTP module


def test_kimi_k2_card():
    spec = load_model("kimi-k2")
    assert f"{spec.params() / 1e12:.0f}T" == "1T"
    active_no_input_embedding = spec.active_params() - spec.breakdown()["embedding"]
    assert _b(active_no_input_embedding) == "32B"


@pytest.mark.parametrize("name", ["glm-4.5", "glm-4.6"])
def test_glm45_card_counts_mtp_without_embeddings(name):
    spec = load_model(name)
    mtp_layer = spec.layer_params(spec.num_layers - 1)  # one more MoE decoder layer
    assert _b(_without_embeddings(spec, spec.params()) + mtp_layer) == "355B"
    assert _b(_without_embeddings(spec, spec.active_params())) == "32B"


def test_glm45_air_card():
    spec = load_model("glm-4.5-air")
    assert _b(_without_embeddings(spec, spec.active_params())) == "12B"


def test_minimax_m2_card():
    spec = load_model("minimax-m2")
    assert _b(spec.active_params() - spec.breakdown()["embedding"]) == "10B"
    assert 228 * 10**9 < spec.params() < 230 * 10**9  # the card rounds 228.7B up to 230B
