"""The book's structure: twins, toc, stored outputs, install cell, twin links, sources, assets.

nbval (`pytest --nbval chapters`) re-executes the chapters; these tests check what nbval cannot:
that the Korean and English chapters are true twins and that the book is wired together.
"""
from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = ROOT / "chapters"
KO = sorted(p.stem for p in (CHAPTERS / "ko").glob("*.ipynb"))
EN = sorted(p.stem for p in (CHAPTERS / "en").glob("*.ipynb"))
ALL = [(lang, name) for lang, names in (("ko", KO), ("en", EN)) for name in names]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
REPO_URL = CONFIG["repository"]["url"]


def _tool():
    spec = importlib.util.spec_from_file_location("chapters_tool", ROOT / "tools" / "chapters.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _read(lang: str, name: str):
    return nbformat.read(CHAPTERS / lang / f"{name}.ipynb", as_version=4)


def _code(nb) -> list[str]:
    return [c.source for c in nb.cells if c.cell_type == "code"]


def _toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    found = []

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                found.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc)
    return found


def test_there_are_chapters():
    assert KO and EN


def test_every_chapter_has_a_twin():
    assert KO == EN, f"only Korean: {set(KO) - set(EN)}; only English: {set(EN) - set(KO)}"


@pytest.mark.parametrize("name", KO)
def test_twins_have_the_same_code(name):
    """Identical code cells, except that "ko" may read "en" (the LANG value)."""
    ko, en = _code(_read("ko", name)), _code(_read("en", name))
    assert len(ko) == len(en), f"{name}: {len(ko)} Korean code cells, {len(en)} English"
    for i, (k, e) in enumerate(zip(ko, en)):
        assert k.replace('"ko"', '"en"') == e, f"{name}: code cell {i} differs between the twins"


@pytest.mark.parametrize("lang,name", ALL)
def test_chapter_is_in_the_toc(lang, name):
    assert f"chapters/{lang}/{name}" in _toc_files()


def test_toc_entries_exist():
    missing = [f for f in _toc_files() if not any((ROOT / f).with_suffix(s).exists() for s in (".md", ".ipynb"))]
    assert not missing


@pytest.mark.parametrize("lang,name", ALL)
def test_chapter_has_stored_outputs(lang, name):
    nb = _read(lang, name)
    code = [c for c in nb.cells if c.cell_type == "code"]
    unexecuted = [i for i, c in enumerate(code) if c.execution_count is None]
    assert not unexecuted, f"code cells {unexecuted} not executed: run python tools/chapters.py build {name}"
    assert any(c.outputs for c in code), "no outputs stored"
    bad = [(i, o.get("name") or o.output_type) for i, c in enumerate(code) for o in c.outputs
           if o.output_type == "error" or o.get("name") == "stderr"]
    assert not bad, f"errors or stderr in stored outputs (cell, kind): {bad}"


@pytest.mark.parametrize("lang,name", ALL)
def test_first_cell_installs_vramkit_hidden(lang, name):
    first = _read(lang, name).cells[0]
    tags = first.metadata.get("tags", [])
    assert first.cell_type == "code"
    assert "remove-cell" in tags and "nbval-skip" in tags, tags
    assert "import vramkit" in first.source
    assert f'%pip install --quiet "vramkit[book] @ git+{REPO_URL}"' in first.source


@pytest.mark.parametrize("lang,name", ALL)
def test_chapter_links_to_its_twin(lang, name):
    twin = {"ko": "en", "en": "ko"}[lang]
    first_md = next(c for c in _read(lang, name).cells if c.cell_type == "markdown")
    assert first_md.source.startswith("# ")
    assert f"](../{twin}/{name}.ipynb)" in first_md.source


def test_notebooks_match_their_sources():
    tool = _tool()
    assert tool.sources(), "no chapters/src/*.md"
    assert [p for name in tool.sources() for p in tool.problems(name)] == []


def test_every_chapter_has_a_source():
    assert sorted(_tool().sources()) == KO


def test_repository_url_in_one_place():
    book_files = [ROOT / "_toc.yml", ROOT / "index.md", *sorted((CHAPTERS / "src").glob("*.md"))]
    assert not [p.name for p in book_files if REPO_URL in p.read_text(encoding="utf-8")]
    assert CONFIG["repository"]["branch"] == "main"


def test_vendored_vega_matches_altair():
    alt = pytest.importorskip("altair")
    vega = ROOT / "_assets" / "vega"
    text = {name: (vega / f"{name}.min.js").read_text(encoding="utf-8") for name in ("vega", "vega-lite", "vega-embed")}
    assert f'="{alt.VEGALITE_VERSION}"' in text["vega-lite"]
    assert re.search(rf'\.version="{alt.VEGA_VERSION}\.\d+\.\d+"', text["vega"])
    assert re.search(rf'="{alt.VEGAEMBED_VERSION}\.\d+\.\d+"', text["vega-embed"])


