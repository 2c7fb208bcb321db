"""vramkit's prefill activation estimate against transformers' measured peaks (tests/reference/prefill.json).

The fixture was written by tests/reference/generate_prefill.py with MemTracker under FakeTensorMode;
`activation_bytes` there is the peak minus parameters, buffers and the cache's K/V bytes.
"""
import json
import statistics
from pathlib import Path

import pytest

from vramkit.inference import kv_cache_bytes, prefill_activation_bytes
from vramkit.model import ModelSpec

DATA = json.loads((Path(__file__).parent / "reference" / "prefill.json").read_text(encoding="utf-8"))
CASES = DATA["cases"]
TOLERANCE = 0.15


def _estimate(case):
    spec = ModelSpec.from_config(DATA["archs"][case["arch"]])
    return prefill_activation_bytes(spec, case["tokens"], case["batch"], case["dtype"], case["attention"])


def _id(case):
    return f"{case['arch']}-{case['attention']}-t{case['tokens']}-b{case['batch']}"


def test_fixture_covers_the_matrix():
    archs = {c["arch"] for c in CASES}
    assert len(archs) >= 10
    assert {c["attention"] for c in CASES} == {"sdpa", "eager"}
    assert {c["tokens"] for c in CASES} >= {64, 256, 1024} and {c["batch"] for c in CASES} == {1, 2}
    assert "logits_to_keep=1" in DATA["call"]


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_activation_within_tolerance(case):
    measured = case["activation_bytes"]
    assert measured == case["peak_bytes"] - case["param_bytes"] - case["buffer_bytes"] - case["kv_bytes"]
    assert abs(_estimate(case) / measured - 1) <= TOLERANCE


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_kv_bytes_match(case):
    spec = ModelSpec.from_config(DATA["archs"][case["arch"]])
    assert kv_cache_bytes(spec, case["tokens"], case["batch"], case["dtype"]) == case["kv_bytes"]


def test_median_error_is_small():
    errors = [abs(_estimate(c) / c["activation_bytes"] - 1) for c in CASES]
    assert statistics.median(errors) <= 0.05


def test_docstring_no_longer_says_unchecked():
    doc = prefill_activation_bytes.__doc__.lower()
    assert "not checked" not in doc and "prefill.json" in doc
