"""Every catalog model's exact parameter count equals its published element count.

The published counts come from real checkpoints (safetensors totals less buffers, GGUF
metadata, keras-hub presets); see each catalog entry's "sources".
"""
import pytest

from vramkit import catalog, load_model

# DeepSeek-V3's published 671,026,419,200 counts the router's e_score_correction_bias (256 per MoE
# layer) as a weight because the checkpoint stores it; transformers registers it as a buffer.
# The reference fixtures (tests/reference) decide which one transformers builds.
BUFFER_IN_PUBLISHED = {"deepseek-v3": 58 * 256}


@pytest.mark.parametrize("name", catalog.model_names())
def test_catalog_count_matches_published(name):
    entry = catalog.model_entry(name)
    spec = load_model(name)
    assert spec.params() + BUFFER_IN_PUBLISHED.get(name, 0) == entry["published_params"]


@pytest.mark.parametrize("name", catalog.model_names())
def test_breakdown_adds_up(name):
    spec = load_model(name)
    assert sum(spec.breakdown().values()) == spec.params()
    assert 0 < spec.active_params() <= spec.params()
    assert (spec.active_params() < spec.params()) == spec.is_moe


def test_catalog_is_large_enough():
    assert len(catalog.model_names()) >= 25
