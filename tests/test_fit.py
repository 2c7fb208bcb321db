"""fit: answers are the boundary - one more token, sequence or layer would not fit."""
import pytest

from vramkit import load_model
from vramkit.errors import VramkitError
from vramkit.fit import best_weights, budget_bytes, fit, gpu_layers, max_batch, max_context
from vramkit.hardware import get_gpu
from vramkit.inference import infer_memory


@pytest.mark.parametrize("model,gpu,weights", [("llama-3.1-8b", "rtx-4090", "bf16"),
                                                ("qwen3-8b", "rtx-3060-12gb", "int4"),
                                                ("gemma-2-9b", "apple-m2-pro-32gb", "int8")])
def test_max_context_is_the_boundary(model, gpu, weights):
    n = max_context(model, gpu, weights=weights)
    budget = budget_bytes(get_gpu(gpu))
    assert 0 < n
    assert infer_memory(model, n, weights=weights, gpu=gpu).total_bytes <= budget
    assert infer_memory(model, n + 1, weights=weights, gpu=gpu).total_bytes > budget


def test_max_batch_is_the_boundary():
    b = max_batch("llama-3.1-8b", "h100-sxm5", 4096, headroom=0.1)
    budget = budget_bytes(get_gpu("h100-sxm5"), 0.1)
    assert infer_memory("llama-3.1-8b", 4096, b, gpu="h100-sxm5").total_bytes <= budget
    assert infer_memory("llama-3.1-8b", 4096, b + 1, gpu="h100-sxm5").total_bytes > budget


def test_best_weights_picks_the_highest_quality_that_fits():
    assert best_weights("llama-3.1-8b", "h100-sxm5", 8192) == "bf16"
    small = best_weights("llama-3.1-8b", "rtx-3060-12gb", 2048)  # 16 GB of bf16 weights cannot fit 12 GB
    assert small is not None and small != "bf16"
    assert infer_memory("llama-3.1-8b", 2048, weights=small, gpu="rtx-3060-12gb").fits
    assert best_weights("llama-3.1-405b", "rtx-3060-12gb", 2048) is None


def test_70b_does_not_fit_a_24gb_card_in_bf16():
    report = fit("llama-3-70b", "rtx-4090", 4096)
    assert not report.fits and report.free_bytes < 0 and report.max_context == 0


def test_gpu_layers_bounded():
    spec = load_model("llama-3-70b")
    n = gpu_layers(spec, "rtx-4090", 4096, weights="int4")
    assert 0 < n < spec.num_layers
    assert gpu_layers("llama-3.2-1b", "h100-sxm5", 4096, weights="int4") == load_model("llama-3.2-1b").num_layers


def test_headroom_must_be_a_fraction():
    with pytest.raises(VramkitError):
        budget_bytes(get_gpu("rtx-4090"), 1.2)


def test_fit_reports_the_trained_context_beside_the_memory_bound():
    report = fit("llama-2-7b", "rtx-4090", 2048)
    assert report.trained_context == 4096  # Llama 2's max_position_embeddings
    assert report.max_context > report.trained_context  # memory allows more than the model was trained for


def test_default_headroom_is_stated_and_kept():
    # fit keeps DEFAULT_HEADROOM of the usable memory free unless told otherwise, and says so in its report.
    from vramkit.fit import DEFAULT_HEADROOM

    assert 0 < DEFAULT_HEADROOM < 0.2
    usable = get_gpu("rtx-4090").usable_bytes()
    kept, bare = fit("llama-3.1-8b", "rtx-4090", 8192), fit("llama-3.1-8b", "rtx-4090", 8192, headroom=0.0)
    assert kept.headroom == DEFAULT_HEADROOM and bare.headroom == 0.0
    assert kept.budget_bytes == int(usable * (1 - DEFAULT_HEADROOM)) < bare.budget_bytes == usable
    assert kept.max_context < bare.max_context  # the kept share costs context
    assert kept.to_json()["headroom"] == DEFAULT_HEADROOM


def test_cli_fit_states_the_headroom_it_used():
    import json

    from vramkit.cli import main

    for argv, expected in ((["fit", "llama-3.1-8b", "--gpu", "rtx-4090", "--json"], 0.05),
                           (["fit", "llama-3.1-8b", "--gpu", "rtx-4090", "--headroom", "0", "--json"], 0.0)):
        import contextlib
        import io

        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main(argv) in (0, None)
        assert json.loads(out.getvalue())["headroom"] == expected


def test_vllm_plans_inside_its_own_utilization_not_our_headroom():
    # vLLM pre-allocates gpu_memory_utilization of the card: fit takes no headroom off again, and says so
    report = fit("llama-3.1-8b", "rtx-4090", 8192, engine="vllm")
    assert report.headroom == 0.0
    assert report.budget_bytes == fit("llama-3.1-8b", "rtx-4090", 8192, engine="vllm", headroom=0.2).budget_bytes
