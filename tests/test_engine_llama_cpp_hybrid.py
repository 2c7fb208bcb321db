"""vramkit's GGUF tensors and llama.cpp plan for hybrid models against llama.cpp itself
(tests/reference/llama_cpp_hybrid.json, written by tests/reference/generate_llama_cpp_hybrid.py).

Tiny random transformers models of each hybrid family (Mamba-2: Bamba, Granite 4.0-H, Nemotron-H,
Falcon-H1; Mamba-1: Jamba; Gated DeltaNet: Qwen3-Next; short convolution: LFM2) and Llama 4's
chunked attention, converted by llama.cpp's own convert_hf_to_gguf.py and quantized by its
llama-quantize (b11312), then planned by llama.cpp (llama_get_memory_breakdown). Every tensor's
type and shape, the model bytes and the KV + recurrent-state bytes must match exactly; the compute
buffer within 5% (median 0.03%), but for the three architectures in COMPUTE_EXCEPTIONS (worst: Llama 4,
+12.4%, an over-estimate), each explained there.
"""
import json
import math
from collections import Counter
from pathlib import Path

import pytest

import llama_cpp_cases as cases

from vramkit.dtypes import gguf_tensors
from vramkit.engines import llama_cpp as L
from vramkit.engines.base import EngineRequest
from vramkit.model import ModelSpec

DATA = json.loads((Path(__file__).parent / "reference" / "llama_cpp_hybrid.json").read_text())
CASES = [c for c in DATA["cases"] if "buffers" in c]
TABLES = sorted(DATA["tensors"].items())
# The compute buffer of a hybrid is the widest moment of llama.cpp's graph, each moment's live
# tensors read from ggml-alloc's own allocation trace (ggml-alloc.c built with GGML_ALLOCATOR_DEBUG,
# preloaded under the probe): the Mamba-2 moment is the copy of z with the previous layer's y and z
# left as holes below the in-projection; without flash attention the transposed V's I64 index is
# alive in every layer; a shared expert or Q's attention gate keeps one more hidden row beside the
# scores; interleaved dense / MoE layers take the wider MLP; a recurrent layer's MLP keeps no
# attention output. Measured over the 152 cases: median 0.03%, 143 within 5%, worst 12.4%.
# What stays outside 5% is where ggml-alloc's best fit puts one tensor in a hole left by an
# earlier layer or not (one tensor's size either way), which only a replay of the allocator decides:
COMPUTE_TOLERANCE = 0.05
COMPUTE_EXCEPTIONS = {
    # Layer 0's dense MLP (1024 wide): with one sequence under flash attention the SwiGLU product lands
    # in a hole and the peak is gate + up (+12.4%); with 4 sequences the chunked layers' mask is freed
    # before layer 2's MLP peaks (+9.0%). vramkit counts gate, up, product and every mask: over, not under.
    "llama4_text": 0.13,
    # The second Mamba-2 layer's in-projection lands above a 1.37 MB hole the earlier layers' freed
    # tensors leave (Granite 4.0-H, the same Mamba-2 dims with MoE MLPs, has none: within 0.5%): -7.0%.
    "bamba": 0.075,
    # Four sequences: a 2.4 MB hole between the in-projection and the conv output, under the scan's
    # output with its four states, beside the parallel attention's output (-5.3%).
    "falcon_h1": 0.06,
}
COMPUTE_MEDIAN_TOLERANCE = 0.005


def _spec(arch: str) -> ModelSpec:
    return ModelSpec.from_config(DATA["archs"][arch], source=arch)


def _squeeze(shape) -> tuple:
    """The shape as ggml_n_dims sees it (llama-quantize writes no trailing 1s)."""
    shape = list(shape)
    while len(shape) > 1 and shape[-1] == 1:
        shape.pop()
    return tuple(shape)


def test_fixture_states_its_build_and_covers_the_hybrid_families():
    assert DATA["llama_cpp"]["commit"] == L.COMMIT and DATA["llama_cpp"]["build_number"] == L.BUILD
    assert DATA["made_with"]["transformers"].startswith("5.")
    archs = {c["arch"] for c in CASES}
    assert archs >= {"qwen3_next", "nemotron_h", "bamba", "falcon_h1", "jamba", "lfm2", "llama4_text"}
    assert {_spec(a).mixer for a in archs} >= {"mamba", "mamba2", "gated_deltanet", "short_conv"}
    assert len(TABLES) >= 50 and len(CASES) >= 100


