"""From a question to ranked passages: query groups, term ids, BM25, and the decline rule.

A question becomes *groups* of alternative corpus terms (one per word the user wrote), so an
English word with several Japanese translations still counts as one term. The rule for
"nothing relevant" is coverage, not a raw score: raw BM25 scores are not comparable across
languages and question lengths, but the share of the question's idf weight that the best
passage holds is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from index.bm25 import Postings, idf_of
from index.tokenize import tokenize

MAX_GROUPS = 64  # a pasted essay is searched by its first 64 distinct words

# The best passage must hold at least this share of the question's idf weight ...
MIN_COVERAGE = 0.2


@dataclass(frozen=True)
class QueryGroup:
    label: str  # what the user wrote (a corpus term, or an English word)
    terms: tuple[str, ...]  # corpus terms that count as this word
    source: str = "term"  # "term" | "jmdict" | "name" | "latin"


@dataclass
class QueryPlan:
    groups: list[QueryGroup]
    translations: dict[str, list[str]] = field(default_factory=dict)


def plan_query(question: str, has_term: Callable[[str], bool], english=None) -> QueryPlan:
    """Tokenize the question and group its terms; `english` (if given) translates English
    words into groups of Japanese corpus terms."""
    terms = list(dict.fromkeys(tokenize(question)))[: MAX_GROUPS * 2]
    if english is not None:
        groups, translations = english(terms, has_term)
    else:
        groups = [QueryGroup(t, (t,)) for t in terms]
        translations = {}
    return QueryPlan(groups=groups[:MAX_GROUPS], translations=translations)


RERANK_POOL = 20  # BM25 candidates re-ordered by coverage


@dataclass(frozen=True)
class Candidate:
    index: int  # passage index in the generation
    bm25: float  # rank_bm25-equal score
    coverage: float  # share of the question's idf weight this passage holds

    @property
    def fused(self) -> float:
        """BM25 scaled by coverage: a passage holding every word of the question beats one
        that repeats a single word, like Lucene's classic coordination factor but idf-weighted."""
        return self.bm25 * self.coverage


@dataclass
class Ranked:
    """BM25's result for one question, with what the decline rule needs."""

    hits: list[Candidate]
    group_ids: list[list[int]]  # term ids per group (unknown terms dropped)
    weights: list[float]  # idf per group (0 when the group matches nothing)
    best_coverage: float  # over all candidates, not just this page


def rank(postings: Postings, group_ids: list[list[int]], k: int, offset: int = 0) -> Ranked:
    """Top BM25 candidates, re-ordered by fused score; `offset` pages through them."""
    weights = [postings.group_idf(_group_df(postings, ids)) for ids in group_ids]
    # A word the documents never use is maximally specific: it weighs as much as the rarest
    # term could, so a passage that matches only the question's generic words covers little.
    unseen = float(idf_of(0, postings.n)) if postings.n else 0.0
    total = sum(w if ids and w > 0 else unseen for ids, w in zip(group_ids, weights, strict=True))
    pool = max(RERANK_POOL, -(-(k + offset) // RERANK_POOL) * RERANK_POOL)
    candidates = []
    for index, score in postings.top_k(group_ids, pool):
        covered = sum(
            w for ids, w in zip(group_ids, weights, strict=True) if _holds(postings, ids, index)
        )
        candidates.append(Candidate(index, score, covered / total if total else 0.0))
    candidates.sort(key=lambda c: (-c.fused, -c.bm25, c.index))
    return Ranked(
        hits=candidates[offset : offset + k],
        group_ids=group_ids,
        weights=weights,
        best_coverage=max((c.coverage for c in candidates), default=0.0),
    )


def _group_df(postings: Postings, ids: list[int]) -> int:
    if not ids:
        return 0
    if len(ids) == 1:
        return postings.df(ids[0])
    docs = [postings.docs[postings.offsets[t] : postings.offsets[t + 1]] for t in ids]
    return len(np.unique(np.concatenate(docs))) if docs else 0


def _holds(postings: Postings, ids: list[int], passage: int) -> bool:
    for t in ids:
        docs = postings.docs[postings.offsets[t] : postings.offsets[t + 1]]
        i = int(np.searchsorted(docs, passage))
        if i < len(docs) and docs[i] == passage:
            return True
    return False
