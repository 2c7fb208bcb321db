"""Small helpers the book's chapters use; nothing here computes memory.

`glue` works the same in the book build, in nbval, and in a bare Jupyter or Colab kernel where
myst-nb (and so Sphinx) is not installed. Explained in chapters/README.md.
"""
from __future__ import annotations

LANGS = ("ko", "en")


def glue(name: str, value: object, display: bool = False) -> object:
    """Store `value` under `name` for `{glue:text}` in the prose; show it only if `display`.

    Uses myst_nb.glue when myst-nb is importable (the book build reads the glued output from the
    stored notebook). Elsewhere (Colab, Binder without myst-nb) it falls back to IPython's display,
    so a chapter runs unchanged. Returns `value`, so a cell can glue and use it in one line.
    """
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        if display:
            from IPython.display import display as show

            show(value)
    else:
        myst_glue(name, value, display=display)
    return value


def glue_all(values: dict[str, object]) -> None:
    """Glue every `name: value` of `values` at once; shows and returns nothing (a cell may end with it).

    One call after a computation names the numbers the prose uses, instead of a line of plumbing
    per number: `glue_all({"kv_8k": fmt_bytes(kv, "GB"), "heads": spec.num_heads})`.
    """
    for name, value in values.items():
        glue(name, value)


def localized(table, lang: str):
    """`table` (a pandas DataFrame) with its column and row headings shown in `lang`.

    A heading that is a label key of `vramkit.units.LABELS` ("total"), or an English heading whose
    snake_case form is one ("share of bytes" -> share_of_bytes), becomes that label; others (model
    names, formats, numbers) stay. The computation keeps its own keys; only the shown table changes.
    """
    import re

    from .units import LABELS, label

    check_lang(lang)

    def show(key):
        if not isinstance(key, str):
            return key
        for candidate in (key, re.sub(r"[^a-z0-9]+", "_", key.lower()).strip("_")):
            if candidate in LABELS:
                return label(candidate, lang)
        return key

    out = table.rename(columns=show, index=show)
    out.columns.name, out.index.name = show(out.columns.name), show(out.index.name)
    return out


def check_lang(lang: str) -> str:
    """`lang` if it is "ko" or "en", else a VramkitError with a did-you-mean."""
    if lang not in LANGS:
        from .errors import unknown

        raise unknown("language", lang, LANGS)
    return lang
