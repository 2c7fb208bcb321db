"""altair charts for the book, drawn from data that vramkit computed (bytes as ints).

altair and pandas are imported inside the functions, so `import vramkit` stays light. Charts work
without a kernel in the HTML book: sliders and menus are Vega-Lite params over precomputed rows,
never formulas re-coded in Vega expressions.
"""
from __future__ import annotations

import hashlib
import json
import re

from .book import check_lang
from .units import GB, label

_seen_divs: dict[str, int] = {}


def _stable_renderer(spec: dict, **metadata) -> dict:
    """altair's default HTML output with a div id derived from the spec, not a random uuid.

    Same template ("universal": loads vega from the CDN in Jupyter and Colab, or uses the copy the
    book serves), but re-running a notebook gives byte-identical output, so nbval needs no regex.
    """
    import altair as alt
    from altair.utils.html import spec_to_html

    spec = fit_to_column(spec)
    digest = hashlib.sha1(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]
    n = _seen_divs[digest] = _seen_divs.get(digest, 0) + 1
    div = f"altair-viz-{digest}" + (f"-{n}" if n > 1 else "")
    html = spec_to_html(spec, mode="vega-lite", vega_version=alt.VEGA_VERSION,
                        vegalite_version=alt.VEGALITE_VERSION, vegaembed_version=alt.VEGAEMBED_VERSION,
                        output_div=div, template="universal", fullhtml=False,
                        embed_options={**EMBED_OPTIONS, **(metadata.get("embed_options") or {})})
    return {"text/html": html}


# The chart menu keeps what works offline (save as SVG/PNG); "Open in Vega Editor" and the source
# views would send the reader off the book to vega.github.io.
EMBED_OPTIONS = {"actions": {"export": True, "source": False, "compiled": False, "editor": False}}


_HANGUL = re.compile("[\uac00-\ud7a3]")
KO_MENU = {"SVG_ACTION": "SVG로 저장", "PNG_ACTION": "PNG로 저장", "CLICK_TO_VIEW_ACTIONS": "그림 메뉴"}


def fit_to_column(spec: dict) -> dict:
    """`spec` drawn as wide as the text column it sits in, legends below the plot.

    A fixed pixel width plus a legend on the right is wider than the book's column on a desktop
    and far wider on a phone (legends cut off). A single or layered view takes the container's
    width (`"container"`, re-measured on resize); concatenated views keep their widths (Vega-Lite
    cannot fit those), so their functions stack panels vertically at a width a phone holds.
    """
    spec = dict(spec)
    if not any(key in spec for key in ("hconcat", "vconcat", "concat", "facet", "repeat")):
        spec["width"] = "container"
        spec["autosize"] = {"type": "fit-x", "contains": "padding"}
    # vega-embed reads usermeta.embedOptions: a Korean chart gets a Korean chart menu.
    if _HANGUL.search(json.dumps(spec, ensure_ascii=False)):
        usermeta = dict(spec.get("usermeta", {}))
        usermeta["embedOptions"] = {"i18n": KO_MENU, **usermeta.get("embedOptions", {})}
        spec["usermeta"] = usermeta
    config = dict(spec.get("config", {}))
    config["legend"] = {"orient": "bottom", "direction": "vertical", "labelLimit": 260, **config.get("legend", {})}
    spec["config"] = config
    return spec


def use_stable_renderer() -> None:
    """Register and enable the deterministic renderer (idempotent); every chart function calls it."""
    import altair as alt

    if "vramkit" not in alt.renderers.names():
        alt.renderers.register("vramkit", _stable_renderer)
    if alt.renderers.active != "vramkit":
        alt.renderers.enable("vramkit")