@pytest.mark.parametrize("key,table", TABLES, ids=[k for k, _ in TABLES])
def test_every_tensor_type_as_llama_quantize_writes_it(key, table):
    arch, ftype = key.split("/")
    ours = gguf_tensors(_spec(arch), ftype)
    theirs = {name: (_squeeze(shape), t) for name, shape, t in table}
    named = [t for t in ours if t.name in theirs]
    # Every tensor but the per-layer norms (vramkit names those generically) by name.
    assert {n for n in theirs if "norm" not in n} <= {t.name for t in ours}
    for t in named:
        assert (_squeeze(t.shape), t.type) == theirs[t.name], t.name
    # All of them, norms included, by size and type; and the bytes.
    assert Counter((t.n_elements, t.type) for t in ours) == Counter((math.prod(s), t) for s, t in theirs.values())
    from vramkit.dtypes import _ggml_sizes

    size = lambda n, t: n // _ggml_sizes()[t][0] * _ggml_sizes()[t][1]  # noqa: E731
    assert sum(t.nbytes for t in ours) == sum(size(math.prod(s), t) for s, t in theirs.values())


def _request(case) -> EngineRequest:
    return cases.request(DATA, case)


def _plan_of(case):
    return cases.plan_of(DATA, case)


_measured, _ids = cases.measured, cases.ids


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_weights_and_kv_plus_recurrent_state_byte_for_byte(case):
    p = _plan_of(case)
    assert p.extra["n_ctx"] == case["n_ctx"]
    assert p.host.weights_bytes == _measured(case, "model")
    assert p.host.kv_cache_bytes == _measured(case, "context")


def _log_mib(case, key: str) -> float | None:
    import re

    for line in case["log"]:
        if key in line:
            return float(re.search(r"size =\s*([\d.]+) MiB", line).group(1))
    return None


@pytest.mark.parametrize("case", [c for c in CASES if _log_mib(c, "llama_memory_recurrent: size")],
                         ids=_ids([c for c in CASES if _log_mib(c, "llama_memory_recurrent: size")]))
def test_recurrent_state_and_attention_kv_apart_match_the_log(case):
    p = _plan_of(case)
    assert round(p.extra["recurrent_state_bytes"] / 2**20, 2) == pytest.approx(
        _log_mib(case, "llama_memory_recurrent: size"), abs=0.006)
    kv = _log_mib(case, "llama_kv_cache: size")
    assert round((p.host.kv_cache_bytes - p.extra["recurrent_state_bytes"]) / 2**20, 2) == pytest.approx(kv or 0.0,
                                                                                                         abs=0.006)


def test_recurrent_state_is_constant_in_the_context_and_grows_with_sequences():
    spec = _spec("nemotron_h")
    base = dict(spec=spec, weights="Q4_K_M", options={"flash_attn": "on"})
    short, long = (L.plan(EngineRequest(context=n, batch=1, **base)) for n in (4096, 32768))
    assert short.extra["recurrent_state_bytes"] == long.extra["recurrent_state_bytes"] > 0
    assert long.host.kv_cache_bytes > short.host.kv_cache_bytes
    four = L.plan(EngineRequest(context=4096, batch=4, **base))
    assert four.extra["recurrent_state_bytes"] == 4 * short.extra["recurrent_state_bytes"]


def _compute_error(case) -> float:
    p = _plan_of(case)
    return (p.host.compute_bytes - p.extra["output_buffer_bytes"]) / _measured(case, "compute") - 1


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_compute_buffer_estimate(case):
    tolerance = COMPUTE_EXCEPTIONS.get(case["arch"], COMPUTE_TOLERANCE)
    assert abs(_compute_error(case)) <= tolerance, _plan_of(case).extra["compute_moment"]


def test_compute_buffer_estimate_median():
    import statistics

    errors = [abs(_compute_error(c)) for c in CASES]
    assert statistics.median(errors) <= COMPUTE_MEDIAN_TOLERANCE
    # the exceptions are few: nine cases in ten within 5%
    assert sum(e <= COMPUTE_TOLERANCE for e in errors) >= 0.9 * len(errors)
    # the recurrent layer's moment is the widest one in some cases (it is modelled, not ignored)
    assert any(_plan_of(c).extra["compute_moment"] == "mixer" for c in CASES)
