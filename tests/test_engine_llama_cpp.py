"""vramkit's llama.cpp plan against what llama.cpp itself reports (tests/reference/llama_cpp.json).

The fixture was written by tests/reference/generate_llama_cpp.py from a CPU build of llama.cpp
b11312: for each tiny GGUF and setting, llama_get_memory_breakdown's bytes per buffer type and the
log's output-buffer line. Weights and KV must match byte for byte; the compute buffer within 5%.
The build has no GPU, so the multi-device tests below check llama.cpp's placement rules as read
from its source (llama_model::load_tensors), not a measurement.
"""
import json
import os
import re
from pathlib import Path

import pytest

import llama_cpp_cases as cases

from vramkit.engines.base import EngineRequest
from vramkit.engines import llama_cpp as L
from vramkit.errors import VramkitError
from vramkit.hardware import get_gpu
from vramkit.model import ModelSpec
from vramkit.units import GIB, MIB

FIXTURE = Path(os.environ.get("VRAMKIT_LLAMA_CPP_FIXTURE", Path(__file__).parent / "reference" / "llama_cpp.json"))
DATA = json.loads(FIXTURE.read_text())
CASES = [c for c in DATA["cases"] if "buffers" in c]
COMPUTE_TOLERANCE = 0.05


def _request(case) -> EngineRequest:
    return cases.request(DATA, case)


def _plan_of(case):
    return cases.plan_of(DATA, case)


_measured, _ids = cases.measured, cases.ids


def test_fixture_states_its_build_and_covers_the_settings():
    assert DATA["llama_cpp"]["commit"] == L.COMMIT and DATA["llama_cpp"]["build_number"] == L.BUILD
    assert str(L.BUILD) in L.ENGINE_VERSION
    assert len(CASES) >= 100
    assert {c["arch"] for c in CASES} >= {"llama-mha", "gemma3-262k", "qwen3-moe", "mixtral-moe", "qwen2-152k"}
    reqs = [c["request"] for c in CASES]
    assert {r["flash_attn"] for r in reqs} == {-1, 0, 1} and {r["cache_type_v"] for r in reqs} >= {"f16", "q8_0", "q4_0"}
    assert any(r["n_seq_max"] > 1 and r["kv_unified"] for r in reqs) and any(r["swa_full"] for r in reqs)


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_weights_and_kv_byte_for_byte(case):
    p = _plan_of(case)
    assert p.devices == () and p.extra["n_ctx"] == case["n_ctx"]
    assert p.host.weights_bytes == _measured(case, "model")
    assert p.host.kv_cache_bytes == _measured(case, "context")


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_compute_buffer_within_five_percent(case):
    p = _plan_of(case)
    ours = p.host.compute_bytes - p.extra["output_buffer_bytes"]
    theirs = _measured(case, "compute")
    assert abs(ours - theirs) <= COMPUTE_TOLERANCE * theirs, (ours, theirs)


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_output_buffer_matches_the_log(case):
    line = next(x for x in case["log"] if "output buffer size" in x)
    mib = float(re.search(r"=\s*([\d.]+) MiB", line).group(1))
    assert round(_plan_of(case).extra["output_buffer_bytes"] / MIB, 2) == pytest.approx(mib, abs=0.006)


@pytest.mark.parametrize("case", CASES[::7], ids=_ids(CASES[::7]))
def test_infer_memory_totals_are_llama_cpps_own(case):
    """`infer_memory`'s top-level KV is the cache llama.cpp allocates under the same flags (cells
    padded per stream, the cache types), and its compute buffer follows --ubatch-size and --flash-attn."""
    from vramkit.inference import CUDA_CONTEXT_BYTES, infer_memory

    r = _request(case)
    m = infer_memory(r.spec, r.context, r.batch, weights=r.weights, engine="llama.cpp", options=r.options)
    assert m.kv_cache_bytes == _measured(case, "context")
    ours, theirs = m.overhead_bytes - CUDA_CONTEXT_BYTES, _measured(case, "compute")
    assert abs(ours - theirs) <= COMPUTE_TOLERANCE * theirs, (ours, theirs)


def compute_errors() -> list[float]:
    """Relative compute-buffer error of every case (for the book and the report)."""
    out = []
    for c in CASES:
        p = _plan_of(c)
        out.append((p.host.compute_bytes - p.extra["output_buffer_bytes"]) / _measured(c, "compute") - 1)
    return out


