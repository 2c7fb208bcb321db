"""The built HTML book in a real browser, offline: no external request, no console error.

Builds the book (warnings are errors), serves it on 127.0.0.1, and drives Debian's Chromium with
playwright. Every request that leaves 127.0.0.1 is aborted and recorded, so a CDN script that
slipped back in (vega, require.js, MathJax, widget embedder) fails the test.

Then what a reader sees, at a desktop's 1280 px and a phone's 390 px (tests/browser_checks.js):
charts inside the text column, no labels printed over each other, no clipped formula, no sideways
scrolling, nothing of an answer below its closed box, no chart link off the site, widget snapshots
marked frozen; twins with the same headings; Korean pages in Korean (theme strings, chart titles,
table headings, keep-all line breaking, a "next" that stays in Korean); search that ignores Korean
particles and shows chapter text. VRAMKIT_BOOK_HTML=<built html folder> skips the build (for
iterating on the checks only; CI always builds).
"""
from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import quote, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
TIMEOUT_MS = 15_000
# A word that the Korean chapter only uses with a particle or ending attached (양자화해도, 양자화하지):
# Sphinx's default splitter would index only those whole forms, so a search for the stem finds nothing.
KOREAN_STEM = "양자화"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    built = os.environ.get("VRAMKIT_BOOK_HTML")  # a book built moments ago (while editing the checks)
    if built:
        yield from _serve(Path(built))
        return
    out = tmp_path_factory.mktemp("book")
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jb) if jb.exists() else shutil.which("jupyter-book") or "jupyter-book",
           "build", str(ROOT), "--path-output", str(out), "-W", "-n", "--keep-going", "--all"]
    build = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    assert build.returncode == 0, "book build failed or warned:\n" + (build.stdout + build.stderr)[-4000:]
    yield from _serve(out / "_build" / "html")


