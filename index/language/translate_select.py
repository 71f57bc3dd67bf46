"""Corpus-aware choice among an English word's translations.

A dictionary lists every sense of a word: "talks" is 話 as well as 協議, "deputy" is 代理
and 副 but in "deputy defense minister" the corpus writes 国防次官, "area" is 地域 but "the
area around Lake Sev" is セブ湖周辺. Which sense a question means shows in its other words,
and a corpus shows which translations go together. This is the co-occurrence remedy of
dictionary-based cross-language retrieval (Ballesteros & Croft 1998; Gao et al. 2001),
done per question on the index's own postings:

    lift(c) = Σ_j w_j · log(share_j(c) / chance_j)  /  Σ_j w_j

for a candidate translation c of one word, over the question's other words j, where
share_j(c) is the part of c's passages that hold any of word j's terms (shrunk towards
chance, so a candidate seen once is weak evidence), chance_j the part of all passages that
do, and w_j the word's idf, so that a word found in most passages says little.

The corpus only adds: a candidate the dictionary ranked too low joins the word's
alternatives, first, when its lift is clearly positive and above every chosen
alternative's (`revise`). Dropping a chosen alternative for poor company was tried and
cost more than it gained (see `revise`).

The cost is one pass over the postings of the question's terms (long posting lists of a
candidate are sampled), well under a millisecond on the bundled corpus.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from typing import NamedTuple, Protocol

import numpy as np

# Association (mean log-lift, see `cohesion`) from which a candidate the dictionary ranked
# too low is taken: it meets the question's other words at twice the chance rate.
ADD = math.log(2)
# Passages in which such a candidate must meet another word: once is chance in a small corpus.
MIN_SUPPORT = 2
# Pseudo-passages of prior evidence in a candidate's share (see `cohesion`).
ALPHA = 2.0
# Postings of a candidate longer than this are sampled evenly (the share is an estimate).
SAMPLE = 4096
MAX_SLOTS = 64  # words that can serve as context (one bit each)

_EMPTY = np.zeros(0, dtype=np.int32)


class Passages(Protocol):
    """What the selection needs from an index: its size and a term's passages."""

    n: int  # live passages (for frequencies)
    slots: int  # passage numbers are below this (an index may keep deleted passages' slots)

    def passages(self, term: str) -> np.ndarray:
        """Indices of the passages holding `term`, ascending (empty if it is unknown)."""
        ...


class IndexPassages:
    """`Passages` over one index generation's postings and vocabulary."""

    def __init__(self, postings, vocabulary: Mapping[str, int]) -> None:
        self.n = int(postings.n)
        self.slots = int(postings.slots)
        self._postings = postings
        self._vocabulary = vocabulary

    def passages(self, term: str) -> np.ndarray:
        t = self._vocabulary.get(term)
        if t is None:
            return _EMPTY
        return self._postings.term_docs(t)


class ListPassages:
    """`Passages` from a term -> passage-index mapping (tests, small tools)."""

    def __init__(self, postings: Mapping[str, Sequence[int]], n: int) -> None:
        self.n = n
        self.slots = n
        self._lists = {t: np.array(sorted(set(d)), dtype=np.int32) for t, d in postings.items()}

    def passages(self, term: str) -> np.ndarray:
        return self._lists.get(term, _EMPTY)

    @classmethod
    def from_texts(cls, texts: Sequence[Sequence[str]]) -> ListPassages:
        """From tokenized passages (lists of terms)."""
        postings: dict[str, list[int]] = {}
        for i, terms in enumerate(texts):
            for t in set(terms):
                postings.setdefault(t, []).append(i)
        return cls(postings, len(texts))


_scratch = threading.local()


def _marks(n: int) -> np.ndarray:
    """A zeroed uint64 array of n entries, reused per thread (callers zero what they set)."""
    buf = getattr(_scratch, "marks", None)
    if buf is None or len(buf) != n:
        buf = np.zeros(n, dtype=np.uint64)
        _scratch.marks = buf
    return buf


def idf(df: int, n: int) -> float:
    """BM25's idf, at least 0."""
    if df <= 0 or n <= 0:
        return 0.0
    return max(0.0, math.log((n - df + 0.5) / (df + 0.5)))


class Association(NamedTuple):
    """How a candidate translation keeps company with the question's other words."""

    lift: float  # idf-weighted mean log(share / chance) over the other words (0: chance)
    support: int  # its passages that hold at least one other word
    df: int  # its passages


_NONE = Association(0.0, 0, 0)


