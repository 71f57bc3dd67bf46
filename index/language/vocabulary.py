"""Finding corpus terms by a piece of them: the fallback for a question word the index lacks.

Elasticsearch with kuromoji keeps an n-gram sub-field, and Groonga a bigram tokenizer, so
that a name is found even where the morphological analyser cut it differently. Here the
same job is done on the vocabulary instead of the documents: a question term the index does
not know is looked up as a substring of the terms it does know (カザフ -> カザフスタン,
アゼル -> アゼルバイジャン), and the matching terms then count as one group in BM25 like an
English word's translations. The postings stay those of whole terms, so scores remain
rank_bm25's over the terms actually searched.

The index is one string of all terms, searched with `str.find`: at a million passages the
vocabulary is a few megabytes and a look-up a few milliseconds, paid only by questions that
hold an unknown word.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable

SEPARATOR = "\n"
MIN_FRAGMENT = 2  # a single character is in too many terms to stand for any of them
MAX_MATCHES = 4  # terms a fragment may stand for (most similar first)
_KATAKANA = re.compile(r"[\u30a1-\u30fa\u30fc]{2,}\Z")


class VocabularyIndex:
    """The corpus terms as one searchable string."""

    def __init__(self, terms: Iterable[str]) -> None:
        ordered = sorted({t for t in terms if t and SEPARATOR not in t})
        self._text = SEPARATOR + SEPARATOR.join(ordered) + SEPARATOR
        self._starts: list[int] = []
        pos = 1
        for term in ordered:
            self._starts.append(pos)
            pos += len(term) + 1
        self._terms = ordered

    def __len__(self) -> int:
        return len(self._terms)

    def containing(self, fragment: str, limit: int = MAX_MATCHES) -> list[str]:
        """Terms that hold `fragment`, those starting with it first, then the shortest.

        A shortened name is usually the start of the full one (カザフ, アゼル); the shortest
        holder of a fragment is the closest to it (アゼル -> アゼルバイジャン before
        アゼルバイジャン人民戦線)."""
        if len(fragment) < MIN_FRAGMENT or SEPARATOR in fragment:
            return []
        found: dict[str, None] = {}
        pos = self._text.find(fragment)
        while pos != -1:
            i = bisect.bisect_right(self._starts, pos) - 1
            term = self._terms[i]
            if term != fragment:
                found[term] = None
            pos = self._text.find(fragment, self._starts[i] + len(term))
        ranked = sorted(found, key=lambda t: (not t.startswith(fragment), len(t), t))
        return ranked[:limit]

    def extensions(self, term: str, limit: int = MAX_MATCHES) -> list[str]:
        """Longer katakana terms that start with a katakana `term` (カザフ -> カザフスタン):
        people shorten names, and the documents write them in full. The terms are sorted,
        so those starting with `term` are one run found by bisection: this runs for every
        katakana word of every question, and must not scan the vocabulary."""
        if not _KATAKANA.match(term) or len(term) < 3:
            return []
        i = bisect.bisect_right(self._terms, term)
        found = []
        while i < len(self._terms) and self._terms[i].startswith(term):
            found.append(self._terms[i])
            i += 1
            if len(found) > 64:  # a prefix of that many terms is no name's short form
                return []
        return sorted(found, key=lambda t: (len(t), t))[:limit]
