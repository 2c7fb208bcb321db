"""The explanatory diagrams: well-formed SVG whose printed numbers come from the spec (vramkit.diagrams)."""
import xml.etree.ElementTree as ET

import pytest

import vramkit
from vramkit import diagrams
from vramkit.errors import VramkitError
from vramkit.inference import kv_bytes_per_token
from vramkit.training import zero_model_states
from vramkit.units import fmt_bytes

SVG = "{http://www.w3.org/2000/svg}"


def texts(svg: str) -> list[str]:
    root = ET.fromstring(svg)  # raises on malformed XML
    assert root.tag == SVG + "svg" and root.find(SVG + "title").text
    return [t.text or "" for t in root.iter(SVG + "text")]


def joined(svg: str) -> str:
    return "\n".join(texts(svg))


@pytest.fixture(scope="module")
def llama():
    return vramkit.load_model("llama-3.1-8b")


def test_decoder_layer_prints_the_spec_widths(llama):
    t = joined(diagrams.decoder_layer(llama, "en", "Llama 3.1 8B"))
    assert "k_proj 4,096 → 1,024" in t and "gate_proj 4,096 → 14,336" in t and "down_proj 14,336 → 4,096" in t
    assert "32 query heads, 8 KV heads" in t and "× 32 layers" in t
    assert f"{llama.layer_params(0):,}" in t
    # change the spec, the labels change with it
    other = llama.with_changes(num_kv_heads=4, intermediate_size=11008, num_layers=30, layer_types=llama.layer_types[:30])
    t2 = joined(diagrams.decoder_layer(other, "en"))
    assert "k_proj 4,096 → 512" in t2 and "gate_proj 4,096 → 11,008" in t2 and "× 30 layers" in t2
    assert "14,336" not in t2


def test_decoder_layer_fused_and_korean():
    phi = vramkit.load_model("phi-3-mini-4k")
    t = joined(diagrams.decoder_layer(phi, "ko"))
    assert "qkv_proj" in t and "gate_up_proj" in t and "층" in t
    with pytest.raises(VramkitError):
        diagrams.decoder_layer(vramkit.load_model("mixtral-8x7b-v0.1"), "en")


def test_gqa_heads(llama):
    svg = diagrams.gqa_heads(llama, "en")
    root = ET.fromstring(svg)
    lines = root.findall(SVG + "line")
    assert len(lines) == llama.num_heads  # one line per query head to its KV head
    t = joined(svg)
    assert fmt_bytes(kv_bytes_per_token(llama), "KiB", 0) in t and "(4×)" in t
    t2 = joined(diagrams.gqa_heads(llama.with_changes(num_kv_heads=2), "en"))
    assert "2 KV heads: 16 query heads" in t2 and "(16×)" in t2
    with pytest.raises(VramkitError):
        diagrams.gqa_heads(vramkit.load_model("deepseek-v3"), "en")


def test_mla_cache():
    ds = vramkit.load_model("deepseek-v3")
    t = joined(diagrams.mla_cache(ds, "en"))
    assert "c_KV 512 + k_rope 64 = 576" in t and "128 heads × (K 192 + V 128) = 40,960" in t
    assert fmt_bytes(kv_bytes_per_token(ds), "KiB", 1) in t
    t2 = joined(diagrams.mla_cache(ds.with_changes(kv_lora_rank=256), "ko"))
    assert "c_KV 256 + k_rope 64 = 320" in t2
    with pytest.raises(VramkitError):
        diagrams.mla_cache(vramkit.load_model("llama-3.1-8b"), "en")


def test_page_table_interleaves_and_covers_every_token():
    tables = diagrams.page_table([37, 20, 53], 16)
    assert tables == [[0, 3, 6], [1, 4], [2, 5, 7, 8]]
    assert sorted(b for t in tables for b in t) == list(range(9))


def test_paged_kv(llama):
    t = joined(diagrams.paged_kv(llama, "en", lengths=(37, 20, 53)))
    block = kv_bytes_per_token(llama, engine="vllm") * 16
    assert fmt_bytes(block, "MiB", 2) in t and "110 tokens in 9 blocks" in t and "are 34," in t
    t2 = joined(diagrams.paged_kv(llama, "en", lengths=(37, 20, 53), block_size=32))
    assert "32 tokens per block" in t2 and "110 tokens in 5 blocks" in t2


def test_zero_stages():
    t = joined(diagrams.zero_stages(7_500_000_000, 64, "en"))
    for stage in range(4):
        assert fmt_bytes(zero_model_states(7_500_000_000, stage, 64), "GB", 1) + " per GPU" in t
    assert "120.0 GB per GPU" in t and "1.9 GB per GPU" in t and "GPU 63" in t
    assert "GPU당" in joined(diagrams.zero_stages(7_500_000_000, 8, "ko"))


def test_bad_language(llama):
    with pytest.raises(VramkitError, match="language"):
        diagrams.gqa_heads(llama, "fr")


def test_each_diagram_references_only_its_own_marker(llama):
    """Inlined together in one HTML page, no diagram may point at another's arrow marker."""
    ds = vramkit.load_model("deepseek-v3")
    svgs = [diagrams.decoder_layer(llama), diagrams.gqa_heads(llama), diagrams.mla_cache(ds),
            diagrams.paged_kv(llama), diagrams.zero_stages(10**9, 4)]
    ids = []
    for svg in svgs:
        root = ET.fromstring(svg)
        own = [m.get("id") for m in root.iter(SVG + "marker")]
        assert len(own) == 1
        ids += own
        assert "url(#" not in svg.replace(f"url(#{own[0]})", "")
    assert len(set(ids)) == len(ids)


def test_paged_kv_refuses_a_model_without_a_cache():
    with pytest.raises(VramkitError, match="keeps none"):
        diagrams.paged_kv(vramkit.load_model("bert-base-uncased"), "en")