def test_glue_falls_back_without_myst_nb():
    """In Colab myst-nb is absent: glue must not fail, and display=True must still show the value."""
    code = ("import sys; sys.modules['myst_nb'] = None\n"
            "import IPython.display as d; shown = []; d.display = lambda v: shown.append(v)\n"
            "from vramkit.book import glue\n"
            "assert glue('a', 42) == 42 and shown == []\n"
            "glue('b', 'x', display=True); assert shown == ['x'], shown\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_import_vramkit_stays_light():
    code = ("import sys, vramkit, vramkit.book, vramkit.charts, vramkit.widgets\n"
            "print([m for m in ('pandas', 'altair', 'ipywidgets', 'myst_nb') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


def test_korean_search_indexes_stems():
    sys.path.insert(0, str(ROOT / "_ext"))
    try:
        from korean_search import SearchKorean
    finally:
        sys.path.pop(0)
    words = SearchKorean({}).split("KV캐시는 결과를 memory")
    assert {"캐시", "캐시는", "결과", "KV", "memory"} <= set(words)


def test_chart_output_is_deterministic():
    """nbval compares chart HTML byte for byte, so two fresh kernels must render the same bytes."""
    code = ("from vramkit.charts import stacked_memory, _stable_renderer\n"
            "rows = [{'format': 'bf16', 'component': 'weights', 'bytes': 16 * 10**9}]\n"
            "print(_stable_renderer(stacked_memory(rows, 'ko').to_dict())['text/html'])")
    runs = [subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
            for _ in range(2)]
    assert runs[0] == runs[1] and "altair-viz-" in runs[0]
    assert json.dumps("가중치")[1:-1] in runs[0] or "가중치" in runs[0]


# --- The stored notebooks as Colab, Jupyter and Binder show them --------------------------------
MYST_ONLY = re.compile(r"\{glue|:::|\{[a-z][\w:-]*\}`|^\([\w-]+\)=|^:class:|\*\*")


def _commonmark():
    from markdown_it import MarkdownIt
    from mdit_py_plugins.dollarmath import dollarmath_plugin

    # CommonMark with tables and $math$ (JupyterLab and Colab render both), nothing MyST-specific.
    return MarkdownIt("commonmark").enable("table").use(dollarmath_plugin)


def _visible_text(md, source: str) -> list[str]:
    texts = []
    for token in md.parse(source):
        if token.type == "inline":
            texts += [c.content for c in token.children if c.type == "text"]
    return texts


@pytest.mark.parametrize("lang,name", ALL)
def test_notebook_markdown_shows_no_myst_syntax(lang, name):
    """What a notebook front end renders: values, not `{glue:text}` roles; no `:::` fences, MyST
    targets or roles; no `**` that CommonMark leaves literal (bold ending in punctuation before Hangul)."""
    md = _commonmark()
    raw = [(i, t) for i, c in enumerate(_read(lang, name).cells) if c.cell_type == "markdown"
           for t in _visible_text(md, c.source) if MYST_ONLY.search(t)]
    assert not raw, f"{lang}/{name}: raw syntax in rendered text (cell, text): {raw[:5]}"


@pytest.mark.parametrize("lang,name", ALL)
def test_exercise_answers_are_closed_details(lang, name):
    """Answers are <details> boxes in every front end; the computation that follows one is folded."""
    nb = _read(lang, name)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown" and "<details" in cell.source:
            assert cell.source.count("<details") == cell.source.count("</details>")
            assert "<summary>" in cell.source and "<details open" not in cell.source
            following = nb.cells[i + 1] if i + 1 < len(nb.cells) else None
            if following is not None and following.cell_type == "code" and "hide-input" in following.metadata.get("tags", []):
                assert "hide-output" in following.metadata["tags"], f"{lang}/{name} cell {i + 1}"
                assert following.metadata["jupyter"] == {"source_hidden": True, "outputs_hidden": True}


@pytest.mark.parametrize("name", KO)
def test_twins_have_the_same_heading_levels(name):
    md = _commonmark()
    levels = {lang: [t.tag for c in _read(lang, name).cells if c.cell_type == "markdown"
                     for t in md.parse(c.source) if t.type == "heading_open"] for lang in ("ko", "en")}
    assert levels["ko"] == levels["en"], f"{name}: {levels}"


@pytest.mark.parametrize("lang,name", ALL)
def test_prose_values_come_from_a_fresh_run(lang, name):
    """Execute the chapter from its source now: the prose it fills in is the stored prose."""
    tool = _tool()
    path = CHAPTERS / lang / f"{name}.ipynb"
    fresh = tool.fill(tool.execute(tool.notebook(name, lang), path), f"{lang}/{name}")
    stored = _read(lang, name)
    pairs = [(a.source, b.source) for a, b in zip(fresh.cells, stored.cells) if a.cell_type == "markdown"]
    differ = [(a[:200], b[:200]) for a, b in pairs if a != b]
    assert len(fresh.cells) == len(stored.cells) and not differ, differ[:2]


def test_fill_pastes_what_myst_nb_would_and_escapes_markup():
    tool = _tool()
    values = {"a": "'16.06 GB'", "n": "131072", "star": "'x*y_z'"}
    assert tool.fill_markdown("is {glue:text}`a`, {glue:text}`n` and {glue}`star`", values) == \
        "is 16.06 GB, 131072 and x\\*y\\_z"
    assert tool.fill_markdown("{glue:text}`n:,d` tokens", values) == "131,072 tokens"
    with pytest.raises(SystemExit, match="no glue named 'missing'"):
        tool.fill_markdown("{glue:text}`missing`", values, "here")


def test_admonitions_become_html_that_commonmark_renders():
    tool = _tool()
    out = tool.admonitions_to_html(":::{admonition} Answer\n:class: dropdown\nIt is **4**.\n:::\n\nAfter.")
    assert out.startswith('<details class="vk-answer">\n<summary>Answer</summary>\n\nIt is **4**.\n\n</details>')
    html = _commonmark().render(out)
    assert "<strong>4</strong>" in html and "<p>After.</p>" in html
    tip = tool.admonitions_to_html(":::{admonition} Takeaway\n:class: tip\nBody\n:::")
    assert tip.startswith('<div class="admonition tip">\n<p class="admonition-title">Takeaway</p>')


def test_glue_all_glues_each_value_once():
    code = ("import sys; sys.modules['myst_nb'] = None\n"
            "import vramkit.book as b; seen = []\n"
            "b.glue = lambda name, value, display=False: seen.append((name, value))\n"
            "assert b.glue_all({'x': 1, 'y': 'two'}) is None and seen == [('x', 1), ('y', 'two')], seen\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


# --- Binder and Colab ------------------------------------------------------------------------
def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            from packaging.requirements import Requirement

            req = Requirement(line)
            pins[req.name] = req.specifier
    return pins


def test_binder_python_installs_every_pin():
    """runtime.txt names a Python on which each pinned distribution (the versions installed here,
    which satisfy the pins) declares it installs. Binder's default Python 3.10 fails on pandas 3."""
    from importlib import metadata

    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    runtime = (ROOT / "runtime.txt").read_text(encoding="utf-8").strip()
    assert re.fullmatch(r"python-3\.\d+", runtime), runtime
    python = Version(runtime.removeprefix("python-") + ".0")
    assert not (ROOT / "binder").exists() or (ROOT / "binder" / "runtime.txt").exists()
    checked = 0
    for name, spec in _pins().items():
        dist = metadata.distribution(name)
        assert dist.version in spec, f"{name} {dist.version} installed, requirements.txt pins {spec}"
        requires = dist.metadata.get("Requires-Python")
        assert not requires or python in SpecifierSet(requires), f"{name} {dist.version} needs Python {requires}"
        checked += 1
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert python in SpecifierSet(project["requires-python"])
    assert checked >= 15


# What Colab's runtime ships (2026): the install cell must leave these alone, so no restart is needed.
COLAB_SHIPS = {"ipywidgets": "7.7.1", "altair": "5.5.0", "pandas": "2.2.2", "numpy": "2.0.2"}


def test_install_cell_keeps_what_colab_has():
    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["book"]]
    for req in wanted:
        if req.name in COLAB_SHIPS:
            assert COLAB_SHIPS[req.name] in req.specifier, f"{req} would replace Colab's {req.name} {COLAB_SHIPS[req.name]}"
    # pip's default strategy upgrades a dependency only when the installed one does not satisfy it.
    assert "--upgrade" not in _tool().install_source() and "-U " not in _tool().install_source()


def test_readme_says_what_the_browser_test_needs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    for package in ("chromium", "fonts-noto-cjk"):
        assert package in readme and package in ci


def test_localized_translates_headings_not_data():
    pd = pytest.importorskip("pandas")
    from vramkit.book import localized
    from vramkit.units import label

    table = pd.DataFrame({"total": [1], "share of bytes": ["5%"], "llama-3-8b": [2]}, index=["baseline"])
    ko = localized(table, "ko")
    assert list(ko.columns) == ["합계", "바이트 비율", "llama-3-8b"] and list(ko.index) == ["기준(ZeRO 없음)"]
    assert list(localized(table, "en").columns) == ["total", "share of bytes", "llama-3-8b"]
    assert list(table.columns) == ["total", "share of bytes", "llama-3-8b"]  # the computation's keys stay
    assert label("kv_at_tokens", "ko", tokens=8192) == "KV, 8,192 토큰"
    assert label("kv_at_tokens", "en", tokens=2000) == "KV, 2,000 tokens"


@pytest.mark.parametrize("name", ["04-inference", "06-speed"])
def test_no_ad_hoc_translation_helper(name):
    source = (CHAPTERS / "src" / f"{name}.md").read_text(encoding="utf-8")
    assert "def t(" not in source and 'if LANG == "ko"' not in source and "if LANG == 'ko'" not in source
