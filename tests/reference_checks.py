"""The comparisons shared by the tests against the reference fixtures in tests/reference/.

Each test file keeps its fixture, its tolerances and the explanations; the checks are here, once:

- static fixtures (static.json, static_2026_attn.json, static_hybrid.json: meta-device parameter
  counts and FakeTensorMode prefill caches): `load`, `per_case`, `case_id`, `assert_params`,
  `assert_cache_bytes`, `assert_cached_tokens`;
- prefill fixtures (prefill.json, prefill_2026.json: MemTracker peaks): `prefill_id`,
  `relative_error`, `assert_activation`, `assert_prefill_cache`, `median_error`.

No torch: every check rebuilds a ModelSpec from the config the fixture recorded.
"""
import json
import statistics
from pathlib import Path

from vramkit.inference import cached_tokens, kv_cache_bytes, prefill_activation_bytes
from vramkit.model import ModelSpec

REFERENCE = Path(__file__).parent / "reference"


# ---- static fixtures ------------------------------------------------------------------------

def load(name: str) -> dict:
    """The fixture tests/reference/<name>."""
    return json.loads((REFERENCE / name).read_text(encoding="utf-8"))


def per_case(small: dict, key: str) -> list[tuple[str, dict]]:
    """(architecture, prefill record) for every record under `key` of every small architecture."""
    return [(name, case) for name, rec in small.items() for case in rec[key]]


def case_id(item) -> str:
    """A prefill record's test id: architecture, batch, context, dtype."""
    name, c = item
    return f"{name}-b{c['batch']}-t{c['context']}-{c['dtype']}"


def assert_params(rec: dict) -> None:
    """vramkit's parameter count of the recorded config is transformers' count."""
    assert ModelSpec.from_config(rec["config"]).params() == rec["params"]


def assert_cache_bytes(config: dict, case: dict, key: str = "kv_bytes") -> None:
    """vramkit's cache bytes for the record's context, batch and dtype are `case[key]`, the bytes of
    every tensor the model's own cache held after that prefill."""
    spec = ModelSpec.from_config(config)
    got = kv_cache_bytes(spec, case["context"], case["batch"], case["dtype"])
    where = f"tokens per layer in transformers: {case['tokens_per_layer']}" if "tokens_per_layer" in case else ""
    assert got == case[key], where


def assert_cached_tokens(config: dict, case: dict) -> None:
    """vramkit's tokens per layer after the prefill are the cache's (sliding windows, chunks, shared KV)."""
    spec = ModelSpec.from_config(config)
    assert [cached_tokens(spec, i, case["context"]) for i in range(spec.num_layers)] == case["tokens_per_layer"]


# ---- prefill fixtures -----------------------------------------------------------------------

def prefill_id(case: dict) -> str:
    """A prefill case's test id: architecture, attention, tokens, batch."""
    return f"{case['arch']}-{case['attention']}-t{case['tokens']}-b{case['batch']}"


def _spec(archs: dict, case: dict) -> ModelSpec:
    return ModelSpec.from_config(archs[case["arch"]])


def relative_error(archs: dict, case: dict) -> float:
    """|vramkit's prefill activation bytes / the measured ones - 1|."""
    est = prefill_activation_bytes(_spec(archs, case), case["tokens"], case["batch"], case["dtype"],
                                   case["attention"])
    return abs(est / case["activation_bytes"] - 1)


def assert_activation(archs: dict, case: dict, tolerance: float) -> None:
    """The measured activation is the peak less parameters, buffers and cache; vramkit within `tolerance`."""
    measured = case["activation_bytes"]
    assert measured == case["peak_bytes"] - case["param_bytes"] - case["buffer_bytes"] - case["kv_bytes"]
    assert relative_error(archs, case) <= tolerance


def assert_prefill_cache(archs: dict, case: dict) -> None:
    """vramkit's cache bytes after the prefill are what the cache held (`kv_bytes`), exactly."""
    assert kv_cache_bytes(_spec(archs, case), case["tokens"], case["batch"], case["dtype"]) == case["kv_bytes"]


def median_error(archs: dict, cases: list) -> float:
    """The median of relative_error over `cases`."""
    return statistics.median(relative_error(archs, c) for c in cases)


# ---- training fixtures --------------------------------------------------------------------------
# (training*.json: MemTracker peaks of whole training steps; the bar of issue 17 is every case within
# 3% and the median under 1%)

def training_error(case: dict) -> float:
    """vramkit's training peak for the case's settings, relative to the measured peak."""
    from vramkit.validate import predict_training

    return predict_training(case).peak_bytes / case["peak_bytes"] - 1


def assert_training_peak(cid: str, case: dict, bound: float = 0.03) -> None:
    """The case's peak within `bound` (the message names both numbers)."""
    from vramkit.validate import predict_training

    assert abs(training_error(case)) <= bound, \
        f"{cid}: vramkit {predict_training(case).peak_bytes} vs {case['peak_bytes']}"


def median_training_error(cases) -> float:
    """The median of |error| over `cases` (an iterable of fixture cases)."""
    return statistics.median(abs(training_error(c)) for c in cases)
