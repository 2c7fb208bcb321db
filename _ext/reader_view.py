"""What the theme leaves to the book: layout for phones and Korean, frozen widgets, search snippets.

- `_assets/book/book.css` on every page: charts and tables inside the text column, inline code
  that wraps, keep-all line breaking on Korean pages, display math that scrolls instead of being
  clipped, and the look of the exercise answers (`<details class="vk-answer">`, tools/chapters.py).
- Widget snapshots: the HTML book has no kernel, so a calculator's controls cannot recompute.
  Each widget output gets a visible note saying so (in the page's language) and its controls are
  disabled (`_assets/book/book.js`), instead of a live-looking form that silently does nothing.
- The search page takes result snippets from the chapter text (`_assets/book/search.js`).
"""
from __future__ import annotations

import re

WIDGET_OUTPUT = re.compile(r'<div class="cell_output docutils container">\s*'
                           r'(?=<script type="application/vnd.jupyter.widget-view\+json">)')
SNAPSHOT_NOTE = {
    "ko": "정지된 화면입니다. HTML 책에는 커널이 없어서 이 계산기는 다시 계산하지 않습니다. 값을 바꿔 보려면 "
          "이 장을 Colab이나 Binder(위쪽 로켓 버튼)에서 여세요.",
    "en": "A frozen snapshot: the HTML book has no kernel, so this calculator does not recompute. To change "
          "the values, open this chapter in Colab or Binder (the rocket button above).",
}


def add_assets(app, pagename, templatename, context, doctree):
    app.add_css_file("book/book.css", priority=900)
    body = context.get("body", "")
    if WIDGET_OUTPUT.search(body):
        lang = "ko" if pagename.startswith("chapters/ko/") else "en"
        note = f'<p class="vk-snapshot-note" role="note">{SNAPSHOT_NOTE[lang]}</p>'
        context["body"] = WIDGET_OUTPUT.sub(
            lambda m: '<div class="cell_output docutils container vk-frozen">' + note, body)
        app.add_js_file("book/book.js", priority=800)
    if pagename == "search":
        app.add_js_file("book/search.js", priority=800)


def setup(app):
    # Before offline_assets (900), which rebuilds the page's script list.
    app.connect("html-page-context", add_assets, priority=800)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