# ---- placement on GPUs, read from llama.cpp's source ----------------------------------------

SPEC = ModelSpec.from_config(DATA["archs"].get("llama-mha") or next(iter(DATA["archs"].values())))


def _plan(**options):
    gpus = options.pop("gpus", 1)
    return L.plan(EngineRequest(spec=SPEC, context=4096, weights="Q4_K_M", gpu=get_gpu("rtx-4090"), gpus=gpus,
                                options=options))


def test_ngl_counts_the_head_as_the_last_layer():
    # -ngl 1 offloads only the output head; -ngl 5 (n_layer + 1) everything; token_embd never.
    one = _plan(n_gpu_layers=1)
    assert one.extra["layers_on_host"] == 4 and one.extra["output_on_device"]
    assert one.devices[0].kv_cache_bytes == 0 and one.host.kv_cache_bytes > 0
    full = _plan()
    assert full.extra["layers_on_host"] == 0 and full.host.kv_cache_bytes == 0
    from vramkit.dtypes import gguf_tensors

    embd = next(t for t in gguf_tensors(SPEC, "Q4_K_M") if t.name == "token_embd.weight")
    assert full.host.weights_bytes == L._pad(embd.nbytes, L.CPU_ALIGN)


def test_layer_split_follows_llama_cpp_split_points():
    n = 80  # Llama 3 70B: 81 "layers" with the head; equal free memory gives 41 + 40 (head on the last)
    s = L.settings(EngineRequest(spec=SPEC.with_changes(num_layers=n, layer_types=("full_attention",) * n), context=4096, gpu=get_gpu("rtx-4090"),
                                 gpus=2))
    devs = L.layer_devices(n, s)
    assert devs.count(0) == 41 and devs.count(1) == 40 and devs[-1] == 1
    s3 = L.settings(EngineRequest(spec=SPEC.with_changes(num_layers=n, layer_types=("full_attention",) * n), context=4096, gpu=get_gpu("rtx-4090"),
                                  gpus=2, options={"tensor_split": "3,1"}))
    assert L.layer_devices(n, s3).count(0) == 61


def test_tied_head_is_copied_to_the_gpu():
    spec = ModelSpec.from_config(DATA["archs"]["llama-gqa-128k"])  # tied embeddings
    p = L.plan(EngineRequest(spec=spec, context=4096, weights="Q8_0", gpu=get_gpu("rtx-4090")))
    from vramkit.dtypes import gguf_tensors

    total = sum(t.nbytes for t in gguf_tensors(spec, "Q8_0"))
    embd = next(t.nbytes for t in gguf_tensors(spec, "Q8_0") if t.name == "token_embd.weight")
    assert p.host.weights_bytes == embd
    assert p.devices[0].weights_bytes >= total  # every tensor once, plus the head's copy of token_embd


def test_no_kv_offload_and_cuda_flash_attention_scratch():
    assert _plan(no_kv_offload=True).devices[0].kv_cache_bytes == 0
    f16 = _plan(flash_attn="on").devices[0].compute_bytes
    q8 = L.compute_phases(SPEC, L.settings(EngineRequest(spec=SPEC, context=65536, gpu=get_gpu("rtx-4090"),
                                                         options={"flash_attn": "on", "cache_type_k": "q8_0",
                                                                  "cache_type_v": "q8_0"})), cuda=True)
    # ggml-cuda converts a q8_0 K/V view to f16 inside the attention node: 2 x n_kv x widths bytes.
    assert q8["attention"] >= 2 * 65536 * 2 * SPEC.kv_dim and f16 > 0


def test_no_cuda_context_on_metal_and_errors():
    mac = L.plan(EngineRequest(spec=SPEC, context=4096, weights="Q4_K_M", gpu=get_gpu("apple-m4-max-128gb")))
    assert mac.devices[0].other_bytes == 0 and mac.devices[0].name.startswith("Metal")
    assert _plan().devices[0].other_bytes > 0
    with pytest.raises(VramkitError, match="flash"):
        _plan(flash_attn="off", cache_type_v="q4_0")
    with pytest.raises(VramkitError, match="did you mean"):
        _plan(cache_type_k="q8_O")


