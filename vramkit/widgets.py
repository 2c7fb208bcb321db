"""ipywidgets calculators for Jupyter and Colab (in the HTML book they show a frozen snapshot).

ipywidgets is imported inside the functions, so `import vramkit` stays light. Every number comes
from vramkit's functions; the widgets only read controls and format the result.
"""
from __future__ import annotations

from .book import check_lang
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
