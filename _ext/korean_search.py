"""Korean full-text search for the HTML book.

Sphinx has no Korean search language; with `language: ko` it silently uses the English splitter,
which indexes "결과는" whole, so a search for "결과" finds nothing. Korean attaches particles and
endings to the end of a word, so indexing every prefix of each Hangul run lets the stem match
(캐시는 → 캐, 캐시, 캐시는). Latin words keep the English stemmer, so English search is unchanged.

The query side: a reader types the word as it reads in a sentence, "양자화는", which is indexed
only where that exact form occurs. The search page's stemmer (`js_stemmer_code`, which Sphinx puts
in language_data.js) therefore strips one trailing particle or ending from a Hangul query word
(양자화는 → 양자화), and the prefix index finds every form of the stem.
"""
import json
import re

from sphinx.search import languages
from sphinx.search.en import SearchEnglish

# Runs of Hangul syllables, or runs of other word characters ("KV캐시는" -> "KV", "캐시는").
_RUN = re.compile(r"[\uac00-\ud7a3]+|[^\W\uac00-\ud7a3]+")
_HANGUL = re.compile(r"[\uac00-\ud7a3]")


# Particles and endings that follow a noun, longest first. A one-syllable one is stripped only from
# a word of three or more syllables (속도 keeps its 도), so a short noun is not cut to one syllable.
PARTICLES = ("에서는", "으로는", "이라는", "에서", "으로", "에게", "까지", "부터", "처럼", "보다", "마다",
             "이나", "라는", "하는", "하고", "해도", "하면", "하지", "입니다", "이다", "와", "과",
             "은", "는", "이", "가", "을", "를", "의", "에", "도", "만", "로")

KOREAN_STEMMER_JS = """
var PorterStemmer = Stemmer;
var KOREAN_PARTICLES = %s;
Stemmer = function () {
  var porter = new PorterStemmer();
  this.stemWord = function (word) {
    if (!/^[\\uac00-\\ud7a3]+$/.test(word)) return porter.stemWord(word);
    for (var i = 0; i < KOREAN_PARTICLES.length; i++) {
      var p = KOREAN_PARTICLES[i], rest = word.length - p.length;
      if (word.endsWith(p) && rest >= (p.length === 1 ? 2 : 1)) return word.slice(0, rest);
    }
    return word;
  };
};
"""


class SearchKorean(SearchEnglish):
    lang = "ko"
    language_name = "Korean"
    js_stemmer_code = SearchEnglish.js_stemmer_code + KOREAN_STEMMER_JS % json.dumps(PARTICLES, ensure_ascii=False)

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