def stacked_memory(rows: list[dict], lang: str = "en", *, bar: str = "format",
                   select: str | None = None, width: int = 520):
    """Horizontal stacked bars of memory components.

    `rows`: dicts with `bar` (the bar's name, e.g. "bf16"), "component" (a units label key such as
    "weights" or "kv_cache") and "bytes" (int), plus the `select` field when given. With `select`
    (e.g. "context"), a menu bound to that field picks which rows are drawn, in the HTML too.
    Bars keep the order of first appearance; lengths are in GB (10**9 bytes).
    """
    import altair as alt

    check_lang(lang)
    use_stable_renderer()
    components = list(dict.fromkeys(r["component"] for r in rows))
    bars = list(dict.fromkeys(str(r[bar]) for r in rows))
    data = [{"bar": str(r[bar]), "component": label(r["component"], lang), "order": components.index(r["component"]),
             "gb": r["bytes"] / GB, **({"sel": r[select]} if select else {})} for r in rows]
    # A fixed axis, so moving the menu shows the bars grow rather than the axis rescale.
    totals: dict[tuple, float] = {}
    for d in data:
        key = (d["bar"], d.get("sel"))
        totals[key] = totals.get(key, 0.0) + d["gb"]
    chart = alt.Chart(alt.Data(values=data)).mark_bar().encode(
        x=alt.X("sum(gb):Q", title=label("memory_gb", lang), scale=alt.Scale(domain=[0, max(totals.values())])),
        y=alt.Y("bar:N", sort=bars, title=label(bar, lang)),
        color=alt.Color("component:N", sort=[label(c, lang) for c in components],
                        title=label("component", lang)),
        order=alt.Order("order:Q"),
        tooltip=[alt.Tooltip("bar:N", title=label(bar, lang)),
                 alt.Tooltip("component:N", title=label("component", lang)),
                 alt.Tooltip("gb:Q", title=label("memory_gb", lang), format=".2f")],
    ).properties(width=width)
    if select:
        options = list(dict.fromkeys(r[select] for r in rows))
        pick = alt.param(name="pick", value=options[0],
                         bind=alt.binding_select(options=options, name=label(select, lang) + " "))
        chart = chart.add_params(pick).transform_filter(alt.datum.sel == pick)
    return chart


def param_shares(rows: list[dict], lang: str = "en", *, width: int = 520):
    """Each model's parameters split by component, as shares of its total (bars of equal length).

    `rows`: dicts with "model", "component" (a units label key: "embedding", "attention", "mlp",
    "experts", "router", "norms", "lm_head", ...) and "params" (int). Models keep the order of
    first appearance; the tooltip gives the exact count. Explained in the chapter on parameters.
    """
    import altair as alt

    check_lang(lang)
    use_stable_renderer()
    components = list(dict.fromkeys(r["component"] for r in rows))
    models = list(dict.fromkeys(r["model"] for r in rows))
    totals: dict[str, int] = {}
    for r in rows:
        totals[r["model"]] = totals.get(r["model"], 0) + r["params"]
    data = [{"model": r["model"], "component": label(r["component"], lang),
             "order": components.index(r["component"]), "params": r["params"],
             "share": r["params"] / totals[r["model"]]} for r in rows if r["params"]]
    return alt.Chart(alt.Data(values=data)).mark_bar().encode(
        x=alt.X("share:Q", stack="zero", title=label("share_of_params", lang), axis=alt.Axis(format="%"),
                scale=alt.Scale(domain=[0, 1])),
        y=alt.Y("model:N", sort=models, title=label("model", lang)),
        color=alt.Color("component:N", sort=[label(c, lang) for c in components],
                        title=label("component", lang)),
        order=alt.Order("order:Q"),
        tooltip=[alt.Tooltip("model:N", title=label("model", lang)),
                 alt.Tooltip("component:N", title=label("component", lang)),
                 alt.Tooltip("params:Q", title=label("params", lang), format=",d"),
                 alt.Tooltip("share:Q", title=label("share_of_params", lang), format=".1%")],
    ).properties(width=width)


# Best format first: dark green for the highest quality that fits, grey for "does not fit".
_FIT_COLOURS = ["#1a9850", "#91cf60", "#d9ef8b", "#fee08b", "#fdae61", "#f46d43"]


def fit_grid(rows: list[dict], lang: str = "en", *, select: str = "context", formats=("bf16", "int8", "nf4")):
    """A model x GPU grid coloured by the best weight format that fits, with a menu for `select`.

    `rows`: dicts with "model", "gpu", "best" (a format name from `formats`, or None when none
    fits) and the `select` field (e.g. "context"). Rows and columns keep the order of first
    appearance. The menu works in the HTML book too (a Vega-Lite param over precomputed rows).
    Explained in the chapter "What fits my GPU".
    """
    import altair as alt

    check_lang(lang)
    use_stable_renderer()
    none = label("does_not_fit", lang)
    data = [{"model": r["model"], "gpu": r["gpu"], "best": r["best"] or none, "sel": r[select]} for r in rows]
    options = list(dict.fromkeys(r[select] for r in rows))
    pick = alt.param(name="pick", value=options[0],
                     bind=alt.binding_select(options=options, name=label(select, lang) + " "))
    domain = [*formats, none]
    base = alt.Chart(alt.Data(values=data)).encode(
        x=alt.X("gpu:N", sort=list(dict.fromkeys(r["gpu"] for r in rows)), title=label("gpu", lang),
                axis=alt.Axis(labelAngle=-90)),  # upright names still fit a phone's narrow cells
        y=alt.Y("model:N", sort=list(dict.fromkeys(r["model"] for r in rows)), title=label("model", lang)),
    ).transform_filter(alt.datum.sel == pick)
    cells = base.mark_rect(stroke="white").encode(
        color=alt.Color("best:N", title=label("best_format", lang), sort=domain,
                        scale=alt.Scale(domain=domain, range=_FIT_COLOURS[:len(formats)] + ["#d9d9d9"])),
        tooltip=[alt.Tooltip("model:N", title=label("model", lang)), alt.Tooltip("gpu:N", title=label("gpu", lang)),
                 alt.Tooltip("best:N", title=label("best_format", lang))])
    # Colour only, no text in the cells: on a phone a cell is narrower than any format name, and the
    # names printed over each other. The legend names the colours; the tooltip names the cell.
    return cells.add_params(pick)


