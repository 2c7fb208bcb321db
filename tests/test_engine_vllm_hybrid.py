"""vLLM's KV layout for hybrid models, chunked attention and KV sharing (vramkit.engines.vllm_kv).

Two kinds of truth:
- published start-up lines (catalog/published-vllm-startup-logs.json, entries with `layout_only`):
  the attention block size vLLM printed, and the tokens and concurrency it printed for its pool;
  Llama 4 Scout's whole log is asked in tests/test_engine_vllm.py like every other log.
- for families with no published log, worked examples written from vLLM's source (0.19.0 and
  0.28.0: model_executor/layers/mamba/mamba_utils.py state shapes, platforms/interface.py
  `_align_hybrid_block_size`, v1/core/kv_cache_utils.py grouping, v1/kv_cache_interface.py
  `max_memory_usage_bytes`), the arithmetic done by hand in each docstring from the config's numbers.
"""
from __future__ import annotations

import pytest

from vramkit import catalog
from vramkit.engines import vllm, vllm_kv
from vramkit.engines.base import EngineRequest
from vramkit.errors import VramkitError
from vramkit.sources import load_model

LAYOUT = [e for e in catalog.published("vllm-startup-logs")["entries"] if e.get("layout_only")]


def _layout(name, tp=1, version="0.28", kv_bytes=2, options=None, block_size=16):
    spec = load_model(name)
    lay = vllm._kv_layout(spec, range(spec.num_layers), tp, block_size, kv_bytes, version=version,
                          model_dtype="bf16", options=options or {})[3]
    return spec, lay


def test_layout_fixture_has_sources():
    assert len(LAYOUT) >= 2
    for e in LAYOUT:
        assert e["source"].startswith("https://github.com/") and e["ask"] and e["printed"]["attention_block_size"]


@pytest.mark.parametrize("entry", LAYOUT, ids=lambda e: e["id"])
def test_published_hybrid_layout(entry):
    """vramkit's attention block size equals the one vLLM printed; with the pool's block count that
    prints vLLM's tokens, vramkit prints the same tokens and concurrency."""
    ask = entry["ask"]
    o = ask["options"]
    kv = 1 if ask["kv_dtype"] == "fp8_e4m3" else 2
    spec, lay = _layout(ask["model"], tp=o["tensor_parallel_size"], version=o["vllm_version"], kv_bytes=kv,
                        options=o)
    printed = entry["printed"]
    assert lay.block_size == printed["attention_block_size"]
    if "kv_tokens" in printed:
        length, blocks = o["max_model_len"], entry["blocks_inferred"]
        need = vllm._blocks_per_request(spec, lay, length, o["max_num_batched_tokens"], o["vllm_version"])
        assert vllm_kv.printed_tokens(o["vllm_version"], lay, blocks, need, length) == printed["kv_tokens"]
        assert round(blocks / need, 2) == printed["max_concurrency"]


def test_nemotron_h_worked_example():
    """Nemotron-H-8B (52 layers: 24 Mamba-2, 4 attention, 24 MLP-only), TP=1, bf16, from the source.

    Mamba-2 state: conv (K-1=3) x (d_inner 8,192 + 2 x 8 groups x 128) = 30,720 bf16 = 61,440 B;
    SSM 128 heads x 64 x 128 = 1,048,576 in float32 (0.28's NemotronH default) = 4,194,304 B: page
    4,255,744 B. Attention per token 2 x 8 x 128 x 2 B = 4,096 B, so block = 16 x ceil(4,255,744 /
    65,536) = 16 x 65 = 1,040 tokens. Groups: 24 Mamba / 4 attention -> group of 4, 6 Mamba + 1 full.
    0.28 (prefix caching on, mode align: 2 blocks per Mamba group): ceil(8,192 / 1,040) + 12 = 20.
    0.19 (float16 SSM: page 2,158,592 -> 16 x 33 = 528 tokens; mode none, 1 block): 16 + 6 = 22.
    """
    spec, lay = _layout("nemotron-h-8b")
    assert (lay.mamba_page, lay.block_size, lay.group, lay.page) == (4_255_744, 1040, 4, 1040 * 4096)
    assert [k for k, _ in lay.groups] == ["mamba"] * 6 + ["full"]
    assert vllm._blocks_per_request(spec, lay, 8192, 8192, "0.28") == 20
    spec, lay = _layout("nemotron-h-8b", version="0.19")
    assert (lay.mamba_page, lay.block_size, lay.mamba_mode) == (2_158_592, 528, "none")
    assert vllm._blocks_per_request(spec, lay, 8192, 8192, "0.19") == 22


