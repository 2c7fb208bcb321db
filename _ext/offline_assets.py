"""Serve vega, vega-lite and vega-embed from the book, so charts render offline.

altair's "universal" HTML template loads the three libraries from a CDN unless a global
`vegaEmbed` already exists. This extension puts the vendored copies in `_assets/vega/` on
exactly the pages that draw a chart, in dependency order, and tells the template which
versions it has (`VEGA_DEBUG`). It also drops the duplicate body-only scripts that Sphinx 7.2-7.4
emits twice (the THEBE_JS_URL "already declared" error on every page).
"""
import json
from pathlib import Path

ASSETS = Path(__file__).resolve().parent.parent / "_assets"
VEGA_FILES = ("vega/vega.min.js", "vega/vega-lite.min.js", "vega/vega-embed.min.js")
# The widget embedder calls MathJax 2's `MathJax.Hub.Queue(["Typeset", MathJax.Hub, el])` whenever
# window.MathJax exists. MathJax 3 has no Hub, and on load it replaces window.MathJax with a new
# object (the old one becomes its .config), so the Hub is re-attached to whatever is assigned.
WIDGET_MATHJAX_SHIM = """(function () {
  var hub = {Queue: function (job) {
    var mj = window.MathJax;
    if (Array.isArray(job) && job[0] === "Typeset" && mj && mj.typesetPromise) mj.typesetPromise([job[2]]);
  }};
  var current = window.MathJax || {};
  current.Hub = hub;
  Object.defineProperty(window, "MathJax", {configurable: true,
    get: function () { return current; },
    set: function (v) { if (v && !v.Hub) v.Hub = hub; current = v; }});
})();"""


def add_static_path(app):
    # Not _static/: jupyter-book would put every .js found there on every page, in any order.
    app.config.html_static_path.append(str(ASSETS))


def add_vega_and_dedupe(app, pagename, templatename, context, doctree):
    if "vegaEmbed" in context.get("body", ""):
        import altair as alt

        for priority, name in enumerate(VEGA_FILES, start=300):
            app.add_js_file(name, priority=priority)
        # altair's template skips its CDN loader when vegaEmbed exists and reads the versions here.
        versions = {"vega_version": alt.VEGA_VERSION, "vegalite_version": alt.VEGALITE_VERSION,
                    "vegaembed_version": alt.VEGAEMBED_VERSION}
        body = f"var VEGA_DEBUG = Object.assign(window.VEGA_DEBUG || {{}}, {json.dumps(versions)});"
        app.add_js_file(None, body=body, priority=303)
    if "application/vnd.jupyter.widget-view+json" in context.get("body", ""):
        # Without it: one "reading 'Queue'" TypeError per widget (see WIDGET_MATHJAX_SHIM).
        app.add_js_file(None, body=WIDGET_MATHJAX_SHIM, priority=501)
    # Sphinx 7.2-7.4 lists each body-only script twice (once as None, once as ''): keep one.
    seen, unique = set(), []
    for script in context.get("script_files", []):
        key = (str(getattr(script, "filename", script) or ""),
               tuple(sorted((k, str(v)) for k, v in getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app):
    app.connect("builder-inited", add_static_path)
    app.connect("html-page-context", add_vega_and_dedupe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
