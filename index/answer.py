"""One question, from text to `Answer`: rank, read the head's sentences, decide the verdict,
then excerpt and cite one page.

CPU work (tokenizing, scoring, encoding, excerpts) runs through `run`, the engine's bounded
worker threads, so an event loop serving Discord is never blocked by it; reading passages (and
cached passage vectors) goes through the shared connection.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiosqlite
import numpy as np

from index.language.translate_select import IndexPassages
from index.live import Generation, LazyNames
from index.models import Answer, AnswerLine, Citation, Hit
from index.retrieval import search, semantic
from index.retrieval.excerpt import make_excerpt
from index.retrieval.search import Candidate, QueryPlan, Ranked
from index.settings import Settings
from index.storage import queries
from index.storage.vector_cache import Passage, VectorCache
from index.verdict import Signals, Verdict, decide

MAX_K = 50
MAX_SENTENCES = 60  # sentences encoded per question for the sentence-level similarity
MAX_QUESTION_CHARS = 20_000

Run = Callable[..., Awaitable]  # run(fn, *args) on the engine's worker threads


@dataclass
class Question:
    """What one call asks for, and what it has on hand to answer it."""

    text: str
    k: int
    offset: int
    count: bool  # report total_hits (for /search paging)
    gen: Generation
    db: aiosqlite.Connection
    settings: Settings
    run: Run
    vectors: VectorCache | None  # passage vectors when re-ranking is on, else None


async def answer(q: Question) -> Answer:
    started = time.perf_counter()
    q.k = max(1, min(int(q.k), MAX_K))
    q.offset = max(0, int(q.offset))
    # Lone surrogates (JSON "\ud800" escapes, argv under LANG=C) are valid str but not UTF-8,
    # which the tagger needs: they become U+FFFD, other text is unchanged.
    q.text = q.text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    if problem := question_problem(q.text):
        return Answer(q.text, [], [], _ms(started), problem=problem)
    plan, ranked = await q.run(_plan_and_rank, q.gen, q.text, q.k + q.offset, q.settings)
    head = ranked.pool[: q.settings.rerank_pool]
    # The rows of the head and the page: re-ranking re-orders the head, not this set.
    rows = await _rows(q, head + _page(q, ranked))
    question_vec = None
    if head and q.vectors is not None:
        passages = _passages(q, head, rows)
        await q.vectors.fetch(q.db, passages)
        question_vec, sims = await q.run(_similarities, q.vectors, q.text, passages)
        search.rerank(ranked, sims, q.settings.rerank_weight)
    texts = {c.index: rows[_pid(q, c)].text for c in ranked.pool if _pid(q, c) in rows}
    await q.run(search.prefer_answers, ranked, texts, plan, q.settings)
    signals = await _signals(q, plan, ranked, texts, question_vec)
    verdict, reason = decide(signals, q.settings)
    facts = _facts(q, plan, ranked, signals, verdict, reason)
    if verdict is Verdict.NOTHING:
        return Answer(q.text, hits=[], took_ms=_ms(started), declined=reason, **facts)
    page = _page(q, ranked)
    rows.update(await _rows(q, [c for c in page if _pid(q, c) not in rows]))
    hits = await q.run(_hits, q.gen, plan, ranked, rows, page, q.offset)
    shown = ranked.pool[: q.settings.shown]
    answered = verdict is Verdict.ANSWERED and q.offset == 0
    line = answer_line(shown, texts, q.settings) if answered else None
    return Answer(q.text, hits=hits, took_ms=_ms(started), answer=line, **facts)


def question_problem(question: str) -> str | None:
    """A short, user-facing reason a question cannot be searched, or None."""
    if not question or not question.strip():
        return "The question is empty: ask something about the documents."
    if len(question) > MAX_QUESTION_CHARS:
        return (
            f"The question is {len(question):,} characters long; "
            f"please keep it under {MAX_QUESTION_CHARS:,}."
        )
    if not any(ch.isalnum() for ch in question):
        return "The question has no words in it, only punctuation or symbols."
    return None


def answer_line(
    shown: list[Candidate], texts: dict[int, str], settings: Settings
) -> AnswerLine | None:
    """The stating sentence of the best-placed shown passage that has one good enough.

    Its rank is the passage's place in the answer's first page (hits 1..shown)."""
    typed = any(c.answering for c in shown)
    for rank_no, cand in enumerate(shown, 1):
        enough = settings.min_support if typed else settings.min_statement
        if cand.sentence is None or cand.support < enough or (typed and cand.span is None):
            continue
        s, e = cand.sentence
        span = (cand.span[0] - s, cand.span[1] - s) if cand.span else None
        return AnswerLine(rank_no, texts[cand.index][s:e], s, e, span)
    return None


# ---- steps ----------------------------------------------------------------------------------


def _plan_and_rank(gen: Generation, text: str, want: int, settings: Settings):
    has_term = gen.vocabulary.__contains__
    corpus = IndexPassages(gen.postings, gen.vocabulary)
    plan = search.plan_query(text, has_term, LazyNames(gen), corpus, gen.terms())
    group_ids = [[gen.vocabulary[t] for t in g.terms if t in gen.vocabulary] for g in plan.groups]
    return plan, search.rank(gen.postings, group_ids, want, settings)


def _similarities(
    vectors: VectorCache, text: str, passages: list[Passage]
) -> tuple[np.ndarray, np.ndarray]:
    """The question's vector, and its cosine with each passage at the head of the pool:
    one encoding and N dot products, plus the encoding of the passages not cached yet."""
    question = vectors.encoder.encode([text])[0]
    return question, vectors.passage_vectors(passages) @ question


async def _signals(q: Question, plan: QueryPlan, ranked: Ranked, texts, question_vec) -> Signals:
    shown = ranked.pool[: q.settings.shown]
    sentence_similarity = None
    if question_vec is not None and q.vectors is not None:
        passages = [(_pid(q, c), texts.get(c.index)) for c in shown]
        sentence_similarity = await q.run(_best_sentence, q.vectors, question_vec, passages)
    return Signals(
        matched=bool(ranked.pool),
        coverage=ranked.best_coverage,
        qtype=plan.qtype.value if plan.qtype else None,
        support=max((c.support for c in shown), default=0.0),
        answer_found=any(c.answering for c in shown),
        sentence_similarity=sentence_similarity,
    )


def _facts(q: Question, plan: QueryPlan, ranked: Ranked, signals: Signals, verdict, reason):
    """The Answer's fields every verdict carries."""
    return {
        "query_terms": [g.label for g in plan.groups],
        "translations": plan.translations,
        "verdict": verdict.value,
        "reason": reason,
        "signals": signals,
        "best_coverage": ranked.best_coverage,
        "best_similarity": ranked.best_similarity,
        "best_sentence_similarity": signals.sentence_similarity,
        "qtype": signals.qtype,
        "answer_support": signals.support,
        "answer_found": signals.answer_found if signals.typed else None,
        "total_hits": search.count_matches(q.gen.postings, ranked.group_ids) if q.count else None,
        "unsearched": [
            g.label for g, ids in zip(plan.groups, ranked.group_ids, strict=True) if not ids
        ],
    }


