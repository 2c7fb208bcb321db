"""The Qwen3.5 family, Nemotron Nano 2 and Granite 4.0-H in the catalog, against what was published.

Nemotron Nano 2 and Granite 4.0-H publish the element count transformers builds, so
tests/test_catalog_params.py checks them exactly (Nano-12B-v2, for which only the card's "12B" was
found, by rounding), and the meta-device truth is tests/reference/static_hybrid.json. The Qwen3.5
checkpoints publish more than transformers builds: one multi-token-prediction layer (mtp.*) that
Qwen3_5(Moe)ForConditionalGeneration skips on load. Here the published checkpoint count must be
vramkit's whole-model count plus that module, whose shape is Qwen3-Next's (checked on the count
published for it); the meta-device truth of the whole models is
tests/reference/static_multimodal_encoders.json.
"""
import math

import pytest

from vramkit import catalog, load_model

QWEN35 = ["qwen3.5-397b-a17b", "qwen3.5-122b-a10b", "qwen3.5-35b-a3b", "qwen3.5-27b", "qwen3.5-9b", "qwen3.5-4b",
          "qwen3.5-2b", "qwen3.5-0.8b"]


def mtp_params(spec) -> int:
    """One full-attention decoder layer, the fc from [embedding; hidden] (2h -> h) and three norms."""
    h = spec.hidden_size
    full = spec.layer_types.index("full_attention")
    return spec.layer_params(full) + 2 * h * h + 3 * h


def test_mtp_shape_is_qwen3_next_s():
    """Qwen3-Next-80B-A3B's MTP module, published as 1,650,471,424 elements (its catalog note)."""
    assert mtp_params(load_model("qwen3-next-80b-a3b")) == 1_650_471_424


@pytest.mark.parametrize("name", QWEN35)
def test_qwen35_checkpoint_is_whole_model_plus_mtp(name):
    entry, spec = catalog.model_entry(name), load_model(name)
    assert spec.multimodal in ("qwen3_5", "qwen3_5_moe") and dict(spec.towers)["vision_tower"] > 0
    assert spec.params() + mtp_params(spec) == entry["published_checkpoint_params"]
    parts = entry.get("published_parts", {})
    if "language_model" in parts:
        assert spec.language_model_params() == parts["language_model"]
    if "vision_tower" in parts:
        assert dict(spec.towers)["vision_tower"] == parts["vision_tower"]
    if "mtp" in parts:
        assert mtp_params(spec) == parts["mtp"]


@pytest.mark.parametrize("name", QWEN35)
def test_qwen35_card(name):
    """The card's total is the built model (MTP left out) cut to the card's last digit, one way or the
    other: the cards truncate (122.56 B is "122B", 0.853 B "0.8B") except 397B (396.80 B rounded
    up), so no one rounding rule holds. The 'activated' count (the A17B / A10B / A3B of the name) is
    the active parameters, embedding and head included, truncated to whole billions, for all three
    MoE models."""
    entry, spec = catalog.model_entry(name), load_model(name)
    card = entry["published_scope"]["total"]
    total = card.split("B")[0]
    scale = 10 ** len(total.partition(".")[2])
    x = spec.params() / 1e9 * scale
    assert round(float(total) * scale) in (math.floor(x), math.ceil(x))
    if spec.is_moe:
        activated = card.split(" and ")[1].split("B")[0]
        assert f"{math.floor(spec.active_params() / 1e9)}" == activated
        assert name.endswith(f"a{activated}b")


def test_dense_qwen35_is_multimodal_and_untied():
    """Qwen3_5ForConditionalGeneration ties by its own tie_word_embeddings (False)."""
    spec = load_model("qwen3.5-27b")
    parts = spec.breakdown()
    assert parts["lm_head"] == parts["embedding"] == 248320 * 5120
    assert spec.params() - spec.language_model_params() == 460_730_096


@pytest.mark.parametrize("name", ["nemotron-nano-9b-v2", "nemotron-nano-12b-v2", "granite-4.0-h-small",
                                  "granite-4.0-h-micro"])
def test_hybrids_are_in_the_catalog_with_sources(name):
    entry = catalog.model_entry(name)
    assert entry["sources"] and entry["notes"] and entry["hf_repo"]
    assert entry["published_params"] is not None or "published_params_rounded" in entry


@pytest.mark.parametrize("whole,text", [("llama-4-scout-17b-16e-instruct", "llama-4-scout-17b-16e"),
                                        ("llama-4-maverick-17b-128e-instruct", "llama-4-maverick-17b-128e"),
                                        ("gemma-3n-e4b-it", "gemma-3n-e4b"), ("gemma-3n-e2b-it", "gemma-3n-e2b")])
def test_whole_model_is_the_text_entry_plus_towers(whole, text):
    """The catalog's text-only entries are the language model of the whole ones; the card totals
    (109B / 400B, 8B / 5B raw) count the towers too."""
    w, t = load_model(whole), load_model(text)
    assert w.language_model_params() == t.params()
    assert w.params() - t.params() == sum(n for _, n in w.towers) > 0


@pytest.mark.parametrize("name", ["gemma-3n-e4b-it", "gemma-3n-e2b-it"])
def test_gemma3n_whole_effective(name):
    """'Effective' parameters: the language model without its per-layer embedding table."""
    entry, spec = catalog.model_entry(name), load_model(name)
    effective = spec.language_model_params() - spec.breakdown()["per_layer_embedding"]
    assert f"{round(effective / 1e9)}B" == entry["published_effective_rounded"]