def memory_vs_context(rows: list[dict], gpu_rows: list[dict], lang: str = "en", *, width: int = 520):
    """Total memory against context length, one line per format, and the usable memory of a GPU.

    `rows`: dicts with "model", "format", "context" (tokens) and "bytes" (int); `gpu_rows`: dicts
    with "gpu" and "bytes" (its usable bytes). Two menus pick the model and the GPU; where a line
    crosses the GPU's level is the longest context that fits. Lengths in GB (10**9 bytes).
    """
    import altair as alt

    check_lang(lang)
    use_stable_renderer()
    models = list(dict.fromkeys(r["model"] for r in rows))
    gpus = [g["gpu"] for g in gpu_rows]
    pick_model = alt.param(name="model", value=models[0],
                           bind=alt.binding_select(options=models, name=label("model", lang) + " "))
    pick_gpu = alt.param(name="gpu", value=gpus[0],
                         bind=alt.binding_select(options=gpus, name=label("gpu", lang) + " "))
    top = max(max(r["bytes"] for r in rows), max(g["bytes"] for g in gpu_rows)) / GB
    y = alt.Y("gb:Q", title=label("memory_gb", lang), scale=alt.Scale(domain=[0, top]))
    lines = alt.Chart(alt.Data(values=[{**r, "gb": r["bytes"] / GB} for r in rows])).mark_line(point=True).encode(
        x=alt.X("context:Q", scale=alt.Scale(type="log", base=2), title=label("context", lang)),
        y=y, color=alt.Color("format:N", title=label("format", lang), sort=list(dict.fromkeys(r["format"] for r in rows))),
        tooltip=[alt.Tooltip("format:N", title=label("format", lang)),
                 alt.Tooltip("context:Q", title=label("context", lang), format=",d"),
                 alt.Tooltip("gb:Q", title=label("memory_gb", lang), format=".2f")],
    ).transform_filter(alt.datum.model == pick_model)
    rule = alt.Chart(alt.Data(values=[{**g, "gb": g["bytes"] / GB} for g in gpu_rows])).mark_rule(
        strokeDash=[6, 3], color="black").encode(
        y=y, tooltip=[alt.Tooltip("gpu:N", title=label("gpu", lang)),
                      alt.Tooltip("gb:Q", title=label("usable_memory_gb", lang), format=".2f")],
    ).transform_filter(alt.datum.gpu == pick_gpu)
    return (lines + rule).add_params(pick_model, pick_gpu).properties(width=width)


