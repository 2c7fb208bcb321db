"""Korean pages in Korean: <html lang="ko">, the theme's UI strings, and a Korean reading order.

Sphinx has one `language` per build (en, see _config.yml), so on its own every page gets English
UI strings ("Contents", "previous", "Download this page"), and the toc's one reading order runs
from the last Korean chapter straight into the English start. For each page under chapters/ko/
this extension
- marks it lang="ko" (screen readers, line breaking and font choice follow the attribute);
- swaps in the Korean message catalogs (Sphinx's own and the book theme's) while that page's
  context is built and its template rendered, and restores the English ones for every other page;
- translates the few strings myst-nb and sphinx-togglebutton write from global settings;
- ends the Korean "next" at the last Korean chapter (and the English "previous" at the first
  English one), so each language reads as its own book.
"""
from __future__ import annotations

import gettext
from pathlib import Path

import sphinx
from sphinx import locale

KO_PREFIX, EN_PREFIX = "chapters/ko/", "chapters/en/"

# Strings set globally by myst-nb (nb_code_prompt_show/hide) and sphinx-togglebutton, per page.
KO_STRINGS = {
    "Show code cell source": "코드 셀 보기", "Hide code cell source": "코드 셀 숨기기",
    "Show code cell output": "출력 보기", "Hide code cell output": "출력 숨기기",
    "Show code cell content": "코드와 출력 보기", "Hide code cell content": "코드와 출력 숨기기",
    "Toggle hidden content": "숨긴 내용 펼치기",
}
KO_TOGGLE_JS = "toggleHintShow = '펼치기'; toggleHintHide = '접기';"


def _catalog_dirs() -> dict[str, list[Path]]:
    """Where the Korean .mo files of each message catalog the pages use live."""
    dirs = {"sphinx": [Path(sphinx.__file__).parent / "locale"]}
    try:
        import sphinx_book_theme

        dirs["booktheme"] = [Path(sphinx_book_theme.__file__).parent / "theme" / "sphinx_book_theme"
                             / "static" / "locales"]
    except ImportError:
        pass
    return dirs


# The theme's strings that no shipped Korean catalog has (pydata-sphinx-theme has none), or has
# wrongly ("By" as "으로"). Consulted first, then the catalogs.
KO_UI = {
    "Skip to main content": "본문으로 건너뛰기", "Back to top": "맨 위로", "Repository": "저장소",
    "Open issue": "이슈 열기", "Light": "밝게", "Dark": "어둡게", "System Settings": "시스템 설정",
    "Color mode": "색 모드", "By": "지은이:", "Search this book...": "이 책에서 검색...",
    "Site navigation": "사이트 탐색", "On this page": "이 페이지의 내용", "Main": "본문",
    "Toggle primary sidebar": "목차 열고 닫기", "Toggle secondary sidebar": "이 페이지 목차 열고 닫기",
    "Launch interactive content": "실행 환경에서 열기", "Source repositories": "소스 저장소",
    "previous page": "이전 쪽", "next page": "다음 쪽", "previous": "이전", "next": "다음",
    "Version warning": "버전 경고", "Download this page": "이 쪽 내려받기", "Download source file": "원본 파일 내려받기",
    "Print to PDF": "PDF로 인쇄", "Fullscreen mode": "전체 화면", "Contents": "내용", "Search": "검색",
    "Breadcrumb": "위치", "Home": "처음",
}


class _Table(gettext.NullTranslations):
    """A translation from a dict, falling back to the catalogs added behind it."""

    def __init__(self, table: dict[str, str]):
        super().__init__()
        self.table = table

    def gettext(self, message):
        if message in self.table:
            return self.table[message]
        return self._fallback.gettext(message) if self._fallback else message


def _korean_translators() -> dict[tuple[str, str], gettext.NullTranslations]:
    found = {}
    for catalog, dirs in _catalog_dirs().items():
        translator = _Table(KO_UI)
        for folder in dirs:
            translator.add_fallback(gettext.translation(catalog, localedir=str(folder), languages=["ko"],
                                                        fallback=True))
        found[("general", catalog)] = translator
    return found


def init(app):
    app._page_language = {"en": None, "ko": None}  # filled on the first page, once every catalog is in


def switch(app, pagename, templatename, context, doctree):
    """Runs first (priority 100): the catalogs for this page, before the theme builds its strings."""
    state = app._page_language
    if state["en"] is None:
        state["en"] = {("general", name): locale.translators.get(("general", name)) for name in _catalog_dirs()}
        state["ko"] = _korean_translators()
    korean = pagename.startswith(KO_PREFIX)
    for key, translator in state["ko" if korean else "en"].items():
        if translator is None:
            locale.translators.pop(key, None)
        else:
            locale.translators[key] = translator
    env = app.builder.templates.environment
    main = locale.translators.get(("general", "sphinx"), gettext.NullTranslations())
    env.install_gettext_translations(main, newstyle=False)


def localize(app, pagename, templatename, context, doctree):
    """Runs late (850; before offline_assets rebuilds the script list at 900): lang, strings, order."""
    if pagename.startswith(KO_PREFIX):
        context["language"] = "ko"
        body = context.get("body", "")
        for en, ko in KO_STRINGS.items():
            body = body.replace(en, ko)
        context["body"] = body
        app.add_js_file(None, body=KO_TOGGLE_JS, priority=510)  # after togglebutton's own `let`s
        if (context.get("next") or {}).get("link", "").find("/en/") >= 0:
            context["next"] = None
    elif pagename.startswith(EN_PREFIX) and "/ko/" in (context.get("prev") or {}).get("link", ""):
        context["prev"] = None


def setup(app):
    app.connect("builder-inited", init)
    app.connect("html-page-context", switch, priority=100)
    app.connect("html-page-context", localize, priority=850)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
