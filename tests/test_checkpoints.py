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
# bitsandbytes' double-quant JSON prints one float offset whose digits depend on the weights: its
# length is known to within a few bytes (checkpoints.BNB_OFFSET_REPR), everything else exactly.
DATA_DEPENDENT = re.compile(r"quant_state\.bitsandbytes__")
SLACK = 3


def _data_dependent(case, key: str) -> bool:
    return bool(DATA_DEPENDENT.search(key)) and bool(case["quantization_config"].get("bnb_4bit_use_double_quant"))


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
        if _data_dependent(case, key):
            assert t.dtype == dtype and abs(t.nbytes - nbytes) <= SLACK, (key, t, nbytes)
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
        slack += SLACK if _data_dependent(case, key) else 0
    for kind in theirs:
        tol = slack if DATA_DEPENDENT.search(kind) else 0
        assert abs(ours[kind] - theirs[kind]) <= tol, kind
    total = sum(case["tensors"][k][2] for k in case["tensors"])
    assert abs(checkpoints.checkpoint_bytes(_spec(case)) - total) <= slack


def test_fixture_covers_every_scheme_and_records_versions():
    libs = {c["library"] for c in CASES.values()}
    assert {"bitsandbytes", "compressed-tensors", "autoawq", "gptqmodel", "transformers", "hqq", "torchao",
            "optimum-quanto"} <= libs
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
        if (spec.architecture != "decoder" or spec.towers or spec.is_hybrid or spec.kv_shared_from
                or spec.layer_extra_params or spec.extra_params):
            continue  # encoders, towers, hybrid mixers and per-family extras: not in the layout yet
        tensors = checkpoints.checkpoint_tensors(spec, {"quant_method": "fp8", "weight_block_size": [128, 128]})
        assert not [t for t in tensors if t.name == "other"], name


# ---- a config's quantization_config is the default weights ------------------------------------

def _awq_8b(tmp_path):
    cfg = dict(vramkit.catalog.model_entry("llama-3.1-8b")["config"], torch_dtype="float16",
               quantization_config={"quant_method": "awq", "bits": 4, "group_size": 128, "zero_point": True,
                                    "version": "gemm"})
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    return path


def test_cli_prices_the_checkpoint_by_default_and_weights_overrides(tmp_path, capsys):
    from vramkit.cli import main

    path = str(_awq_8b(tmp_path))
    spec = vramkit.load_model(path)
    assert main(["infer", path, "--context", "1024", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["weights"] == "awq-w4-g128" and d["weights_bytes"] == checkpoints.checkpoint_bytes(spec)
    assert main(["infer", path, "--context", "1024", "--weights", "bf16", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["weights"] == "bf16" and d["weights_bytes"] == 2 * spec.params()
    assert main(["params", path, "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["checkpoint"]["scheme"] == "awq-w4-g128"
    assert d["checkpoint"]["bytes"] == sum(d["checkpoint"]["by_dtype"].values()) == checkpoints.checkpoint_bytes(spec)
    assert main(["fit", path, "--gpu", "rtx-4090", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["weights"] == "awq-w4-g128"


def test_awq_is_not_priced_as_bf16():
    """The issue's symptom: an AWQ checkpoint priced as bf16 came out ~2.8x too large."""
    spec = vramkit.load_model("llama-3.1-8b")
    awq = checkpoints.checkpoint_bytes(spec, {"quant_method": "awq", "bits": 4, "group_size": 128}, dtype="float16")
    # 4-bit codes + an fp16 scale and a packed zero per 128 weights, embeddings and head in fp16
    linear = spec.params() - 2 * spec.vocab_size * spec.hidden_size - spec.breakdown()["norms"]
    assert awq == linear // 2 + linear // 128 * 2 + linear // 128 // 2 + 2 * (spec.params() - linear)
    assert 2.7 < 2 * spec.params() / awq < 2.9


def test_meta_405b_fp8_keeps_a_tenth_of_a_gpu_in_bf16():
    """Meta-Llama-3.1-405B-FP8 (transformers' conversion rule): layers 0 and 125, every self_attn and
    the head stay bf16, which a flat fp8 misses by about 10 GB (9.6 GB, 9.0 GiB) per GPU at TP=8."""
    spec = vramkit.load_model("llama-3.1-405b")
    n = spec.num_layers
    skip = ["model.layers.0", f"model.layers.{n - 1}", "lm_head"] + [f"model.layers.{i}.self_attn" for i in range(1, n - 1)]
    real = checkpoints.checkpoint_bytes(spec, {"quant_method": "fbgemm_fp8", "modules_to_not_convert": skip})
    from vramkit.inference import weights_bytes

    flat = weights_bytes(spec, "fp8_e4m3")
    assert 9 * 10**9 < (real - flat) / 8 < 10 * 10**9


def test_infer_prices_gpt_oss_mxfp4_per_engine(tmp_path, capsys):
    """gpt-oss-20b with its MXFP4 quantization_config: vLLM holds the packed experts, transformers
    without triton kernels the bf16 ones (every parameter in bf16 then, as nothing else is quantized)."""
    from vramkit.cli import main

    cfg = dict(vramkit.catalog.model_entry("gpt-oss-20b")["config"],
               quantization_config=CASES["mxfp4_gpt_oss"]["quantization_config"])
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    spec = vramkit.load_model(str(path))
    got = {}
    for engine in ("vllm", "transformers"):
        assert main(["infer", str(path), "--context", "1024", "--engine", engine, "--json"]) == 0
        d = json.loads(capsys.readouterr().out)
        assert d["weights"] == "mxfp4"
        got[engine] = d["weights_bytes"]
    assert got["vllm"] == checkpoints.checkpoint_bytes(spec)
    assert got["transformers"] == 2 * spec.params()
    # the packed experts: 4.25 bits per weight (e2m1 codes + an e8m0 scale per 32)
    experts = sum(t.nbytes for t in checkpoints.checkpoint_tensors(spec) if t.name.endswith(("_blocks", "_scales")))
    n = spec.num_layers * spec.num_experts * 3 * spec.hidden_size * spec.moe_intermediate_size  # expert weights
    assert experts * 8 == n * 4 + n // 32 * 8


# OpenAI, "gpt-oss-120b & gpt-oss-20b Model Card" (Aug 2025), Table 1: checkpoint size in GiB (one decimal),
# the MXFP4 experts beside bf16 attention, router, embedding and head.
GPT_OSS_CHECKPOINT_GIB = {"gpt-oss-120b": 60.8, "gpt-oss-20b": 12.8}


@pytest.mark.parametrize("name", sorted(GPT_OSS_CHECKPOINT_GIB))
def test_gpt_oss_checkpoint_size_matches_the_card(name):
    spec = vramkit.load_model(name)
    qc = CASES["mxfp4_gpt_oss"]["quantization_config"]
    assert round(checkpoints.checkpoint_bytes(spec, qc) / 2**30, 1) == GPT_OSS_CHECKPOINT_GIB[name]
    # priced as a flat mxfp4 (every linear at 4.25 bits) it would not be
    from vramkit.inference import weights_bytes

    assert round(weights_bytes(spec, "mxfp4") / 2**30, 1) != GPT_OSS_CHECKPOINT_GIB[name]