def kv_vs_weights(rows: list[dict], lang: str = "en", *, start: int | None = None, width: int = 520):
    """The KV cache of a batch against the weights, one colour per model, with a context slider.

    `rows`: dicts with "model", "context" (tokens, evenly spaced so a range slider can step
    through them), "batch", "kv_bytes" (the whole batch's KV cache, int) and "weights_bytes"
    (int). Solid lines are the KV cache against batch size; dashed lines of the same colour are
    the weights: where a solid line crosses its dashed line, the caches outweigh the model.
    Lengths in GB (10**9 bytes); the slider (starting at `start`, default the smallest context)
    works without a kernel, and the axis follows it.
    """
    import altair as alt

    check_lang(lang)
    use_stable_renderer()
    models = list(dict.fromkeys(r["model"] for r in rows))
    contexts = sorted({r["context"] for r in rows})
    step = contexts[1] - contexts[0] if len(contexts) > 1 else 1
    pick = alt.param(name="context", value=start if start in contexts else contexts[0],
                     bind=alt.binding_range(min=contexts[0], max=contexts[-1], step=step,
                                            name=label("context", lang) + " "))
    color = alt.Color("model:N", sort=models, title=label("model", lang))
    y = alt.Y("gb:Q", title=label("memory_gb", lang))
    kv = alt.Chart(alt.Data(values=[{**r, "gb": r["kv_bytes"] / GB} for r in rows])).mark_line(point=True).encode(
        x=alt.X("batch:Q", title=label("batch", lang)), y=y, color=color,
        tooltip=[alt.Tooltip("model:N", title=label("model", lang)),
                 alt.Tooltip("context:Q", title=label("context", lang), format=",d"),
                 alt.Tooltip("batch:Q", title=label("batch", lang)),
                 alt.Tooltip("gb:Q", title=label("kv_of_batch", lang), format=".2f")],
    ).transform_filter(alt.datum.context == pick)
    weights = [{"model": m, "gb": next(r["weights_bytes"] for r in rows if r["model"] == m) / GB} for m in models]
    rule = alt.Chart(alt.Data(values=weights)).mark_rule(strokeDash=[6, 3]).encode(
        y=y, color=color, tooltip=[alt.Tooltip("model:N", title=label("model", lang)),
                                   alt.Tooltip("gb:Q", title=label("weights", lang), format=".2f")])
    return (kv + rule).add_params(pick).properties(width=width)


def state_vs_kv(rows: list[dict], lang: str = "en", *, width: int = 520):
    """A hybrid model's cache over context: the attention layers' K/V growing beside the constant
    conv and recurrent state of its other layers, and what K/V every layer would hold if all were
    attention. `rows`: dicts with "model", "context" (tokens), "part" (a units label key:
    "kv_attention", "mixer_state", "all_attention") and "bytes" (int); a menu picks the model, in
    the HTML too. The x axis is logarithmic, lengths in GB (10**9 bytes).
    """
    import altair as alt

    check_lang(lang)
    use_stable_renderer()
    models = list(dict.fromkeys(r["model"] for r in rows))
    parts = list(dict.fromkeys(r["part"] for r in rows))
    names = [label(p, lang) for p in parts]
    pick = alt.param(name="model", value=models[0],
                     bind=alt.binding_select(options=models, name=label("model", lang) + " "))
    data = [{**r, "gb": r["bytes"] / GB, "what": label(r["part"], lang),
             "dashed": r["part"] == "all_attention"} for r in rows]
    return alt.Chart(alt.Data(values=data)).mark_line(point=True).encode(
        x=alt.X("context:Q", scale=alt.Scale(type="log", base=2), title=label("context", lang)),
        y=alt.Y("gb:Q", title=label("memory_gb", lang)),
        color=alt.Color("what:N", sort=names, title=label("cache_part", lang)),
        strokeDash=alt.StrokeDash("dashed:N", legend=None),
        tooltip=[alt.Tooltip("model:N", title=label("model", lang)),
                 alt.Tooltip("what:N", title=label("cache_part", lang)),
                 alt.Tooltip("context:Q", title=label("context", lang), format=",d"),
                 alt.Tooltip("gb:Q", title=label("memory_gb", lang), format=".3f")],
    ).transform_filter(alt.datum.model == pick).add_params(pick).properties(width=width)


def throughput_vs_batch(rows: list[dict], lang: str = "en", *, width: int = 520):
    """Decode tokens/s against batch size (log-log), one line per context, a menu per GPU.

    `rows`: dicts with "gpu", "context", "batch", "tokens_per_s" (float, from
    `vramkit.speed.decode_step`), "bound" ("memory" or "compute") and "fits" (bool: the batch's
    KV cache and the weights fit the GPU). Circles are memory-bound, squares compute-bound;
    batches that do not fit are left out, so a line ends where memory runs out.
    """
    import altair as alt

    check_lang(lang)
    use_stable_renderer()
    gpus = list(dict.fromkeys(r["gpu"] for r in rows))
    pick = alt.param(name="gpu", value=gpus[0], bind=alt.binding_select(options=gpus, name=label("gpu", lang) + " "))
    data = [{**r, "bound": label(r["bound"] + "_bound", lang)} for r in rows if r["fits"]]
    base = alt.Chart(alt.Data(values=data)).encode(
        x=alt.X("batch:Q", scale=alt.Scale(type="log", base=2), title=label("batch", lang)),
        y=alt.Y("tokens_per_s:Q", scale=alt.Scale(type="log"), title=label("tokens_per_s", lang)),
        color=alt.Color("context:O", title=label("context", lang)),
    ).transform_filter(alt.datum.gpu == pick)
    lines = base.mark_line()
    points = base.mark_point(size=60, filled=True).encode(
        shape=alt.Shape("bound:N", title=label("bound", lang),
                        sort=[label("memory_bound", lang), label("compute_bound", lang)]),
        tooltip=[alt.Tooltip("gpu:N", title=label("gpu", lang)),
                 alt.Tooltip("context:Q", title=label("context", lang), format=",d"),
                 alt.Tooltip("batch:Q", title=label("batch", lang)),
                 alt.Tooltip("tokens_per_s:Q", title=label("tokens_per_s", lang), format=",.0f"),
                 alt.Tooltip("bound:N", title=label("bound", lang))])
    return (lines + points).add_params(pick).properties(width=width)


