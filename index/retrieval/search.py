"""From a question to ranked passages: query groups, term ids, BM25, and stating sentences.

A question becomes *groups* of alternative corpus terms (one per word the user wrote), so an
English word with several Japanese translations still counts as one term. BM25 retrieves a
pool of candidates; they are ordered by BM25 × coverage (the share of the question's idf
weight a passage holds), and -- when the question asks who / how many / where / when / why --
a passage holding a fitting answer span gets a bonus. What the verdict reads (index.verdict)
is coverage and the stating sentence, not a raw score: raw BM25 scores are not comparable
across languages and question lengths, but shares of the question's weight are.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from index.language.english import TermGroup, english_groups
from index.language.names import NameIndex
from index.language.qtype import AnswerReader, QType, detect, expected_units
from index.language.tokenize import tokenize
from index.language.translate_select import Passages
from index.language.vocabulary import VocabularyIndex
from index.retrieval.bm25 import Postings, idf_of
from index.settings import DEFAULT, Settings

MAX_GROUPS = 64  # a pasted essay is searched by its first 64 distinct words
KNOWN_WEIGHT = 1e-6  # the least weight of a word the documents contain

# How a Japanese question asks, not what it asks about: 何人 / どれくらい / どうやって, and
# the chat fillers of Discord (そもそも, マジ, ガチ, 結局). Left in, 何 and 人 become terms
# that half the documents hold, and the passages about the question's real words sink.
_QUESTION_TALK = re.compile(
    r"何(?:人|名|件|台|機|カ国|か国|ヶ国|個|割|倍|回|両|隻|発|年間|日間|年|月|日|時|歳|才)?"
    r"|どう(?:いう|やって|して|なって)?|どんだけ|どれ(?:くらい|ぐらい|だけ)|どの(?:くらい|ぐらい)"
    r"|そもそも|マジ|まじ|ガチ|がち|結局|ぶっちゃけ|ってこと|って"
)


@dataclass
class QueryPlan:
    groups: list[TermGroup]
    translations: dict[str, list[str]] = field(default_factory=dict)
    qtype: QType | None = None
    units: re.Pattern[str] | None = None  # what a how-many answer must carry (人, 歳...)

    @property
    def group_of(self) -> dict[str, int]:
        """Corpus term -> index of the group it counts for (first group wins)."""
        out: dict[str, int] = {}
        for i, g in enumerate(self.groups):
            for t in g.terms:
                out.setdefault(t, i)
        return out


def plan_query(
    question: str,
    has_term: Callable[[str], bool],
    names: NameIndex | None = None,
    corpus: Passages | None = None,
    vocab: VocabularyIndex | None = None,
) -> QueryPlan:
    """Tokenize the question, translate its English words, and detect what it asks for.

    `corpus` (the index's passages) lets the translation prefer senses that go together;
    `vocab` (the index's terms) finds what a word the index lacks stands for."""
    terms = list(dict.fromkeys(tokenize(_QUESTION_TALK.sub(" ", question))))[: MAX_GROUPS * 2]
    groups, translations = english_groups(
        terms, has_term, names, text=question, corpus=corpus, vocab=vocab
    )
    qtype = detect(question)
    units = expected_units(question) if qtype is QType.HOW_MANY else None
    return QueryPlan(groups[:MAX_GROUPS], translations, qtype, units)


@dataclass(frozen=True)
class Candidate:
    index: int  # passage index in the generation
    bm25: float  # rank_bm25-equal score
    coverage: float  # share of the question's idf weight this passage holds
    bonus: float = 0.0  # Settings.answer_bonus, for typed questions
    answers: bool = False  # the passage's sentences were read (prefer_answers)
    support: float = 0.0  # share of the question's weight in its best stating sentence
    answering: int = 0  # sentences holding an answer of the asked type
    sentence: tuple[int, int] | None = None  # the best stating sentence, in the passage
    span: tuple[int, int] | None = None  # the answer span in it, for typed questions
    similarity: float | None = None  # cosine of question and passage vectors, if re-ranked
    mixed: float | None = None  # BM25 and similarity blended, if re-ranked

    @property
    def fused(self) -> float:
        """BM25 (or its blend with similarity) scaled by coverage -- like Lucene's classic
        coordination factor, but idf-weighted -- with a bonus for a fitting answer."""
        base = self.bm25 if self.mixed is None else self.mixed
        return base * self.coverage * (1 + self.bonus * self.support)


@dataclass
class Ranked:
    """The candidate pool, best first, with what excerpts and the decline rule need."""

    pool: list[Candidate]
    group_ids: list[list[int]]  # term ids per group (unknown terms dropped)
    weights: list[float]  # idf per group (0 when the group matches nothing)
    total_weight: float = 0.0  # the question's weight, unknown words included

    @property
    def best_coverage(self) -> float:
        return max((c.coverage for c in self.pool), default=0.0)

    @property
    def best_similarity(self) -> float | None:
        sims = [c.similarity for c in self.pool if c.similarity is not None]
        return max(sims) if sims else None


def rank(
    postings: Postings, group_ids: list[list[int]], want: int, settings: Settings = DEFAULT
) -> Ranked:
    """BM25's top candidates; the first `settings.rerank_pool` re-ordered by fused score.

    Only the head is re-ordered, and the rest keep BM25's order, so a page of `/search`
    lists the same passages whatever page size was asked before it.
    """
    # A term in exactly half the passages has idf 0 in BM25Okapi; it still counts a little
    # towards coverage, or a one-word question about it would cover nothing.
    dfs = [_group_df(postings, ids) for ids in group_ids]
    weights = [max(postings.group_idf(df), KNOWN_WEIGHT) if df else 0.0 for df in dfs]
    # A word the documents never use is maximally specific: it weighs as much as the rarest
    # term could, so a passage that matches only the question's generic words covers little.
    unseen = float(idf_of(0, postings.n)) if postings.n else 0.0
    total = sum(w if ids and w > 0 else unseen for ids, w in zip(group_ids, weights, strict=True))
    hits = postings.top_k(group_ids, max(settings.rerank_pool, want))
    if not hits:
        return Ranked([], group_ids, weights, total)
    indexes = np.array([i for i, _ in hits], dtype=np.int64)
    covered = np.zeros(len(hits))
    for ids, w in zip(group_ids, weights, strict=True):
        covered += w * _holds_any(postings, ids, indexes)
    candidates = [
        Candidate(i, score, float(c) / total if total else 0.0)
        for (i, score), c in zip(hits, covered, strict=True)
    ]
    head, rest = candidates[: settings.rerank_pool], candidates[settings.rerank_pool :]
    return Ranked(_ordered(head) + rest, group_ids, weights, total)


def rerank(ranked: Ranked, similarities: np.ndarray, weight: float) -> None:
    """Blend BM25 with the question-passage similarity and re-order the head of the pool
    (as many candidates as there are similarities).

    Both are rescaled within the pool (BM25 by its maximum, similarity min-max), because
    neither has a fixed range: the blend then says how the pool's candidates compare.
    """
    if not ranked.pool:
        return
    head, rest = ranked.pool[: len(similarities)], ranked.pool[len(similarities) :]
    bm25 = np.array([c.bm25 for c in head])
    top = bm25.max() if bm25.max() > 0 else 1.0
    lo, hi = float(similarities.min()), float(similarities.max())
    spread = (similarities - lo) / (hi - lo) if hi > lo else np.ones_like(similarities)
    ranked.pool = (
        _ordered(
            [
                replace(
                    c, similarity=float(sim), mixed=(1 - weight) * (b / top) + weight * float(sp)
                )
                for c, b, sim, sp in zip(head, bm25, similarities, spread, strict=True)
            ]
        )
        + rest
    )


def _ordered(candidates: list[Candidate]) -> list[Candidate]:
    return sorted(candidates, key=lambda c: (-c.fused, -c.bm25, c.index))


def prefer_answers(
    ranked: Ranked, texts: dict[int, str], plan: QueryPlan, settings: Settings = DEFAULT
) -> None:
    """Read the sentences of the pool's head for the one that best states the answer, and
    re-order the head when the question asks for a type of answer.

    `support` is the share of the question's weight held by the best stating sentence. For a
    typed question that sentence must also hold a fitting answer span: "who is Azerbaijan's
    defense minister?" is not supported by a sentence naming Aliyev unless that sentence is
    about the defense minister too. The sentence before counts as well, as a Japanese
    sentence often leaves out the subject the previous one named
    (「CSTO平和維持軍は…。総勢約2,600人の軍人で構成」).
    """
    reader = AnswerReader(plan.qtype, plan.units, plan.group_of)
    weight = dict(enumerate(ranked.weights))
    total = ranked.total_weight or 1.0
    bonus = settings.answer_bonus if reader.typed else 0.0

    def share(groups: set[int]) -> float:
        return sum(weight[g] for g in groups) / total

    def checked(c: Candidate) -> Candidate:
        sentences = reader.sentences(texts[c.index])
        best = (0.0, None, None)
        answering = 0
        for i, (sentence, spans, groups) in enumerate(sentences):
            if reader.typed:
                if not spans:
                    continue
                answering += 1
                held = share(groups | (sentences[i - 1][2] if i else set()))
            else:
                held = share(groups)
            if held > best[0]:
                best = (held, sentence, spans[0] if spans else None)
        support, sentence, span = best
        return replace(
            c,
            bonus=bonus,
            answers=True,
            support=support,
            answering=answering,
            sentence=sentence,
            span=span,
        )

    # An untyped question's order does not depend on its sentences (no bonus), and the
    # verdict reads only the shown passages: read those alone.
    read = settings.rerank_pool if reader.typed else settings.shown
    head, rest = ranked.pool[:read], ranked.pool[read:]
    ranked.pool = (
        _ordered([checked(c) for c in head if c.index in texts])
        + [c for c in head if c.index not in texts]
        + rest
    )


def answer_finder(plan: QueryPlan) -> Callable[[str], list[tuple[int, int]]]:
    """Answer spans in a text that are not just the question's own words: the title 議長
    does not answer "who chairs CSTO?", but ニコル・パシヤン首相 does."""
    reader = AnswerReader(plan.qtype, plan.units, plan.group_of)
    if not reader.typed:
        return lambda text: []
    return lambda text: [span for _, spans, _ in reader.sentences(text) for span in spans]


def count_matches(postings: Postings, group_ids: list[list[int]]) -> int:
    """How many passages hold at least one of the question's terms (for result paging)."""
    return len(postings.group_docs([t for g in group_ids for t in g]))


def _group_df(postings: Postings, ids: list[int]) -> int:
    return postings.group_df(ids) if ids else 0


def _holds_any(postings: Postings, ids: list[int], passages: np.ndarray) -> np.ndarray:
    """Which of `passages` hold at least one of the terms `ids`."""
    return postings.holds_any(ids, passages)