def _hits(gen: Generation, plan: QueryPlan, ranked: Ranked, rows, page, offset: int) -> list[Hit]:
    """Excerpt and cite one page of the (already ordered) pool."""
    find_answers = search.answer_finder(plan)
    group_of = plan.group_of
    hits = []
    for rank_no, cand in enumerate(page, 1):
        row: queries.PassageRow = rows[int(gen.passage_ids[cand.index])]
        excerpt = make_excerpt(row.text, group_of, ranked.weights, find_answers(row.text))
        citation = Citation(
            title=row.title,
            doc=row.path,
            passage=row.ordinal + 1,
            line_start=row.line_start,
            line_end=row.line_end,
            url=row.url,
        )
        hits.append(
            Hit(
                rank=offset + rank_no,
                score=cand.bm25,
                coverage=cand.coverage,
                similarity=cand.similarity,
                fused=cand.fused,
                passage_id=row.id,
                text=row.text,
                start=row.start,
                end=row.end,
                excerpt=excerpt,
                citation=citation,
            )
        )
    return hits


def _best_sentence(
    vectors: VectorCache, question_vec: np.ndarray, passages: list[Passage]
) -> float | None:
    """The best cosine of the question with a sentence of the shown passages (their first
    MAX_SENTENCES sentences). Sentences are encoded when a passage is first shown, then
    cached with its vector: only the shown passages ever need them."""
    vecs = vectors.sentence_vectors(passages)[:MAX_SENTENCES]
    if not len(vecs):
        return None
    return semantic.sentence_similarity(question_vec, vecs)


def _page(q: Question, ranked: Ranked) -> list[Candidate]:
    return ranked.pool[q.offset : q.offset + q.k]


def _pid(q: Question, cand: Candidate) -> int:
    return int(q.gen.passage_ids[cand.index])


def _passages(q: Question, cands: list[Candidate], rows) -> list[Passage]:
    """(passage id, text) of candidates; the text is None when the row is gone."""
    pids = [_pid(q, c) for c in cands]
    return [(pid, rows[pid].text if pid in rows else None) for pid in pids]


async def _rows(q: Question, cands: list[Candidate]) -> dict[int, queries.PassageRow]:
    return await queries.passage_rows(q.db, list(dict.fromkeys(_pid(q, c) for c in cands)))


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