def roofline(roofs: list[dict], points: list[dict], lang: str = "en", *, width: int = 520):
    """The roofline: attainable FLOP/s against arithmetic intensity (log-log), one roof per GPU.

    `roofs`: dicts with "gpu", "intensity" (FLOPs per byte) and "flops_per_s" (the bound at that
    intensity, from `vramkit.speed`); `points`: dicts with "workload", "gpu", "intensity" and
    "flops_per_s". The knee of each roof is the GPU's ridge point.
    """
    import altair as alt

    check_lang(lang)
    use_stable_renderer()
    x = alt.X("intensity:Q", scale=alt.Scale(type="log"), title=label("intensity", lang))
    y = alt.Y("tflops:Q", scale=alt.Scale(type="log"), title=label("tflops", lang))
    gpus = list(dict.fromkeys(r["gpu"] for r in roofs))
    color = alt.Color("gpu:N", sort=gpus, title=label("gpu", lang))
    roof = alt.Chart(alt.Data(values=[{**r, "tflops": r["flops_per_s"] / 1e12} for r in roofs])).mark_line().encode(
        x=x, y=y, color=color)
    dots = alt.Chart(alt.Data(values=[{**p, "tflops": p["flops_per_s"] / 1e12} for p in points])).mark_point(
        filled=True, size=70).encode(
        x=x, y=y, color=color, shape=alt.Shape("workload:N", title=label("workload", lang)),
        tooltip=[alt.Tooltip("workload:N", title=label("workload", lang)), alt.Tooltip("gpu:N", title=label("gpu", lang)),
                 alt.Tooltip("intensity:Q", title=label("intensity", lang), format=",.1f"),
                 alt.Tooltip("tflops:Q", title=label("tflops", lang), format=",.1f")])
    return (roof + dots).properties(width=width)


def tokens_vs_layers(rows: list[dict], max_layers: int, lang: str = "en", *, width: int = 520):
    """Decode tokens/s against the decoder layers kept on the GPU (llama.cpp partial offload).

    `rows`: dicts with "gpu_layers" and "tokens_per_s" (from `vramkit.speed.offload_decode_step`);
    a dashed rule marks `max_layers`, the most layers that fit (`vramkit.fit.gpu_layers`).
    """
    import altair as alt

    check_lang(lang)
    use_stable_renderer()
    x = alt.X("gpu_layers:Q", title=label("gpu_layers", lang))
    line = alt.Chart(alt.Data(values=rows)).mark_line(point=True).encode(
        x=x, y=alt.Y("tokens_per_s:Q", title=label("tokens_per_s", lang)),
        tooltip=[alt.Tooltip("gpu_layers:Q", title=label("gpu_layers", lang)),
                 alt.Tooltip("tokens_per_s:Q", title=label("tokens_per_s", lang), format=".2f")])
    rule = alt.Chart(alt.Data(values=[{"gpu_layers": max_layers}])).mark_rule(strokeDash=[6, 3], color="black").encode(
        x=x, tooltip=[alt.Tooltip("gpu_layers:Q", title=label("max_gpu_layers", lang))])
    return (line + rule).properties(width=width)


# ---- number formats and quantization (chapters 02-formats and 03-quantization) ---------------------

def _menu(rows: list[dict], select: str, lang: str):
    """A Vega-Lite select param over the distinct values of `select`, first value picked."""
    import altair as alt

    options = list(dict.fromkeys(r[select] for r in rows))
    return alt.param(name="pick", value=options[0],
                     bind=alt.binding_select(options=options, name=label(select, lang) + " "))