def _serve(html: Path):
    handler = functools.partial(_QuietHandler, directory=str(html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield {"html": html, "url": f"http://127.0.0.1:{server.server_address[1]}/"}
    server.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install it with `apt-get install -y chromium` "
                    "(and fonts-noto-cjk for Korean glyphs); .ci/run does this in CI")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield browser
        browser.close()


class Visit:
    """One page in a fresh context, recording external requests and console errors."""

    def __init__(self, browser, url, width: int = 1280):
        self.external, self.errors = [], []
        self.context = browser.new_context(viewport={"width": width, "height": 900})
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(url, wait_until="load", timeout=TIMEOUT_MS)

    def _route(self, route):
        if urlparse(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            self.external.append(route.request.url)
            route.abort()

    def settle(self):
        self.page.wait_for_load_state("networkidle", timeout=TIMEOUT_MS)

    def close(self):
        self.context.close()


PAGES = ["index.html", "chapters/ko/00-start.html", "chapters/en/00-start.html", "genindex.html",
         "search.html?q=" + quote("캐시")]


@pytest.mark.parametrize("path", PAGES)
def test_page_is_offline_and_error_free(site, browser, path):
    visit = Visit(browser, site["url"] + path)
    try:
        visit.settle()
        assert visit.external == [], f"{len(visit.external)} external requests: {visit.external[:5]}"
        assert visit.errors == [], f"{len(visit.errors)} console errors: {visit.errors[:5]}"
    finally:
        visit.close()


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_chart_math_and_widget_render(site, browser, lang):
    visit = Visit(browser, site["url"] + f"chapters/{lang}/00-start.html")
    page = visit.page
    try:
        page.wait_for_selector(".vega-embed svg.marks", timeout=TIMEOUT_MS)
        page.wait_for_selector("mjx-container", timeout=TIMEOUT_MS)  # MathJax from _static, typeset
        page.wait_for_selector(".widget-dropdown select", timeout=TIMEOUT_MS)  # static widget snapshot
        # The chart's menu works without a kernel: another context length redraws the bars.
        before = page.inner_html(".vega-embed svg.marks")
        menu = page.locator(".vega-bindings select").first
        menu.select_option(index=menu.locator("option").count() - 1)
        page.wait_for_function("b => document.querySelector('.vega-embed svg.marks').innerHTML !== b",
                               arg=before, timeout=TIMEOUT_MS)
        visit.settle()
        assert visit.external == [] and visit.errors == [], (visit.external, visit.errors)
    finally:
        visit.close()


def test_korean_search_finds_a_stem(site, browser):
    page = (site["html"] / "chapters" / "ko" / "00-start.html").read_text(encoding="utf-8")
    article = page[page.index("<article"):page.index("</article>")]  # not the sidebar's other titles
    text = re.sub(r"<[^>]+>", " ", article)
    assert KOREAN_STEM in text
    assert not re.search(rf"(?<![\w]){KOREAN_STEM}(?![\w])", text), \
        f"{KOREAN_STEM!r} appears bare; pick a word that only appears with a particle"
    visit = Visit(browser, site["url"] + "search.html?q=" + quote(KOREAN_STEM))
    try:
        link = visit.page.wait_for_selector("#search-results a[href*='chapters/ko/00-start']", timeout=TIMEOUT_MS)
        assert link is not None
        assert visit.errors == [] and visit.external == []
    finally:
        visit.close()


CHAPTER_PAGES = sorted(f"chapters/{p.parent.name}/{p.stem}.html" for p in (ROOT / "chapters").glob("[ke][on]/*.ipynb"))


@pytest.mark.parametrize("path", CHAPTER_PAGES)
def test_every_chapter_renders_all_its_charts_offline(site, browser, path):
    """Each chapter page: every altair chart draws (from the book's own vega), nothing leaves 127.0.0.1."""
    html = (site["html"] / path).read_text(encoding="utf-8")
    charts = len(set(re.findall(r'<div id="(altair-viz-[0-9a-f]{16}(?:-\d+)?)"', html)))
    visit = Visit(browser, site["url"] + path)
    try:
        if charts:
            visit.page.wait_for_function(f"document.querySelectorAll('.vega-embed svg.marks').length >= {charts}",
                                         timeout=TIMEOUT_MS)
        visit.settle()
        drawn = visit.page.locator(".vega-embed svg.marks").count()
        assert drawn == charts, f"{path}: {drawn} of {charts} charts drawn"
        assert visit.external == [], f"{len(visit.external)} external requests: {visit.external[:5]}"
        assert visit.errors == [], f"{len(visit.errors)} console errors: {visit.errors[:5]}"
    finally:
        visit.close()


def test_every_chapter_page_is_checked():
    assert len(CHAPTER_PAGES) >= 18


# --- What a reader sees: tests/browser_checks.js lists every kind of breakage on a page ---------
CHECKS_JS = (ROOT / "tests" / "browser_checks.js").read_text(encoding="utf-8")
DESKTOP, PHONE = 1280, 390


@pytest.mark.parametrize("width", [DESKTOP, PHONE])
@pytest.mark.parametrize("path", CHAPTER_PAGES)
def test_chapter_reads_well(site, browser, path, width):
    """At a desktop's and a phone's width: charts inside the column, no labels over each other, no
    clipped math, no sideways scrolling, nothing of an answer under its closed box, no chart link
    off the site, and widget snapshots marked frozen with disabled controls."""
    html = (site["html"] / path).read_text(encoding="utf-8")
    charts = len(set(re.findall(r'<div id="(altair-viz-[0-9a-f]{16}(?:-\d+)?)"', html)))
    visit = Visit(browser, site["url"] + path, width)
    try:
        page = visit.page
        if charts:
            page.wait_for_function(f"document.querySelectorAll('.vega-embed svg.marks').length >= {charts}",
                                   timeout=TIMEOUT_MS)
        visit.settle()
        page.wait_for_function("!document.querySelector('mjx-container') || "
                               "document.querySelectorAll('mjx-container mjx-math').length > 0", timeout=TIMEOUT_MS)
        found = {kind: items for kind, items in page.evaluate(CHECKS_JS).items() if items}
        assert not found, f"{path} at {width} px:\n" + json.dumps(found, ensure_ascii=False, indent=1)[:3000]
    finally:
        visit.close()


def _headings(page) -> list[str]:
    return page.eval_on_selector_all("article.bd-article :is(h1, h2, h3)", "els => els.map(e => e.tagName)")


@pytest.mark.parametrize("name", sorted({Path(p).stem for p in CHAPTER_PAGES}))
def test_twins_have_the_same_headings(site, browser, name):
    levels = {}
    for lang in ("ko", "en"):
        visit = Visit(browser, site["url"] + f"chapters/{lang}/{name}.html")
        try:
            levels[lang] = _headings(visit.page)
        finally:
            visit.close()
    assert levels["ko"] == levels["en"], f"{name}: Korean headings {levels['ko']}, English {levels['en']}"


HANGUL = re.compile(r"[\uac00-\ud7a3]")


@pytest.mark.parametrize("path", [p for p in CHAPTER_PAGES if "/ko/" in p])
def test_korean_page_reads_korean(site, browser, path):
    """The theme's strings, chart axis and legend titles and table headings of a Korean page are
    Korean (names such as bf16, GPU or llama-3-8b aside), and its "next" stays in Korean."""
    visit = Visit(browser, site["url"] + path)
    try:
        page = visit.page
        page.wait_for_load_state("networkidle", timeout=TIMEOUT_MS)
        ui = page.eval_on_selector_all(".prev-next-subtitle, .onthispage, .bd-toc .page-toc > .onthispage, "
                                       "button.theme-switch-button, .search-button__default-text",
                                       "els => els.map(e => e.textContent.trim()).filter(Boolean)")
        assert ui and all(HANGUL.search(t) for t in ui), f"English UI strings on {path}: {ui}"
        titles = page.eval_on_selector_all(
            ".vega-embed .role-axis-title text, .vega-embed .role-legend-title text, article.bd-article th",
            "els => els.map(e => e.textContent.trim())")
        english = sorted({t for t in titles if _english_words(t)})
        assert not english, f"English headings on {path}: {english}"
        breaking = page.evaluate("[document.documentElement.lang, getComputedStyle(document.querySelector("
                                 "'article.bd-article p')).wordBreak]")
        assert breaking == ["ko", "keep-all"], f"{path}: lang and word-break {breaking}"
        nxt = page.eval_on_selector_all("a.right-next, a.left-prev", "els => els.map(e => e.getAttribute('href'))")
        assert all("/en/" not in h for h in nxt), f"{path} leads to the English part: {nxt}"
    finally:
        visit.close()


# Lower-case words that are names, not English: the package, engines, and the like.
NAMES = {"vramkit", "vllm", "transformers", "mlx", "bitsandbytes"}


def _english_words(text: str) -> bool:
    """True for a heading in English words ("memory needed", "source"), not for names ("bf16",
    "KV", "llama-3-8b", "GPU", "vramkit")."""
    from vramkit.units import LABELS

    if HANGUL.search(text) or text in NAMES:
        return False
    english_labels = {v["en"] for v in LABELS.values() if not HANGUL.search(v["en"])} - \
                     {v["ko"] for v in LABELS.values()} - NAMES
    return text in english_labels or bool(re.fullmatch(r"[a-z]{4,}(?: [a-z]+)*|[a-z]+(?: [a-z]+)+", text))


@pytest.mark.parametrize("query", ["양자화는", "양자화"])
def test_korean_search_ignores_particles_and_theme_text(site, browser, query):
    """A word typed with its particle finds what the stem finds; snippets are chapter text."""
    counts = {}
    for q in ("양자화", query):
        visit = Visit(browser, site["url"] + "search.html?q=" + quote(q))
        try:
            visit.page.wait_for_selector("#search-results ul li", timeout=TIMEOUT_MS)
            visit.page.wait_for_function("document.querySelector('#search-results p.search-summary')", timeout=TIMEOUT_MS)
            visit.settle()
            links = visit.page.eval_on_selector_all("#search-results ul li > a", "els => els.map(e => e.href)")
            snippets = visit.page.eval_on_selector_all("#search-results p.context", "els => els.map(e => e.textContent)")
            counts[q] = len([h for h in links if "/ko/" in h])
            theme = [s for s in snippets if re.search(r"Skip to main content|Print to PDF|Download notebook|"
                                                      r"Fullscreen mode|Ctrl\+K", s)]
            assert not theme, f"snippets show theme text: {theme[:2]}"
        finally:
            visit.close()
    assert counts[query] == counts["양자화"] >= 2, counts
