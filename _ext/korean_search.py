"""Korean full-text search for the HTML book.

Sphinx has no Korean search language; with `language: ko` it silently uses the English splitter,
which indexes "결과는" whole, so a search for "결과" finds nothing. Korean attaches particles and
endings to the end of a word, so indexing every prefix of each Hangul run lets the stem match
(캐시는 → 캐, 캐시, 캐시는). Latin words keep the English stemmer, so English search is unchanged.
"""
import re

from sphinx.search import languages
from sphinx.search.en import SearchEnglish

# Runs of Hangul syllables, or runs of other word characters ("KV캐시는" -> "KV", "캐시는").
_RUN = re.compile(r"[\uac00-\ud7a3]+|[^\W\uac00-\ud7a3]+")
_HANGUL = re.compile(r"[\uac00-\ud7a3]")


class SearchKorean(SearchEnglish):
    lang = "ko"
    language_name = "Korean"

    def split(self, input: str) -> list[str]:
        words = []
        for token in super().split(input):
            for run in _RUN.findall(token):
                if _HANGUL.match(run):
                    words.extend(run[:i] for i in range(1, len(run) + 1))
                else:
                    words.append(run)
        return words


def setup(app):
    # The book is one Sphinx build with one `language` (en, see _config.yml) and Korean pages:
    # both codes get the splitter that handles Hangul and Latin text.
    languages["ko"] = languages["en"] = SearchKorean
    return {"parallel_read_safe": True, "parallel_write_safe": True}