def bit_layout(rows: list[dict], lang: str = "en", *, select: str | None = None, width: int = 640):
    """One row of boxes per format, one box per bit, colored sign / exponent / mantissa, MSB left.

    `rows`: dicts with "format", "value" (the stored number as text, shown beside the format),
    "position" (0 = most significant bit), "bit" ("0" or "1") and "field" ("sign", "exponent" or
    "mantissa"), plus the `select` field when given: a menu picks which rows are drawn, in the HTML too.
    """
    import altair as alt

    check_lang(lang)
    use_stable_renderer()
    fields = [label(f, lang) for f in ("sign", "exponent", "mantissa")]
    data = [{"row": f"{r['format']} = {r['value']}", "position": r["position"], "bit": r["bit"],
             "field": label(r["field"], lang), **({"sel": r[select]} if select else {})} for r in rows]
    order = list(dict.fromkeys(d["row"] for d in data))
    base = alt.Chart(alt.Data(values=data)).encode(
        x=alt.X("position:O", axis=None, scale=alt.Scale(domain=list(range(max(d["position"] for d in data) + 1)))),
        y=alt.Y("row:N", sort=order, title=None, axis=alt.Axis(labelLimit=400)),
    )
    boxes = base.mark_rect(stroke="white", strokeWidth=1).encode(
        color=alt.Color("field:N", sort=fields, title=None,
                        scale=alt.Scale(domain=fields, range=["#d62728", "#2ca02c", "#1f77b4"])),
        tooltip=[alt.Tooltip("row:N", title=label("format", lang)), alt.Tooltip("field:N", title=" "),
                 alt.Tooltip("bit:N", title="bit")],
    )
    text = base.mark_text(color="white", fontWeight="bold").encode(text="bit:N")
    chart = alt.layer(boxes, text).properties(width=width, height=alt.Step(26))
    if select:
        pick = _menu(rows, select, lang)
        chart = chart.add_params(pick).transform_filter(alt.datum.sel == pick)
    return chart


def code_grid(rows: list[dict], lang: str = "en", *, select: str = "format", width: int = 560):
    """Every code of a small float format as a grid: exponent bits down, mantissa bits across.

    `rows`: dicts with `select` (e.g. the format name), "exponent" and "mantissa" (bit strings) and
    "value" (float, NaN and inf allowed), one per code. A menu bound to `select` picks the format,
    in the HTML too. Cell color is log2 of the magnitude; zero, NaN and inf are grey.
    """
    import math

    import altair as alt

    check_lang(lang)
    use_stable_renderer()
    data = []
    for r in rows:
        v = r["value"]
        finite_nonzero = math.isfinite(v) and v != 0
        text = "NaN" if math.isnan(v) else (("-" if v < 0 else "") + "inf" if math.isinf(v) else f"{v:g}")
        data.append({"sel": r[select], "exponent": r["exponent"], "mantissa": r["mantissa"], "text": text,
                     "short": _short_number(v) if finite_nonzero else text,
                     "log2": math.log2(abs(v)) if finite_nonzero else 0.0, "plain": finite_nonzero})
    pick = _menu(rows, select, lang)
    base = alt.Chart(alt.Data(values=data)).encode(
        x=alt.X("mantissa:O", title=label("mantissa_bits", lang), axis=alt.Axis(orient="top", labelAngle=0)),
        y=alt.Y("exponent:O", title=label("exponent_bits", lang)),
        tooltip=[alt.Tooltip("exponent:O", title=label("exponent_bits", lang)),
                 alt.Tooltip("mantissa:O", title=label("mantissa_bits", lang)),
                 alt.Tooltip("text:N", title=label("stored_value", lang))],
    )
    cells = base.mark_rect(stroke="white").encode(
        color=alt.Color("log2:Q", title="log₂|x|", scale=alt.Scale(scheme="lighttealblue"))
    ).transform_filter(alt.datum.plain)
    specials = base.mark_rect(stroke="white", color="#e0e0e0").transform_filter(~alt.datum.plain)
    # The cell shows a short form (a phone's cell is ~35 px wide); the tooltip has the exact value.
    text = base.mark_text(fontSize=9, color="black").encode(text="short:N")
    return (alt.layer(cells, specials, text).add_params(pick).transform_filter(alt.datum.sel == pick)
            .properties(width=width))


def _short_number(v: float) -> str:
    """At most 6 characters: 0.0039, 0.25, 448, 57344 (the exact value goes in the tooltip)."""
    if abs(v) >= 1000:
        return f"{v:.0f}"
    text = f"{v:.3g}"
    return text if len(text) <= 5 else f"{v:.2g}"


