"""Chapter 7 (what fits my GPU): the CUDA context constant against its sources, the fit calculator,
and the fit charts' data."""
import pytest

from vramkit.fit import budget_bytes, fit, gpu_layers
from vramkit.hardware import custom_gpu
from vramkit.inference import CUDA_CONTEXT_BYTES, CUDA_CONTEXT_REPORTS


def test_cuda_context_is_conservative_for_lazy_loading():
    """At least every lazy-loading measurement (what current PyTorch does), below the eager-loading ones."""
    lazy = [r["high"] for r in CUDA_CONTEXT_REPORTS if r["lazy"]]
    eager = [r["high"] for r in CUDA_CONTEXT_REPORTS if not r["lazy"]]
    assert lazy and eager
    assert max(lazy) <= CUDA_CONTEXT_BYTES < max(eager)
    assert all(0 < r["low"] <= r["high"] for r in CUDA_CONTEXT_REPORTS)


@pytest.mark.parametrize("lang", ["ko", "en"])
@pytest.mark.parametrize("model,gpu,context,weights", [("llama-3.1-8b", "rtx-4090", 8192, "bf16"),
                                                        ("llama-3-70b", "rtx-4090", 8192, "nf4")])
def test_fit_calculator_shows_the_fit_report(lang, model, gpu, context, weights):
    pytest.importorskip("ipywidgets")
    from vramkit.units import fmt_bytes
    from vramkit.widgets import _FIT_TEXT, fit_calculator

    box = fit_calculator(lang, model=model, gpu=gpu, context=context, weights=weights)
    html = box.children[-1].value
    report = fit(model, gpu, context, weights=weights)
    assert _FIT_TEXT[lang]["verdict"][report.fits] in html
    assert fmt_bytes(report.total_bytes, "both") in html
    assert f"{report.max_context:,}" in html
    assert f"{gpu_layers(model, gpu, context, weights='q4_k_m')} / " in html


def test_fit_calculator_custom_gpu():
    pytest.importorskip("ipywidgets")
    from vramkit.units import fmt_bytes
    from vramkit.widgets import fit_calculator

    box = fit_calculator("en", gpu="custom")
    memory, unified, result = box.children[2], box.children[3], box.children[-1]
    memory.value = 36.0
    unified.value = True  # an Apple Mac with 36 GB: Metal's working set, not 36 GiB
    budget = budget_bytes(custom_gpu(36.0, unified_memory=True))  # usable less the default headroom
    assert fmt_bytes(budget, "both") in result.value
    memory.value = 0.0
    assert "&gt; 0" in result.value


def test_fit_grid_menu_filters_precomputed_rows():
    pytest.importorskip("altair")
    from vramkit.charts import fit_grid

    rows = [{"model": m, "gpu": g, "best": b, "context": c}
            for c in (4096, 8192) for m, g, b in (("a", "x", "bf16"), ("a", "y", None))]
    spec = fit_grid(rows, "ko").to_dict()
    values = spec["data"]["values"] if "data" in spec else spec["datasets"]
    text = str(spec)
    assert "안 들어감" in text and "bf16" in text
    assert spec["params"][0]["bind"]["options"] == [4096, 8192]
    assert values


@pytest.mark.parametrize("engine", ["transformers", "vllm", "llama.cpp"])
@pytest.mark.parametrize("model,gpu,context", [("qwen3-8b", "rtx-3060-12gb", 4096), ("llama-3.1-8b", "t4", 2048),
                                               ("gemma-2-27b", "rtx-4090", 4096),
                                               ("qwen3-8b", custom_gpu(10), 4096)])  # was Q8_0 for transformers
def test_best_weights_stays_in_the_engines_formats(engine, model, gpu, context):
    """transformers dequantizes GGUF files on load, and llama.cpp runs no bitsandbytes NF4: a
    recommendation must be a format the chosen engine keeps in memory as such."""
    from vramkit.dtypes import get_format
    from vramkit.fit import best_weights, engine_formats
    from vramkit.inference import infer_memory

    best = best_weights(model, gpu, context, engine=engine, headroom=0.0)  # infer_memory.fits keeps none
    assert best is not None
    fmt = get_format(best)
    is_gguf = fmt.kind == "gguf" or bool(getattr(fmt, "mix", False))
    assert is_gguf == (engine == "llama.cpp") or best == "bf16"
    assert infer_memory(model, context, weights=best, engine=engine, gpu=gpu).fits
    # and it is the best such format: the one before it in the engine's order does not fit
    from vramkit.hardware import get_gpu

    order = [get_format(n).name for n in engine_formats(engine, get_gpu(gpu))]
    if order.index(best) > 0:
        better = order[order.index(best) - 1]
        assert not infer_memory(model, context, weights=better, engine=engine, gpu=gpu).fits