def test_granite_4_h_worked_example():
    """Granite-4.0-H-Small (36 Mamba-2 + 4 attention), 1 group of 128 states, from the source.

    TP=1: conv 3 x (8,192 + 2 x 1 x 128) = 25,344 bf16 = 50,688 B; SSM 128 x 64 x 128 bf16 ("auto")
    = 2,097,152 B: page 2,147,840 -> block 16 x ceil(2,147,840 / 65,536) = 16 x 33 = 528. 9 Mamba
    groups + 1 full. TP=4: the single group is replicated to 4 (extra_groups_for_head_shards): conv
    3 x (8,192 + 2 x 4 x 128) / 4 = 6,912 -> 13,824 B; SSM 32 x 64 x 128 -> 524,288 B: 538,112 B;
    attention per token 2 x 2 x 128 x 2 = 1,024 B -> 16 x ceil(538,112 / 16,384) = 16 x 33 = 528.
    """
    spec, lay = _layout("granite-4.0-h-small")
    assert (lay.mamba_page, lay.block_size, len(lay.groups)) == (2_147_840, 528, 10)
    assert vllm._blocks_per_request(spec, lay, 8192, 8192, "0.28") == 16 + 9 * 2
    _, lay = _layout("granite-4.0-h-small", tp=4)
    assert (lay.mamba_page, lay.block_size) == (538_112, 528)


def test_qwen3_next_worked_example():
    """Qwen3-Next-80B-A3B (36 Gated DeltaNet + 12 attention), from the source: conv 3 x (2 x 16 x
    128 + 32 x 128) = 24,576 bf16 = 49,152 B; SSM 32 x 128 x 128 in the model dtype (no override
    for Qwen3-Next) = 1,048,576 B: 1,097,728 B. Attention 2 x 2 x 256 x 2 = 2,048 B per token ->
    16 x ceil(1,097,728 / 32,768) = 16 x 34 = 544 tokens. 3 Mamba groups + 1 full of 12."""
    spec, lay = _layout("qwen3-next-80b-a3b")
    assert (lay.mamba_page, lay.block_size, lay.group) == (1_097_728, 544, 12)
    assert [k for k, _ in lay.groups] == ["mamba"] * 3 + ["full"]


def test_falcon_h1_jamba_lfm2_worked_examples():
    """Falcon-H1 (attention and Mamba-2 side by side in each of 24 layers: 24 + 24 specs, 2 groups):
    conv 3 x (768 + 2 x 64) = 2,688 bf16 = 5,376 B, SSM 24 x 32 x 64 bf16 = 98,304 B: 103,680 B;
    attention 2 x 2 x 64 x 2 = 512 B -> 16 x ceil(103,680 / 8,192) = 208.
    Jamba v0.1 (Mamba 1): conv 3 x 8,192 bf16 = 49,152 B, SSM 8,192 x 16 bf16 = 262,144 B: 311,296 B
    -> 16 x ceil(311,296 / 65,536) = 80; 28 Mamba / 4 attention: 7 + 1 groups.
    LFM2-1.2B (short conv, L_cache 3): conv 2 x 2,048 bf16 = 8,192 B <= 16 x 2,048 B: block stays 16;
    10 conv / 6 attention (not under 1.5x): group 6, 2 conv groups + 1 full; 0.28: 512 + 2 x 2."""
    spec, lay = _layout("falcon-h1-tiny-90m")
    assert (lay.mamba_page, lay.block_size, lay.group, len(lay.groups)) == (103_680, 208, 24, 2)
    _, lay = _layout("jamba-v0.1")
    assert (lay.mamba_page, lay.block_size, len(lay.groups)) == (311_296, 80, 8)
    spec, lay = _layout("lfm2-1.2b")
    assert (lay.mamba_page, lay.block_size, lay.group, len(lay.groups)) == (8192, 16, 6, 3)
    assert vllm._blocks_per_request(spec, lay, 8192, 8192, "0.28") == 516