def format_levels(rows: list[dict], lang: str = "en", *, width: int = 600):
    """Where each format puts its representable values: one row of ticks per format.

    `rows`: dicts with "format", "value" (a representable value) and "relative" (value divided by
    the format's largest value, so every format spans -1..1).
    """
    import altair as alt

    check_lang(lang)
    use_stable_renderer()
    formats = list(dict.fromkeys(r["format"] for r in rows))
    return alt.Chart(alt.Data(values=[dict(r) for r in rows])).mark_tick(thickness=1.5).encode(
        x=alt.X("relative:Q", title=label("value_over_max", lang), scale=alt.Scale(domain=[-1, 1])),
        y=alt.Y("format:N", sort=formats, title=label("format", lang)),
        color=alt.Color("format:N", sort=formats, legend=None),
        tooltip=[alt.Tooltip("format:N", title=label("format", lang)),
                 alt.Tooltip("value:Q", title=label("stored_value", lang))],
    ).properties(width=width, height=alt.Step(30))


def histogram_levels(bins: list[dict], levels: list[dict], lang: str = "en", *, select: str = "method",
                     width: int = 600):
    """A histogram of weights with the quantization levels of one method drawn as vertical rules.

    `bins`: dicts with "start", "end" (weight values) and "count"; `levels`: dicts with `select`
    (e.g. the method) and "level" (a value the method can store). A menu picks the method, in the
    HTML too. Levels outside the histogram's range are clipped.
    """
    import altair as alt

    check_lang(lang)
    use_stable_renderer()
    lo, hi = min(b["start"] for b in bins), max(b["end"] for b in bins)
    x_scale = alt.Scale(domain=[lo, hi], nice=False)
    bars = alt.Chart(alt.Data(values=[dict(b) for b in bins])).mark_rect(color="#9ecae1").encode(
        x=alt.X("start:Q", title=label("weight_value", lang), scale=x_scale), x2="end:Q",
        y=alt.Y("count:Q", title=label("count", lang)), y2=alt.datum(0),
    )
    pick = _menu(levels, select, lang)
    data = [{"sel": r[select], "level": r["level"]} for r in levels]
    rules = alt.Chart(alt.Data(values=data)).mark_rule(color="#d62728", strokeWidth=1.5, clip=True).encode(
        x=alt.X("level:Q", scale=x_scale),
        tooltip=[alt.Tooltip("level:Q", title=label("quant_level", lang), format=".4f")],
    ).add_params(pick).transform_filter(alt.datum.sel == pick)
    return alt.layer(bars, rules).properties(width=width, height=220)


def block_size_tradeoff(rows: list[dict], lang: str = "en", *, width: int = 260):
    """Two panels over block size (log axis): quantization error (SQNR, dB) and stored bits per weight.

    `rows`: dicts with "method", "block_size" (elements per scale), "sqnr_db" and "bits_per_weight".
    Higher SQNR is better; smaller blocks buy it with more bits for their scales.
    """
    import altair as alt

    check_lang(lang)
    use_stable_renderer()
    methods = list(dict.fromkeys(r["method"] for r in rows))
    base = alt.Chart(alt.Data(values=[dict(r) for r in rows])).encode(
        x=alt.X("block_size:Q", title=label("block_size", lang), scale=alt.Scale(type="log", base=2),
                axis=alt.Axis(values=sorted({r["block_size"] for r in rows}), labelAngle=-45, labelOverlap=False)),
        color=alt.Color("method:N", sort=methods, title=label("method", lang)),
        tooltip=[alt.Tooltip("method:N", title=label("method", lang)),
                 alt.Tooltip("block_size:Q", title=label("block_size", lang)),
                 alt.Tooltip("sqnr_db:Q", title=label("sqnr_db", lang), format=".2f"),
                 alt.Tooltip("bits_per_weight:Q", title=label("bits_per_weight", lang), format=".4f")],
    )
    sqnr = base.mark_line(point=True).encode(y=alt.Y("sqnr_db:Q", title=label("sqnr_db", lang)))
    bits = base.mark_line(point=True).encode(
        y=alt.Y("bits_per_weight:Q", title=label("bits_per_weight", lang), scale=alt.Scale(zero=False)))
    # Stacked, not side by side: two panels side by side do not fit a phone's column.
    return alt.vconcat(sqnr.properties(width=width, height=180), bits.properties(width=width, height=180))


