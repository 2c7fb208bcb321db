"""Every catalog model's exact parameter count equals its published element count.

The published counts come from real checkpoints (safetensors totals less buffers, GGUF
metadata, keras-hub presets); see each catalog entry's "sources".
"""
import pytest

from vramkit import catalog, load_model

# DeepSeek-V3's published 671,026,419,200 counts the router's e_score_correction_bias (256 per MoE
# layer) as a weight because the checkpoint stores it; transformers registers it as a buffer
# (nn.Buffer in DeepseekV3TopkRouter), so it is not among model.parameters(). The reference
# fixture confirms it: tests/reference/static.json records 671,026,404,352 parameters and a
# 58 x 256 buffer (checked in tests/test_reference_static.py).
BUFFER_IN_PUBLISHED = {"deepseek-v3": 58 * 256,
                       # the same router bias buffer: Kimi K2 (60 MoE layers x 384 experts), GLM-4.5/4.6 (89 x 160)
                       "kimi-k2": 60 * 384, "glm-4.5": 89 * 160, "glm-4.6": 89 * 160}


EXACT = [n for n in catalog.model_names() if catalog.model_entry(n)["published_params"] is not None]
# Entries published only for another class (a backbone, an untied checkpoint) are checked in
# tests/test_multimodal_encoders.py (their "published_as"); cards of another scope (a whole
# multimodal model, MTP layers, a rounding that no convention reproduces) in
# tests/test_catalog_2026_attn.py ("published_scope").
ROUNDED = [n for n in catalog.model_names() if catalog.model_entry(n)["published_params"] is None
           and "published_as" not in catalog.model_entry(n)
           and {"published_params_rounded", "published_params_without_embeddings"} & set(catalog.model_entry(n))]


@pytest.mark.parametrize("name", EXACT)
def test_catalog_count_matches_published(name):
    entry = catalog.model_entry(name)
    spec = load_model(name)
    assert spec.params() + BUFFER_IN_PUBLISHED.get(name, 0) == entry["published_params"]


@pytest.mark.parametrize("name", ROUNDED)
def test_catalog_count_matches_model_card_rounding(name):
    """Models whose card gives only a rounded count (e.g. '30.95B without embeddings')."""
    entry = catalog.model_entry(name)
    spec = load_model(name)
    parts = spec.breakdown()
    if "published_params_without_embeddings" in entry:
        text, n = entry["published_params_without_embeddings"], spec.params() - parts["embedding"] - parts["lm_head"]
    else:
        text, n = entry["published_params_rounded"], spec.params()
    assert _rounded(n, text) == text
    if "published_active_rounded" in entry:
        assert _rounded(spec.active_params(), entry["published_active_rounded"]) == entry["published_active_rounded"]


def _rounded(n: int, like: str) -> str:
    """`n` in billions with as many decimals as `like` ('30.95B') has."""
    digits = len(like.rstrip("B").partition(".")[2])
    return f"{n / 1e9:.{digits}f}B"


@pytest.mark.parametrize("name", catalog.model_names())
def test_breakdown_adds_up(name):
    spec = load_model(name)
    assert sum(spec.breakdown().values()) == spec.params()
    assert 0 < spec.active_params() <= spec.params()
    assert (spec.active_params() < spec.params()) == spec.is_moe


def test_catalog_is_large_enough():
    assert len(catalog.model_names()) >= 25


# Relative-position families carry no trained length (T5's buckets); Falcon-H1-Tiny's length was not
# found in any public copy of its config.json, so it keeps its class's default and is named here.
NO_STATED_CONTEXT = {"t5", "mt5", "falcon-h1-tiny-90m"}


def _stated_context(config: dict) -> bool:
    keys = ("max_position_embeddings", "n_positions", "max_seq_len")
    return any(k in config for k in keys) or any(k in config.get("text_config", {}) for k in keys)


@pytest.mark.parametrize("name", [n for n in catalog.model_names() if n not in NO_STATED_CONTEXT
                                  and catalog.model_entry(n)["config"]["model_type"] not in NO_STATED_CONTEXT])
def test_catalog_states_the_trained_context(name):
    """A catalog config that omits the trained length gets transformers' class default (DeepSeek-V3's
    4,096, Granite 4.0-H's 2,048), which vLLM would then take as --max-model-len and refuse longer
    contexts: each entry states what its real config.json says."""
    assert _stated_context(catalog.model_entry(name)["config"]), f"{name}: config states no max_position_embeddings"
