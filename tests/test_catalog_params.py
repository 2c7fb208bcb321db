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
BUFFER_IN_PUBLISHED = {"deepseek-v3": 58 * 256}


EXACT = [n for n in catalog.model_names() if catalog.model_entry(n)["published_params"] is not None]
# Entries published only for another class (a backbone, an untied checkpoint) are checked in
# tests/test_multimodal_encoders.py (their "published_as").
ROUNDED = [n for n in catalog.model_names() if catalog.model_entry(n)["published_params"] is None
           and "published_as" not in catalog.model_entry(n)]


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
