"""ipywidgets calculators for Jupyter and Colab (in the HTML book they show a frozen snapshot).

ipywidgets is imported inside the functions, so `import vramkit` stays light. Every number comes
from vramkit's functions; the widgets only read controls and format the result.
"""
from __future__ import annotations

from .book import check_lang
from .errors import VramkitError
from .units import fmt_bytes, label

_TEXT = {
    "ko": {"model": "모델", "weights_fmt": "가중치 형식", "kv_fmt": "KV 캐시 형식"},
    "en": {"model": "model", "weights_fmt": "weights format", "kv_fmt": "KV cache format"},
}


# Formats transformers loads directly (GGUF types belong to llama.cpp; see the formats chapter).
WEIGHT_FORMATS = ["fp32", "bf16", "fp16", "fp8_e4m3", "int8", "nf4", "int4"]

# (units label key, InferenceMemory field), in the order the book stacks them.
COMPONENTS = (("weights", "weights_bytes"), ("kv_cache", "kv_cache_bytes"),
              ("activations", "activation_bytes"), ("overhead", "overhead_bytes"))


def memory_calculator(lang: str = "en", model: str = "llama-3.1-8b", weights: str = "bf16",
                      context: int = 8192, batch: int = 1, kv_dtype: str = "bf16"):
    """Menus for model, weight format, KV format, context and batch; shows the inference memory.

    Returns the ipywidgets.VBox. The figures are `vramkit.inference.infer_memory` (transformers
    engine), so they always agree with the chapters' numbers.
    """
    import ipywidgets as w

    from .catalog import model_names
    from .inference import infer_memory

    check_lang(lang)
    t = _TEXT[lang]
    style = {"description_width": "initial"}
    pick_model = w.Dropdown(options=model_names(), value=model, description=t["model"], style=style)
    pick_weights = w.Dropdown(options=WEIGHT_FORMATS, value=weights, description=t["weights_fmt"], style=style)
    pick_kv = w.Dropdown(options=["bf16", "fp16", "fp8_e4m3", "fp32"], value=kv_dtype,
                         description=t["kv_fmt"], style=style)
    contexts = [2**k for k in range(10, 18)]
    pick_context = w.SelectionSlider(options=contexts, value=context, description=label("context", lang),
                                     style=style, layout=w.Layout(width="28em"))
    pick_batch = w.BoundedIntText(value=batch, min=1, max=1024, description=label("batch", lang), style=style)
    result = w.HTML()

    def update(_=None):
        m = infer_memory(pick_model.value, pick_context.value, pick_batch.value,
                         weights=pick_weights.value, kv_dtype=pick_kv.value)
        rows = [(label(key, lang), getattr(m, field)) for key, field in COMPONENTS] + [(label("total", lang), m.total_bytes)]
        result.value = "<br>".join(f"<b>{name}</b>: {fmt_bytes(b, 'both')}" for name, b in rows)

    for control in (pick_model, pick_weights, pick_kv, pick_context, pick_batch):
        control.observe(update, names="value")
    update()
    return w.VBox([pick_model, pick_weights, pick_kv, pick_context, pick_batch, result])


_FIT_TEXT = {
    "ko": {"custom": "직접 입력", "memory": "메모리(GiB)", "unified": "Apple 통합 메모리", "headroom": "여유분",
           "budget": "예산(쓸 수 있는 메모리 − 여유분)", "need": "필요한 메모리", "verdict": {True: "들어갑니다", False: "안 들어갑니다"},
           "max_context": "이 배치에서 가장 긴 컨텍스트", "max_batch": "이 컨텍스트에서 가장 큰 배치",
           "best": "들어가는 최선의 가중치 형식", "layers": "llama.cpp Q4_K_M로 GPU에 올릴 층", "none": "없음",
           "tokens": "토큰"},
    "en": {"custom": "custom", "memory": "memory (GiB)", "unified": "Apple unified memory", "headroom": "headroom",
           "budget": "budget (usable memory less headroom)", "need": "memory needed", "verdict": {True: "fits", False: "does not fit"},
           "max_context": "longest context at this batch", "max_batch": "largest batch at this context",
           "best": "best weight format that fits", "layers": "llama.cpp Q4_K_M layers on the GPU", "none": "none",
           "tokens": "tokens"},
}


