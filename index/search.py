"""From a question to ranked passages: query groups, term ids, BM25, and the decline rule.

A question becomes *groups* of alternative corpus terms (one per word the user wrote), so an
English word with several Japanese translations still counts as one term. BM25 retrieves a
pool of candidates; they are ordered by BM25 × coverage (the share of the question's idf
weight a passage holds), and -- when the question asks who / how many / where / when / why --
a passage holding a fitting answer span gets a bonus. The rule for "nothing relevant" is
coverage, not a raw score: raw BM25 scores are not comparable across languages and question
lengths, but coverage is.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from index.bm25 import Postings, idf_of
from index.english import TermGroup, english_groups
from index.names import NameIndex
from index.passages import split_sentences
from index.qtype import _TITLE as _BARE_TITLE
from index.qtype import QType, answer_spans, clause_around, detect, expected_units, is_title
from index.tokenize import tokenize, tokenize_spans
from index.translate_select import Passages

MAX_GROUPS = 64  # a pasted essay is searched by its first 64 distinct words
# Tuned with scripts/tune_rerank.py on the dev split of tests/data/questions.jsonl; the
# README reports them on the other split and on two held-out sets.
RERANK_POOL = 10  # the head of the candidates re-ordered by similarity and answer type
MIN_COVERAGE = 0.2  # the best passage must hold this share of the question's weight ...
MIN_COVERAGE_RERANKED = 0.0  # ... or this share, when similarity is there as a second check
ANSWER_BONUS = 0.3  # fused score × (1 + bonus) for a passage holding a fitting answer span
KNOWN_WEIGHT = 1e-6  # the least weight of a word the documents contain
RERANK_WEIGHT = 0.5  # share of the question-passage similarity in the re-ranked score
# Below it, no candidate is about the question; off, as the sentence check below catches more.
MIN_SIMILARITY = 0.0
# A who/how-many/where/when/why answer must sit in a sentence holding this share of the
# question's weight (see the trade-off that scripts/tune_rerank.py prints).
MIN_SUPPORT = 0.1
MIN_SENTENCE_SIMILARITY = 0.2  # below it, no sentence of the shown passages is about it
# Decline a who/how-many/where/when/why question when no sentence of the shown passages
# holds an answer of that type (a person, a number with a fitting unit, a place, a date).
REQUIRE_ANSWER = True


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
) -> QueryPlan:
    """Tokenize the question, translate its English words, and detect what it asks for.

    `corpus` (the index's passages) lets the translation prefer senses that go together."""
    terms = list(dict.fromkeys(tokenize(question)))[: MAX_GROUPS * 2]
    groups, translations = english_groups(terms, has_term, names, text=question, corpus=corpus)
    qtype = detect(question)
    units = expected_units(question) if qtype is QType.HOW_MANY else None
    return QueryPlan(groups[:MAX_GROUPS], translations, qtype, units)


@dataclass(frozen=True)
class Candidate:
    index: int  # passage index in the generation
    bm25: float  # rank_bm25-equal score
    coverage: float  # share of the question's idf weight this passage holds
    answers: bool = False  # the question's answer type was checked for this passage
    support: float = 0.0  # share of the question's weight in its best answering sentence
    answering: int = 0  # sentences holding an answer of the asked type
    similarity: float | None = None  # cosine of question and passage vectors, if re-ranked
    mixed: float | None = None  # BM25 and similarity blended, if re-ranked

    @property
    def fused(self) -> float:
        """BM25 (or its blend with similarity) scaled by coverage -- like Lucene's classic
        coordination factor, but idf-weighted -- with a bonus for a fitting answer."""
        base = self.bm25 if self.mixed is None else self.mixed
        return base * self.coverage * (1 + ANSWER_BONUS * self.support)


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


def decline_reason(
    ranked: Ranked,
    plan: QueryPlan,
    min_coverage: float,
    min_similarity: float = MIN_SIMILARITY,
    min_support: float = MIN_SUPPORT,
    shown: int = 3,
    *,
    sentence_similarity: float | None = None,
    min_sentence_similarity: float = MIN_SENTENCE_SIMILARITY,
    require_answer: bool = REQUIRE_ANSWER,
) -> str | None:
    """Why nothing should be shown, or None.

    Each signal alone is fooled, so several must agree that something answers: coverage
    (the best passage holds enough of the question's weight), similarity (something in the
    pool, and a sentence of the shown passages, is about the question), and the answer
    type -- "how old is Tokayev?" matches passages about Tokayev well, but unless a sentence
    of a shown passage holds an age, the question is not answered there. `support` asks
    more: that the answering sentence also holds enough of the question's words.
    """
    if not ranked.pool:
        return "none of the question's words occur in the documents"
    if ranked.best_coverage < min_coverage:
        return f"the best passage holds only {ranked.best_coverage:.0%} of the question's weight"
    best = ranked.best_similarity
    if best is not None and best < min_similarity:
        return f"no passage is close in meaning to the question (best similarity {best:.2f})"
    if sentence_similarity is not None and sentence_similarity < min_sentence_similarity:
        return (
            "no sentence of the best passages is close in meaning to the question "
            f"(best similarity {sentence_similarity:.2f})"
        )
    if plan.qtype is None or plan.qtype is QType.WHAT:
        return None
    wanted = _WANTED[plan.qtype]
    top = ranked.pool[:shown]
    if require_answer and not any(c.answering for c in top):
        return f"no sentence of the best passages gives {wanted}"
    if max((c.support for c in top), default=0.0) < min_support:
        return f"no sentence of the best passages gives {wanted} together with what was asked"
    return None


_WANTED = {
    QType.WHO: "a person",
    QType.HOW_MANY: "a number with a fitting unit",
    QType.WHERE: "a place",
    QType.WHEN: "a date or time",
    QType.WHY: "a reason",
}


def rank(postings: Postings, group_ids: list[list[int]], want: int) -> Ranked:
    """BM25's top candidates; the first RERANK_POOL re-ordered by fused score.

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
    hits = postings.top_k(group_ids, max(RERANK_POOL, want))
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
    head, rest = candidates[:RERANK_POOL], candidates[RERANK_POOL:]
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


def prefer_answers(ranked: Ranked, texts: dict[int, str], plan: QueryPlan) -> None:
    """Score how well each candidate answers the asked type; re-order the pool.

    `support` is the share of the question's weight held by the best sentence that also
    holds a fitting answer: "who is Azerbaijan's defense minister?" is not supported by a
    sentence naming Aliyev unless that sentence is about the defense minister too.
    """
    if plan.qtype is None or plan.qtype is QType.WHAT:
        return
    find = _answer_sentences(plan)
    weight = dict(zip(range(len(ranked.weights)), ranked.weights, strict=True))
    total = ranked.total_weight or 1.0

    def checked(c: Candidate) -> Candidate:
        # The sentence before counts too: a Japanese sentence often leaves out the subject
        # the previous one named (「CSTO平和維持軍は…。総勢約2,600人の軍人で構成」).
        sentences = find(texts[c.index])
        answering = [
            groups | (sentences[i - 1][2] if i else set())
            for i, (_, spans, groups) in enumerate(sentences)
            if spans
        ]
        support = max((sum(weight[g] for g in gs) / total for gs in answering), default=0.0)
        return replace(c, answers=True, support=support, answering=len(answering))

    head, rest = ranked.pool[:RERANK_POOL], ranked.pool[RERANK_POOL:]
    ranked.pool = _ordered([checked(c) for c in head]) + rest


def answer_finder(plan: QueryPlan) -> Callable[[str], list[tuple[int, int]]]:
    """Answer spans in a text that are not just the question's own words: the title 議長
    does not answer "who chairs CSTO?", but ニコル・パシヤン首相 does."""
    find = _answer_sentences(plan)
    return lambda text: [span for _, spans, _ in find(text) for span in spans]


def _answer_sentences(plan: QueryPlan):
    """text -> [(sentence span, answer spans in it, query groups it mentions)]."""
    qtype = plan.qtype
    group_of = plan.group_of
    # "カザフスタンの国防次官の名前は?" asks for whoever holds that role: a person named in
    # a clause that does not mention the role (トカエフ大統領) is not the answer.
    roles = {
        i for i, g in enumerate(plan.groups) if qtype is QType.WHO and any(map(is_title, g.terms))
    }

    plan_places = qtype is QType.WHO and any(_is_place(t) for g in plan.groups for t in g.terms)

    def find(text: str) -> list[tuple[tuple[int, int], list[tuple[int, int]], set[int]]]:
        if qtype is None or qtype is QType.WHAT:
            return []
        every = tokenize_spans(text)
        tokens = [t for t in every if t.term in group_of]
        # アルメニアのパシヤン首相 is Armenia's: no answer when the question names another place.
        foreign = {
            t.end + 1
            for t in every
            if t.pos.startswith("名詞-固有名詞-地名")
            and t.term not in group_of
            and text[t.end : t.end + 1] == "の"
        }
        out = []
        for s, e in split_sentences(text):
            inside = [t for t in tokens if s <= t.start and t.end <= e]
            spans = []
            for a, b in answer_spans(text[s:e], qtype):
                a, b = a + s, b + s
                if any(t.start <= a and b <= t.end for t in inside):
                    continue  # the question's own word is no answer
                if qtype is QType.WHO and _BARE_TITLE.fullmatch(text[a:b]):
                    continue  # 首脳 or 現議長 alone names nobody
                if plan.units is not None and not plan.units.search(text[a:b]):
                    continue  # a troop count does not answer "how old"
                if roles and not _mentions(inside, roles, group_of, clause_around(text, a, b)):
                    continue  # a person, but not the one in the asked role
                if qtype is QType.WHO and a in foreign and plan_places:
                    continue  # another country's minister
                spans.append((a, b))
            out.append(((s, e), spans, {group_of[t.term] for t in inside}))
        return out

    return find


def _is_place(term: str) -> bool:
    return any(t.pos.startswith("名詞-固有名詞-地名") for t in tokenize_spans(term))


def _mentions(tokens, groups: set[int], group_of: dict[str, int], span: tuple[int, int]) -> bool:
    """Whether a token of one of `groups` lies within `span`."""
    s, e = span
    return any(group_of[t.term] in groups and s <= t.start and t.end <= e for t in tokens)


def count_matches(postings: Postings, group_ids: list[list[int]]) -> int:
    """How many passages hold at least one of the question's terms (for result paging)."""
    lists = [
        postings.docs[postings.offsets[t] : postings.offsets[t + 1]] for g in group_ids for t in g
    ]
    if not lists:
        return 0
    if len(lists) == 1:
        return len(lists[0])
    mask = np.zeros(postings.n, dtype=bool)
    for docs in lists:
        mask[docs] = True
    return int(np.count_nonzero(mask))


def _group_df(postings: Postings, ids: list[int]) -> int:
    if not ids:
        return 0
    if len(ids) == 1:
        return postings.df(ids[0])
    docs = [postings.docs[postings.offsets[t] : postings.offsets[t + 1]] for t in ids]
    return len(np.unique(np.concatenate(docs))) if docs else 0


def _holds_any(postings: Postings, ids: list[int], passages: np.ndarray) -> np.ndarray:
    """Which of `passages` hold at least one of the terms `ids` (binary search per term)."""
    found = np.zeros(len(passages), dtype=bool)
    for t in ids:
        docs = postings.docs[postings.offsets[t] : postings.offsets[t + 1]]
        if len(docs) == 0:
            continue
        pos = np.minimum(np.searchsorted(docs, passages), len(docs) - 1)
        found |= docs[pos] == passages
    return found
