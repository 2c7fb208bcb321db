"""Mark the Korean pages <html lang="ko">.

Sphinx has one `language` per build (see _config.yml); the pages under chapters/ko/ are still
Korean, and screen readers, hyphenation and font choice follow the lang attribute.
"""


def set_lang(app, pagename, templatename, context, doctree):
    if pagename.startswith("chapters/ko/"):
        context["language"] = "ko"


def setup(app):
    app.connect("html-page-context", set_lang)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
