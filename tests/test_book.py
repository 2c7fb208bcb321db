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