# Longer than most functions here on purpose: the bitmap of which passages hold which word
# is built once and read by every candidate, and splitting the loops would pass it around
# for no gain in clarity.
def cohesion(
    candidates: Sequence[Sequence[str]],
    context: Sequence[Sequence[str]],
    corpus: Passages,
) -> list[list[Association] | None]:
    """How much each candidate of each word keeps company with the question's other words.

    `candidates[i]` are the alternatives to judge for word i (may be empty) and `context[i]`
    the terms that stand for word i when it is another word's context (its first choices).
    A candidate's lift is the idf-weighted mean over the other words j of
    log(share_j / chance_j), where share_j is the part of the candidate's passages that
    hold word j (shrunk towards chance by ALPHA pseudo-passages, so a candidate seen once
    is weak evidence) and chance_j the part of all passages that do: positive means the
    candidate meets the other words more often than chance. None for a word with nothing
    to judge (fewer than two candidates) or no other word that carries weight.
    """
    out: list[list[Association] | None] = [None] * len(candidates)
    n = corpus.n
    if n <= 0 or not any(len(c) >= 2 for c in candidates):
        return out
    slots = min(len(context), MAX_SLOTS)
    weights = np.zeros(slots)
    chance = np.zeros(slots)
    marks = _marks(corpus.slots)
    marked: list[np.ndarray] = []
    try:
        for j in range(slots):
            bit = np.uint64(1 << j)
            df = 0
            for term in dict.fromkeys(context[j]):
                docs = corpus.passages(term)
                if not len(docs):
                    continue
                df += int(np.count_nonzero((marks[docs] & bit) == 0))
                marks[docs] |= bit
                marked.append(docs)
            weights[j] = idf(df, n)
            chance[j] = df / n
        shifts = np.arange(slots, dtype=np.uint64)
        for i, cands in enumerate(candidates):
            if len(cands) < 2:
                continue
            found = []
            for term in cands:
                # Word i itself, and a word the candidate stands for too, are no evidence.
                w = np.array([0.0 if term in context[j] else weights[j] for j in range(slots)])
                if i < slots:
                    w[i] = 0.0
                total = w.sum()
                docs = corpus.passages(term)
                df = len(docs)
                if total <= 0 or not df:
                    found.append(_NONE._replace(df=df))
                    continue
                if df > SAMPLE:
                    docs = docs[:: -(-df // SAMPLE)]
                bits = (marks[docs][:, None] >> shifts) & np.uint64(1)
                hits = bits.sum(axis=0)
                share = (hits + ALPHA * chance) / (len(docs) + ALPHA)
                lift = np.log(
                    share / np.where(chance > 0, chance, 1.0), where=w > 0, out=np.zeros(slots)
                )
                support = int(np.count_nonzero(bits[:, w > 0].any(axis=1)))
                found.append(Association(float(lift @ w) / float(total), support, df))
            if any(a.support for a in found):
                out[i] = found
    finally:
        for docs in marked:
            marks[docs] = 0
    return out


def revise(
    selected: Sequence[str], candidates: Sequence[str], found: Sequence[Association]
) -> list[str]:
    """A word's alternatives after looking at the corpus: the dictionary's choice plus, in
    front, pool candidates the corpus clearly prefers.

    `selected` is the dictionary's choice (best first), `candidates` the wider pool it was
    chosen from and `found` their `cohesion`. A candidate the dictionary ranked too low is
    taken when it meets the other words much more often than chance (lift at least ADD) and
    more than every chosen alternative does, in at least MIN_SUPPORT passages (one meeting
    is chance in a small corpus) -- unless it is also far more frequent than the chosen
    ones (日 for "Japan" meets every dated passage: a lower-ranked sense that common is a
    generic one).

    Nothing chosen is dropped for keeping poor company: on the bundled corpus that cost
    main senses (部隊 for "troops" where the other words were rare) and, through lower
    coverage, declined an answerable question, for no gain.
    """
    of = dict(zip(candidates, found, strict=True))
    chosen = [of[t] for t in selected if t in of]
    if not chosen:
        return list(selected)
    best = max(a.lift for a in chosen)
    most = max(a.df for a in chosen)
    added = sorted(
        (
            t
            for t, a in of.items()
            if t not in selected
            and a.lift >= ADD
            and a.lift > best
            and a.support >= MIN_SUPPORT
            and a.df <= max(2 * most, 2)
        ),
        key=lambda t: -of[t].lift,
    )
    return added + list(selected)
