"""vramkit's MLX numbers against what mlx-lm's caches hold (tests/reference/mlx_cache.json, measured
with mlx and mlx-lm on a CPU by tests/reference/generate_mlx_cache.py), and MLX's own formats."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from vramkit.dtypes import get_format, storage_bytes
from vramkit.inference import kv_cache_bytes, kv_cache_bytes_grid, weights_bytes
from vramkit.model import ModelSpec
from vramkit.sources import load_model

FIXTURE = Path(__file__).parent / "reference" / "mlx_cache.json"
CASES = json.loads(FIXTURE.read_text())["cases"] if FIXTURE.exists() else []


def _kv_dtype(case) -> str:
    return f"mlx-{case['kv_bits']}bit" if case["kv_bits"] else case["dtype"]


def test_fixture_covers_the_cache_kinds():
    kinds = {k for c in CASES for k in c["caches"]}
    assert {"KVCache", "RotatingKVCache", "QuantizedKVCache"} <= kinds
    assert {"llama", "gemma3_text", "deepseek_v3"} <= {c["arch"] for c in CASES}


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c['arch']}-{c['context']}-kv{c['kv_bits'] or c['dtype']}")
def test_kv_cache_bytes_equal_mlx_lm(case):
    spec = ModelSpec.from_config(case["config"])
    assert kv_cache_bytes(spec, case["context"], 1, _kv_dtype(case), engine="mlx") == case["kv_cache_bytes"]
    grid = kv_cache_bytes_grid(spec, [case["context"]], [1], _kv_dtype(case), engine="mlx")
    assert int(grid[0]) == case["kv_cache_bytes"]


def test_mla_latent_not_expanded():
    """DeepSeek-V3 on mlx-lm caches kv_lora_rank + rope dims per token (since early 2026)."""
    ds = load_model("deepseek-v3")
    per_token = (ds.kv_lora_rank + ds.qk_rope_head_dim) * ds.num_layers * 2
    assert kv_cache_bytes(ds, 4096, engine="mlx") == 4096 * per_token


def test_affine_formats_as_mlx_lm_convert_writes_them():
    """mlx_lm.convert -q: groups of 64 with a 16-bit scale and bias; every Linear and Embedding."""
    assert get_format("mlx-4bit").bits == 4.5 and get_format("mlx-8bit").bits == 8.5
    spec = load_model("llama-3.1-8b")
    norms = spec.breakdown()["norms"]
    assert weights_bytes(spec, "mlx-4bit") == storage_bytes(spec.params() - norms, "mlx-4bit") + 2 * norms