def test_gemma3n_kv_shared_layers_hold_no_pages():
    """gemma-3n-E4B: 35 layers, the last 15 read earlier layers' K/V (no spec in vLLM); of the 20
    others 16 sliding (window 512) and 4 full -> group 4: 4 sliding groups + 1 full. Per request at
    8,192 tokens (0.19: 8,192 tokens in flight): sliding ceil(min(511 + 8,192, 8,192) / 16) + 1 = 513
    each, full 512: 4 x 513 + 512 = 2,564."""
    spec, lay = _layout("gemma-3n-e4b-it", version="0.19")
    assert lay.group == 4 and [k for k, _ in lay.groups] == ["sliding"] * 4 + ["full"]
    assert vllm._blocks_per_request(spec, lay, 8192, 8192, "0.19") == 2564
    assert vllm._blocks_per_request(spec, lay, 32768, 8192, "0.19") == 4 * 545 + 2048


def test_llama4_chunked_groups_and_async_in_flight():
    """Llama 4 Scout: 36 chunked (8,192) + 12 full layers: 4 groups of 12. A chunked group holds
    ceil(min(chunk + in flight, L) / 16): at L = 32,768 with 8,192 batched tokens, 0.19 counts one
    batch in flight (16,384 -> 1,024 blocks), 0.28 two (async scheduling: 24,576 -> 1,536)."""
    spec, lay = _layout("llama-4-scout-17b-16e-instruct", tp=4)
    assert [k for k, _ in lay.groups] == ["chunked"] * 3 + ["full"] and lay.group == 12
    assert vllm._blocks_per_request(spec, lay, 32768, 8192, "0.19") == 3 * 1024 + 2048
    assert vllm._blocks_per_request(spec, lay, 32768, 8192, "0.28") == 3 * 1536 + 2048


def test_cli_plan_counts_attention_layers_only():
    """The plan's pool: a Nemotron-H block holds 4 attention pages of 1,040 tokens, not 52 layers of 16."""
    spec = load_model("nemotron-h-8b")
    plan = vllm.plan(EngineRequest(spec=spec, context=8192, weights="bf16", kv_dtype=None,
                                   options={"total_memory_bytes": 85_000_000_000, "max_model_len": 8192}))
    v = plan.extra["vllm"]
    assert v["block_size"] == 1040 and v["block_bytes"] == 4 * 1040 * 4096 and v["mamba_cache_mode"] == "align"
    assert plan.max_concurrency == round(plan.kv_blocks / 20, 2)
    assert plan.kv_tokens_capacity == int(plan.kv_blocks / 20 * 8192)


def test_refusals():
    spec = load_model("nemotron-h-8b")
    with pytest.raises(VramkitError, match="0.6"):
        vllm.plan(EngineRequest(spec=spec, context=4096, weights="bf16", kv_dtype=None,
                                options={"vllm_version": "0.6", "total_memory_bytes": 85_000_000_000}))
    with pytest.raises(VramkitError, match="mamba-cache-mode"):
        _layout("nemotron-h-8b", options={"mamba_cache_mode": "bogus"})
