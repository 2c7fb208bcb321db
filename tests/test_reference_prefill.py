"""vramkit's prefill activation estimate against transformers' measured peaks (tests/reference/prefill.json).

The fixture was written by tests/reference/generate_prefill.py with MemTracker under FakeTensorMode;
`activation_bytes` there is the peak minus parameters, buffers and the cache's K/V bytes.
"""
import pytest
import reference_checks as check

from vramkit.inference import prefill_activation_bytes

DATA = check.load("prefill.json")
CASES = DATA["cases"]
TOLERANCE = 0.15


def test_fixture_covers_the_matrix():
    archs = {c["arch"] for c in CASES}
    assert len(archs) >= 10
    assert {c["attention"] for c in CASES} == {"sdpa", "eager"}
    assert {c["tokens"] for c in CASES} >= {64, 256, 1024} and {c["batch"] for c in CASES} == {1, 2}
    assert "logits_to_keep=1" in DATA["call"]


@pytest.mark.parametrize("case", CASES, ids=check.prefill_id)
def test_activation_within_tolerance(case):
    check.assert_activation(DATA["archs"], case, TOLERANCE)


@pytest.mark.parametrize("case", CASES, ids=check.prefill_id)
def test_kv_bytes_match(case):
    check.assert_prefill_cache(DATA["archs"], case)


def test_median_error_is_small():
    assert check.median_error(DATA["archs"], CASES) <= 0.05


def test_docstring_no_longer_says_unchecked():
    doc = prefill_activation_bytes.__doc__.lower()
    assert "not checked" not in doc and "prefill.json" in doc
