"""The engine front: dispatch, one-line refusals of formats an engine cannot run on a device, and
the per-device JSON every engine answers with."""
from __future__ import annotations

import pytest

from vramkit import engines
from vramkit.cli import main
from vramkit.errors import VramkitError
from vramkit.fit import best_weights, engine_formats, fit
from vramkit.hardware import get_gpu
from vramkit.inference import infer_memory

PLAN_KEYS = {"devices", "host", "kv_tokens_capacity", "kv_blocks", "max_concurrency", "fits", "engine_version"}


@pytest.mark.parametrize("engine,weights,gpu,says", [
    ("mlx", "q4_k_m", "apple-m2-max-96gb", "MLX does not run GGUF"),
    ("mlx", "bf16", "rtx-4090", "only on Apple silicon"),
    ("transformers", "q4_k_m", "rtx-4090", "dequantizes GGUF"),
    ("transformers", "nf4", "apple-m2-max-96gb", "bitsandbytes has no Metal backend"),
    ("vllm", "bf16", "apple-m2-max-96gb", "does not run on Apple GPUs"),
    ("transformers", "fp8_e4m3", "a100-80gb-sxm4", "vLLM runs FP8 weights on Ampere"),
    ("vllm", "fp8_e4m3", "t4", "from Ampere"),
    ("vllm", "bf16", "v100-sxm2-32gb", "this GPU runs fp16"),
    ("llama.cpp", "nf4", "rtx-4090", "runs GGUF block types"),
    ("transformers", "mlx-4bit", "rtx-4090", "MLX's own format"),
])
def test_refusals_name_what_the_engine_runs(engine, weights, gpu, says):
    with pytest.raises(VramkitError, match=says) as e:
        infer_memory("llama-3.1-8b", 4096, weights=weights, engine=engine, gpu=gpu)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("engine,weights,gpu", [
    ("vllm", "fp8_e4m3", "a100-80gb-sxm4"),      # weight-only Marlin FP8 on Ampere
    ("transformers", "fp8_e4m3", "rtx-4090"),    # Ada has FP8 tensor cores
    ("mlx", "mlx-4bit", "apple-m2-max-96gb"),
    ("llama.cpp", "q4_k_m", "apple-m2-max-96gb"),
])
def test_what_each_engine_runs(engine, weights, gpu):
    assert infer_memory("llama-3.1-8b", 4096, weights=weights, engine=engine, gpu=gpu).total_bytes > 0


def test_fit_never_recommends_a_refused_format():
    for engine, gpu in [("transformers", "t4"), ("vllm", "t4"), ("mlx", "apple-m1-16gb"),
                        ("transformers", "a10"), ("llama.cpp", "rtx-3060-12gb")]:
        device = get_gpu(gpu)
        for name in engine_formats(engine, device):
            assert engines.runs(engine, name, device), (engine, gpu, name)
        best = best_weights("qwen3-8b", device, 4096, engine=engine)
        assert best is None or engines.runs(engine, best, device)
    assert engine_formats("mlx") == ("bf16", "mlx-8bit", "mlx-4bit")
    assert "fp8_e4m3" not in engine_formats("transformers", get_gpu("a10"))
    assert "fp8_e4m3" in engine_formats("vllm", get_gpu("a10"))


def test_unknown_engine_did_you_mean():
    with pytest.raises(VramkitError, match="did you mean 'vllm'"):
        engines.plan("vlm", None)


@pytest.mark.parametrize("argv", [
    ["--engine", "vllm", "--gpu", "h100-sxm5"],
    ["--engine", "vllm", "--gpu", "h100-sxm5", "--tensor-parallel-size", "2", "--max-num-seqs", "64",
     "--enforce-eager", "--gpu-memory-utilization", "0.95", "--block-size", "32"],
    ["--engine", "vllm"],
    ["--engine", "llama.cpp", "--weights", "q4_k_m", "--gpu", "rtx-4090"],
    ["--engine", "mlx", "--weights", "mlx-4bit", "--gpu", "apple-m2-max-96gb"],
    ["--gpu", "rtx-4090", "--gpus", "2"],
    [],
])
def test_engine_keys_present_whatever_the_flags(capsys, argv):
    import json

    assert main(["infer", "llama-3.1-8b", "--context", "8192", "--json", *argv]) == 0
    d = json.loads(capsys.readouterr().out)
    assert PLAN_KEYS <= set(d)
    assert main(["infer", "llama-3.1-8b", "--context", "8192", "--json"]) == 0
    assert set(json.loads(capsys.readouterr().out)) == set(d)
    for dev in d["devices"]:
        assert dev["total_bytes"] == dev["weights_bytes"] + dev["kv_cache_bytes"] + dev["compute_bytes"] \
            + dev["other_bytes"]


def test_vllm_infer_and_fit_agree():
    """fit uses the same plan as infer: the pre-allocation, the refusal, the concurrency."""
    mem = infer_memory("llama-3.1-8b", 32768, engine="vllm", gpu="rtx-4090")
    report = fit("llama-3.1-8b", "rtx-4090", 32768, engine="vllm")
    assert report.total_bytes == mem.total_bytes and report.fits == (mem.fits and mem.plan.max_concurrency >= 1)
    assert report.max_batch == int(mem.plan.max_concurrency)
    longest = fit("llama-3.1-8b", "rtx-4090", 4096, engine="vllm").max_context
    assert infer_memory("llama-3.1-8b", longest, engine="vllm", gpu="rtx-4090").fits
    assert not infer_memory("llama-3.1-8b", longest + 1, engine="vllm", gpu="rtx-4090").fits


def test_vllm_tensor_parallel_devices_and_gpus_needed():
    mem = infer_memory("llama-3-70b", 8192, engine="vllm", gpu="h100-sxm5", gpus=4)
    assert len(mem.plan.devices) == 4 and mem.plan.extra["vllm"]["tensor_parallel_size"] == 4
    assert len({d.weights_bytes for d in mem.plan.devices}) == 1
    assert fit("llama-3-70b", "h100-sxm5", 8192, batch=16, engine="vllm").gpus_needed == 4
    assert fit("llama-3.1-405b", "h100-sxm5", 8192, weights="fp8_e4m3", engine="vllm").gpus_needed == 8


def test_other_engines_split_layers_over_gpus():
    one = infer_memory("llama-3.1-8b", 8192, gpu="rtx-4090")
    two = infer_memory("llama-3.1-8b", 8192, gpu="rtx-4090", gpus=2)
    assert len(two.plan.devices) == 2
    assert sum(d.weights_bytes for d in two.plan.devices) == one.weights_bytes
    assert fit("llama-3-70b", "rtx-4090", 4096).gpus_needed >= 6
