"""Quantized checkpoints: vramkit's tensors against what the libraries' own code writes.

tests/reference/quantized.json (generate_quantized.py) holds, for tiny models, every tensor that
bitsandbytes, compressed-tensors, autoawq, gptqmodel, transformers' FP8/MXFP4 integrations, HQQ and
torchao write (name, dtype, shape, bytes), with their versions. vramkit rebuilds each checkpoint
from the config and its quantization_config alone.
"""
import json
import re
from pathlib import Path

import pytest

import vramkit
from vramkit import checkpoints
from vramkit.model import ModelSpec

REF = json.loads((Path(__file__).parent / "reference" / "quantized.json").read_text())
CASES = REF["cases"]
# bitsandbytes' double-quant JSON prints one float offset whose digits depend on the weights.
DATA_DEPENDENT = re.compile(r"quant_state\.bitsandbytes__")


def _fold(name: str) -> str:
    return re.sub(r"\.\d+\.", ".*.", name)


def _spec(case) -> ModelSpec:
    return ModelSpec.from_config({**case["config"], "quantization_config": case["quantization_config"]})


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_tensor_matches_the_library(name):
    case = CASES[name]
    ours = {t.name: t for t in checkpoints.checkpoint_tensors(_spec(case))}
    theirs = case["tensors"]
    assert sorted(ours) == sorted(theirs)
    for key, (dtype, shape, nbytes) in theirs.items():
        t = ours[key]
        if DATA_DEPENDENT.search(key) and "nested" in json.dumps(case["quantization_config"]) or (
                DATA_DEPENDENT.search(key) and case["quantization_config"].get("bnb_4bit_use_double_quant")):
            assert t.dtype == dtype and abs(t.nbytes - nbytes) <= 3, (key, t, nbytes)
            continue
        assert (t.dtype, list(t.shape), t.nbytes) == (dtype, shape, nbytes), key


@pytest.mark.parametrize("name", sorted(CASES))
def test_bytes_per_kind_and_total(name):
    """Per tensor kind (layer indices folded) and in total, exact but for the data-dependent JSON."""
    case = CASES[name]
    ours, theirs = {}, {}
    slack = 0
    for t in checkpoints.checkpoint_tensors(_spec(case)):
        ours[_fold(t.name)] = ours.get(_fold(t.name), 0) + t.nbytes
    for key, (_, _, nbytes) in case["tensors"].items():
        theirs[_fold(key)] = theirs.get(_fold(key), 0) + nbytes
        slack += 3 if DATA_DEPENDENT.search(key) and case["quantization_config"].get("bnb_4bit_use_double_quant") else 0
    for kind in theirs:
        tol = slack if DATA_DEPENDENT.search(kind) else 0
        assert abs(ours[kind] - theirs[kind]) <= tol, kind
    total = sum(case["tensors"][k][2] for k in case["tensors"])
    assert abs(checkpoints.checkpoint_bytes(_spec(case)) - total) <= slack


def test_fixture_covers_every_scheme_and_records_versions():
    libs = {c["library"] for c in CASES.values()}
    assert {"bitsandbytes", "compressed-tensors", "autoawq", "gptqmodel", "transformers", "hqq", "torchao"} <= libs
    methods = {checkpoints.method(c["quantization_config"]) for c in CASES.values()}
    assert methods == set(checkpoints.METHODS)
    assert all(REF["versions"][k] for k in ("transformers", "bitsandbytes", "compressed-tensors", "autoawq", "gptqmodel"))


def test_mxfp4_without_kernels_is_bf16_in_transformers():
    """transformers without triton kernels dequantizes gpt-oss's experts to bf16; vLLM keeps MXFP4."""
    case = CASES["mxfp4_gpt_oss"]
    spec = _spec(case)
    loaded_experts = sum(v[2] for v in case["loaded_without_kernels"].values())
    file_experts = sum(v[2] for k, v in case["tensors"].items() if ".experts." in k)
    file_total = sum(v[2] for v in case["tensors"].values())
    assert checkpoints.loaded_bytes(spec, engine="vllm") == checkpoints.checkpoint_bytes(spec) == file_total
    assert checkpoints.loaded_bytes(spec, engine="transformers") == file_total - file_experts + loaded_experts


def test_layout_counts_every_parameter_of_every_catalog_model():
    """The per-module layout adds up to params() without an 'other' remainder for the known families."""
    for name in vramkit.catalog.model_names():
        spec = vramkit.load_model(name)
        tensors = checkpoints.checkpoint_tensors(spec, {"quant_method": "fp8", "weight_block_size": [128, 128]})
        assert not [t for t in tensors if t.name == "other"], name