def fit_calculator(lang: str = "en", model: str = "llama-3.1-8b", gpu: str = "rtx-4090", context: int = 8192,
                   batch: int = 1, weights: str = "bf16", headroom: float | None = None):
    """Does a model fit my GPU: menus for model, GPU (or a custom memory size), format, context,
    batch and headroom (default: `vramkit.fit.DEFAULT_HEADROOM`, 5%); shows `vramkit.fit.fit`'s report.
    Returns the ipywidgets.VBox.

    Explained in the chapter "What fits my GPU" (chapters/*/07-fit.ipynb).
    """
    import ipywidgets as w

    from .catalog import model_names
    from .fit import DEFAULT_HEADROOM, fit, gpu_layers
    from .hardware import custom_gpu, gpus

    check_lang(lang)
    t, tm = _FIT_TEXT[lang], _TEXT[lang]
    style = {"description_width": "initial"}
    pick_model = w.Dropdown(options=model_names(), value=model, description=tm["model"], style=style)
    pick_gpu = w.Dropdown(options=[(g.name, g.id) for g in gpus()] + [(t["custom"], "custom")], value=gpu,
                          description=label("gpu", lang), style=style)
    memory = w.FloatText(value=24.0, description=t["memory"], style=style)
    unified = w.Checkbox(value=False, description=t["unified"])
    pick_weights = w.Dropdown(options=WEIGHT_FORMATS, value=weights, description=tm["weights_fmt"], style=style)
    pick_context = w.SelectionSlider(options=[2**k for k in range(10, 18)], value=context,
                                     description=label("context", lang), style=style, layout=w.Layout(width="28em"))
    pick_batch = w.BoundedIntText(value=batch, min=1, max=1024, description=label("batch", lang), style=style)
    pick_headroom = w.FloatSlider(value=DEFAULT_HEADROOM if headroom is None else headroom, min=0.0, max=0.3, step=0.05, description=t["headroom"],
                                  style=style, readout_format=".0%")
    result = w.HTML()

    def update(_=None):
        custom = pick_gpu.value == "custom"
        memory.layout.display = unified.layout.display = None if custom else "none"
        if custom and memory.value <= 0:
            result.value = f"<b>{t['memory']}</b> &gt; 0"
            return
        device = custom_gpu(memory.value, unified_memory=unified.value) if custom else pick_gpu.value
        try:
            r = fit(pick_model.value, device, pick_context.value, pick_batch.value, weights=pick_weights.value,
                    headroom=pick_headroom.value)
        except VramkitError as e:  # e.g. a format the engine does not run on that device
            result.value = f"<b style='color:#d73027'>{e}</b>"
            return
        layers = gpu_layers(pick_model.value, device, pick_context.value, weights="q4_k_m",
                            headroom=pick_headroom.value)
        rows = [(t["need"], fmt_bytes(r.total_bytes, "both")), (t["budget"], fmt_bytes(r.budget_bytes, "both")),
                (t["max_context"], f"{r.max_context:,} {t['tokens']}"), (t["max_batch"], f"{r.max_batch:,}"),
                (t["best"], r.best_weights or t["none"]), (t["layers"], f"{layers} / {_num_layers(pick_model.value)}")]
        colour = "#1a9850" if r.fits else "#d73027"
        result.value = (f"<b style='color:{colour}'>{t['verdict'][r.fits]}</b><br>"
                        + "<br>".join(f"<b>{name}</b>: {value}" for name, value in rows))

    for control in (pick_model, pick_gpu, memory, unified, pick_weights, pick_context, pick_batch, pick_headroom):
        control.observe(update, names="value")
    update()
    return w.VBox([pick_model, pick_gpu, memory, unified, pick_weights, pick_context, pick_batch, pick_headroom,
                   result])


def _num_layers(model) -> int:
    """Decoder layers of `model` (for the 'n of N layers' line)."""
    from .sources import load_model

    return load_model(model).num_layers
