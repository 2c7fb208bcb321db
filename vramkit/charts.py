"""altair charts for the book, drawn from data that vramkit computed (bytes as ints).

altair and pandas are imported inside the functions, so `import vramkit` stays light. Charts work
without a kernel in the HTML book: sliders and menus are Vega-Lite params over precomputed rows,
never formulas re-coded in Vega expressions.
"""
from __future__ import annotations

import hashlib
import json

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

    digest = hashlib.sha1(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]
    n = _seen_divs[digest] = _seen_divs.get(digest, 0) + 1
    div = f"altair-viz-{digest}" + (f"-{n}" if n > 1 else "")
    html = spec_to_html(spec, mode="vega-lite", vega_version=alt.VEGA_VERSION,
                        vegalite_version=alt.VEGALITE_VERSION, vegaembed_version=alt.VEGAEMBED_VERSION,
                        output_div=div, template="universal", fullhtml=False,
                        embed_options=metadata.get("embed_options"))
    return {"text/html": html}


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