def size_vs_quality(rows: list[dict], lang: str = "en", *, width: int = 560, labelled=None):
    """Model file size against the perplexity it costs, one labelled point per quantization type.

    `rows`: dicts with "name" (e.g. "Q4_K_M"), "bytes" (int), "ppl_increase" (> 0) and "family"
    (e.g. "K-quant" or "legacy"). Size is in GiB (2**30 bytes); the perplexity axis is logarithmic.
    `labelled`: the names printed next to their points (the others show theirs in the tooltip).
    """
    import altair as alt

    from .units import GIB

    check_lang(lang)
    use_stable_renderer()
    data = [{"name": r["name"], "gib": r["bytes"] / GIB, "ppl": r["ppl_increase"], "family": r["family"]}
            for r in rows]
    base = alt.Chart(alt.Data(values=data)).encode(
        x=alt.X("gib:Q", title=label("file_size_gib", lang), scale=alt.Scale(zero=False)),
        y=alt.Y("ppl:Q", title=label("ppl_increase", lang), scale=alt.Scale(type="log")),
        color=alt.Color("family:N", title=label("quant_family", lang)),
        tooltip=[alt.Tooltip("name:N", title=label("format", lang)),
                 alt.Tooltip("gib:Q", title=label("file_size_gib", lang), format=".2f"),
                 alt.Tooltip("ppl:Q", title=label("ppl_increase", lang), format=".4f")],
    )
    points = base.mark_point(filled=True, size=60)
    # Names only for `labelled` (default: all): neighbouring types print over each other otherwise.
    shown = base if labelled is None else base.transform_filter(
        alt.FieldOneOfPredicate(field="name", oneOf=list(labelled)))
    names = shown.mark_text(align="left", dx=6, dy=-6, fontSize=10).encode(text="name:N")
    return alt.layer(points, names).properties(width=width, height=320)


# Verdict colours of the seed audit (appendix): right, approximate, wrong.
VERDICT_COLORS = ("#2ca02c", "#ff9f1c", "#9467bd", "#d62728")  # right, approximate, marginal, wrong (audit.VERDICTS)


def claim_ratios(rows: list[dict], lang: str = "en", *, right: float = 0.05, approximate: float = 0.25,
                 width: int = 560):
    """Each audited claim as a point at claimed / vramkit (log scale), one row of points per seed.

    `rows`: dicts with "seed", "quote", "ratio" (claimed / vramkit's figure, > 0) and "verdict"
    ("right", "approximate", "marginal" or "wrong"). Shaded bands mark the `right` and `approximate` tolerances;
    clicking a legend entry highlights that verdict (works in the HTML page, no kernel).
    """
    import altair as alt

    from .audit import VERDICTS

    check_lang(lang)
    use_stable_renderer()
    names = [label(v, lang) for v in VERDICTS]
    data = [{"seed": r["seed"], "quote": r["quote"], "ratio": r["ratio"], "verdict": label(r["verdict"], lang)}
            for r in rows]
    lo = min(min(d["ratio"] for d in data), 1 - approximate) * 0.9
    hi = max(max(d["ratio"] for d in data), 1 + approximate) * 1.1
    x_scale = alt.Scale(type="log", domain=[lo, hi])
    bands = alt.Chart(alt.Data(values=[
        {"x": 1 - approximate, "x2": 1 + approximate, "band": names[1]},
        {"x": 1 - right, "x2": 1 + right, "band": names[0]}])).mark_rect(opacity=0.15).encode(
        x=alt.X("x:Q", scale=x_scale), x2="x2:Q",
        color=alt.Color("band:N", scale=alt.Scale(domain=names, range=list(VERDICT_COLORS)), legend=None))
    pick = alt.selection_point(fields=["verdict"], bind="legend")
    points = alt.Chart(alt.Data(values=data)).mark_point(filled=True, size=70).encode(
        x=alt.X("ratio:Q", scale=x_scale, title=f"{label('claimed', lang)} / {label('recomputed', lang)}"),
        y=alt.Y("seed:N", title=label("seed", lang)),
        yOffset=alt.YOffset("jitter:Q"),
        color=alt.Color("verdict:N", title=label("verdict", lang),
                        scale=alt.Scale(domain=names, range=list(VERDICT_COLORS))),
        opacity=alt.condition(pick, alt.value(0.9), alt.value(0.1)),
        tooltip=[alt.Tooltip("quote:N", title=label("quote", lang)),
                 alt.Tooltip("ratio:Q", format=".3f", title=f"{label('claimed', lang)} / {label('recomputed', lang)}"),
                 alt.Tooltip("verdict:N", title=label("verdict", lang))],
    ).transform_calculate(jitter="random()").add_params(pick)
    return alt.layer(bands, points).properties(width=width, height=260)