def test_70b_q4_k_m_on_two_24_gb_cards():
    spec = ModelSpec.from_config(
        {"model_type": "llama", "hidden_size": 8192, "intermediate_size": 28672, "num_hidden_layers": 80,
         "num_attention_heads": 64, "num_key_value_heads": 8, "vocab_size": 128256, "tie_word_embeddings": False,
         "max_position_embeddings": 8192})
    p = L.plan(EngineRequest(spec=spec, context=8192, weights="Q4_K_M", gpu=get_gpu("rtx-4090"), gpus=2))
    assert len(p.devices) == 2 and p.extra["layers_per_device"] == [41, 39]
    assert p.fits is False or all(d.total_bytes <= get_gpu("rtx-4090").usable_bytes() for d in p.devices)
    from vramkit.dtypes import gguf_model_bytes

    total = gguf_model_bytes(spec, "Q4_K_M")
    placed = sum(d.weights_bytes for d in p.devices) + p.host.weights_bytes
    assert total <= placed < total * 1.001  # every tensor once; CUDA padding adds a little
    assert p.host.kv_cache_bytes == 0 and 19 * GIB < p.devices[0].weights_bytes < 20 * GIB


def test_what_llama_cpp_refused_is_recorded_and_refused_by_vramkit_too():
    # Q2_K_S needs an importance matrix; the generator quantizes without one, so llama.cpp refuses
    # the file type. MLA caches its latent once, as K, so llama.cpp refuses K and V cache types that
    # differ; vramkit refuses the same requests.
    refused = [c for c in DATA["cases"] if "error" in c]
    assert refused
    for c in refused:
        if "imatrix" in c["error"]:
            assert c["ftype"] == "Q2_K_S"
            continue
        assert "does not support different K" in c["error"], c["error"]
        with pytest.raises(VramkitError, match="must be the same"):
            L.plan(_request(c))


def test_a_published_cuda_log():
    """A CUDA log users published (an ik_llama.cpp issue of October 2024, an older graph than b11312's
    but the same buffers): Llama 3.1 8B fully offloaded to an RTX 3090, perplexity with n_ctx 1024,
    n_batch 1024, n_ubatch 512, no flash attention, K cache iq4_nl. It printed CUDA0 KV 82.00 MiB,
    CUDA0 compute 266.50 MiB and CUDA_Host compute 10.01 MiB (the graph inputs and embedding rows)."""
    from vramkit.sources import load_model

    p = L.plan(EngineRequest(spec=load_model("llama-3.1-8b"), context=1024, weights="Q4_K_M",
                             gpu=get_gpu("rtx-3090"), options={"flash_attn": "off", "batch_size": 1024,
                                                               "cache_type_k": "iq4_nl"}))
    assert round(p.devices[0].kv_cache_bytes / MIB, 2) == 82.00
    assert round(p.devices[0].compute_bytes / MIB, 2) == 266.50
    assert round((p.host.compute_bytes - p.extra["output_buffer_bytes"]) / MIB, 2) == 10.01


def test_cli_flags_carry_engine_option_names():
    # The llama.cpp flags land under EngineRequest.options' keys, None when not given (llama.cpp's
    # own defaults then apply), for infer and fit alike.
    from vramkit.cli import build_parser

    keys = ("n_gpu_layers", "ubatch_size", "batch_size", "flash_attn", "cache_type_k", "cache_type_v",
            "split_mode", "tensor_split", "no_kv_offload", "n_cpu_moe", "kv_unified", "swa_full")
    bare = build_parser().parse_args(["infer", "llama-3.1-8b", "--context", "8k"])
    assert all(getattr(bare, k) is None for k in keys)
    a = build_parser().parse_args(["fit", "llama-3-70b", "--gpu", "rtx-4090", "-ngl", "40", "-ub", "256", "-fa", "on",
                                   "-ctk", "q8_0", "-ctv", "q8_0", "-sm", "row", "-ts", "3,1", "-nkvo",
                                   "--n-cpu-moe", "2"])
    options = {k: getattr(a, k) for k in keys if getattr(a, k) is not None}
    assert options == {"n_gpu_layers": 40, "ubatch_size": 256, "flash_attn": "on", "cache_type_k": "q8_0",
                       "cache_type_v": "q8_0", "split_mode": "row", "tensor_split": "3,1", "no_kv_offload": True,
                       "n_cpu_moe": 2}
    p = L.plan(EngineRequest(spec=SPEC, context=4096, weights="Q4_K_M", gpu=get_gpu("rtx-4090"), gpus=2,
                             options=options))
    assert p.extra["split_mode"] == "row" and p.host.kv_cache_bytes > 0 and len(p.devices) == 2
