"""The engine: the one object both front ends (CLI and Discord bot) talk to.

It owns the store connection and the live index generation. Questions are answered from an
immutable `Generation` snapshot, so a reindex can build the next one on the side and swap it
in with one assignment; questions in flight finish on the generation they started with.
CPU work (tokenizing, scoring, excerpts) runs in worker threads so an event loop that serves
Discord is never blocked by it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import aiosqlite
import numpy as np

from index.language import colloquial, jmdict
from index.language.names import NameIndex
from index.language.passages import split_sentences
from index.language.translate_select import IndexPassages
from index.language.vocabulary import VocabularyIndex
from index.models import Answer, AnswerLine, Citation, DocumentInfo, Hit, ReindexReport, Stats
from index.retrieval import search, semantic
from index.retrieval.bm25 import Postings, load_postings
from index.retrieval.excerpt import make_excerpt
from index.retrieval.search import QueryPlan, answer_finder, count_matches, plan_query, rank
from index.settings import DEFAULT, Settings
from index.storage import store, vectors
from index.storage.build import BuildRunning, EmptyCorpus, build_index, settings_mismatch
from index.verdict import Signals, Verdict, decide

log = logging.getLogger(__name__)

DEFAULT_K = 3
MAX_K = 50
MAX_SENTENCES = 60  # sentences encoded per question for the sentence-level similarity
MAX_QUESTION_CHARS = 20_000


_PASSAGE_COLUMNS = (
    "id",
    "ordinal",
    "start",
    "end",
    "line_start",
    "line_end",
    "text",
    "path",
    "title",
    "url",
)


class ReindexRunning(RuntimeError):
    """A reindex is already running in this engine."""


@dataclass
class Generation:
    """One immutable, published index generation."""

    number: int
    postings: Postings
    passage_ids: np.ndarray  # passage index -> passages.id
    vocabulary: dict[str, int]  # term -> id, only ids this generation's arrays know
    vectors: np.ndarray | None = None  # float16 passage vectors, in passage order
    vector_model: str | None = None
    _names: NameIndex | None = None
    _terms: VocabularyIndex | None = None
    _names_lock: threading.Lock = field(default_factory=threading.Lock)

    def names(self) -> NameIndex:
        """Romanized katakana terms for matching English names, built on first need: a
        Japanese question never pays for it (about 0.5 s at 250,000 terms)."""
        with self._names_lock:
            if self._names is None:
                self._names = NameIndex.build(self.vocabulary)
            return self._names

    def terms(self) -> VocabularyIndex:
        """The vocabulary searchable by substring, built on first need (see `names`)."""
        with self._names_lock:
            if self._terms is None:
                self._terms = VocabularyIndex(self.vocabulary)
            return self._terms


class _LazyNames:
    """Stands in for the generation's NameIndex until a question needs a name matched."""

    def __init__(self, gen: Generation) -> None:
        self._gen = gen

    def match(self, latin: str, limit: int = 3) -> list[str]:
        return self._gen.names().match(latin, limit)


class Engine:
    def __init__(
        self, corpus: Path, db_path: Path, db: aiosqlite.Connection, settings: Settings = DEFAULT
    ) -> None:
        self.corpus = corpus
        self.db_path = db_path
        self._db = db
        # Ranking and verdict numbers; `shirabe eval` swaps in variants (dataclasses.replace).
        self.settings = settings
        self._generation: Generation | None = None
        self._reindex_lock = asyncio.Lock()
        # Questions' CPU work runs on at most one thread per core: more threads only fight
        # the event loop for the GIL (the bot's heartbeats and replies would wait).
        self._executor = ThreadPoolExecutor(max_workers=os.cpu_count() or 2)
        self._data_version: int | None = None  # to notice other processes' commits
        self.notices: list[str] = []  # messages for the user about what opening did

    @property
    def rerank(self) -> bool | None:
        """None: re-rank when the generation has passage vectors; True: require them."""
        return self.settings.rerank

    # ---- lifecycle -------------------------------------------------------------------
    @classmethod
    async def open(
        cls,
        corpus: Path,
        db_path: Path,
        *,
        build_if_missing: bool = True,
        progress=None,
        rerank: bool | None = None,
        settings: Settings = DEFAULT,
    ) -> Engine:
        """Open the index, building (or rebuilding) it when missing, foreign or damaged.

        `rerank` (when not None) overrides `settings.rerank`. True needs the sentence encoder
        (EncoderMissing says how to install it) and computes passage vectors if the index
        has none; False never loads the encoder."""
        if rerank is not None:
            settings = replace(settings, rerank=rerank)
        rerank = settings.rerank
        if rerank and not semantic.available():
            raise semantic.EncoderMissing("re-ranking is on")
        notices: list[str] = []
        for attempt in (1, 2):
            try:
                db = await store.connect(db_path, create=build_if_missing)
            except store.DamagedStore as exc:
                if not build_if_missing or not db_path.exists() or attempt == 2:
                    raise
                notices.append(cls._set_aside(db_path, exc))
                continue
            engine = cls(corpus, db_path, db, settings)
            engine.notices = notices
            try:
                await engine._load_or_build(build_if_missing, progress)
            except sqlite3.DatabaseError as exc:
                await db.close()
                # Damage past the first pages only shows when rows are read.
                if not store.is_damage(exc) or not build_if_missing or attempt == 2:
                    raise store.describe_damage(db_path, exc) from exc
                notices.append(cls._set_aside(db_path, exc))
                continue
            except BaseException:
                await db.close()
                raise
            return engine
        raise AssertionError("unreachable")

    @staticmethod
    def _set_aside(db_path: Path, exc: Exception) -> str:
        """Move a damaged database aside (never delete it) and say so."""
        moved = store.quarantine(db_path)
        return f"{exc}; moved it to {moved.name} and rebuilding"

    async def _load_or_build(self, build_if_missing: bool, progress) -> None:
        meta = await store.read_meta(self._db)
        problem = None
        if "generation" not in meta:
            problem = "no index yet"
        elif mismatch := settings_mismatch(meta):
            problem = "the index was built with other settings (" + ", ".join(mismatch) + ")"
        else:
            try:
                self._generation = await self._load_generation(int(meta["generation"]))
                if not (self.rerank and self._generation.vectors is None):
                    return
                problem = "the index has no passage vectors for re-ranking"
            except ValueError as exc:
                problem = str(exc)
        if not build_if_missing:
            raise store.StoreError(f"{problem}: run `shirabe index`")
        if problem != "no index yet":
            self.notices.append(f"{problem}: rebuilding the index")
        report = await build_index(self.corpus, self.db_path, progress, self._vectors_wanted())
        self.notices.extend(report.warnings)
        self._generation = await self._load_generation(report.generation)

    def _vectors_wanted(self) -> bool | None:
        """What builds started by this engine do about passage vectors (see build_index)."""
        return None if self.rerank is None else self.rerank

    async def _load_generation(self, number: int) -> Generation:
        directory = store.generation_dir(self.db_path, number)
        postings = await asyncio.to_thread(load_postings, directory)
        try:
            passage_ids = np.load(directory / "passage_ids.npy", mmap_mode="r")
        except (OSError, ValueError) as exc:
            raise ValueError(f"index arrays in {directory} are missing: {exc}") from exc
        if len(passage_ids) != postings.n:
            raise ValueError(f"index arrays in {directory} do not match each other")
        previous = self._generation.vocabulary if self._generation else {}
        vocabulary = await self._load_vocabulary(previous, postings.vocabulary_size)
        stored = vectors.load(directory, postings.n)
        current_model = semantic.model_name() if self.rerank is not False else None
        if stored and current_model and stored[1] != current_model:
            raise ValueError(
                f"passage vectors in {directory} were made by {stored[1]}, not {current_model}"
            )
        return Generation(
            number,
            postings,
            passage_ids,
            vocabulary,
            vectors=stored[0] if stored else None,
            vector_model=stored[1] if stored else None,
        )

    async def _load_vocabulary(self, previous: dict[str, int], size: int) -> dict[str, int]:
        """Terms are append-only, so only ids beyond the previous vocabulary are read."""
        async with self._db.execute(
            "SELECT term, id FROM terms WHERE id >= ? AND id < ?", (len(previous), size)
        ) as cur:
            rows = await cur.fetchall()
        vocabulary = dict(previous) if previous else {}
        vocabulary.update(rows)
        return vocabulary

    async def warm_up(self) -> None:
        """Load what the first question would otherwise wait for (the English table and the
        name index), so a long-running server answers its first question as fast as the rest."""
        gen = self.generation
        await asyncio.to_thread(
            lambda: (jmdict.load(), gen.names(), gen.terms(), colloquial.warm_up())
        )

    async def close(self) -> None:
        self._executor.shutdown(wait=False)
        await self._db.close()

    # ---- questions -------------------------------------------------------------------
    @property
    def generation(self) -> Generation:
        assert self._generation is not None, "engine is not open"
        return self._generation

    async def ask(self, question: str, k: int | None = None) -> Answer:
        """Answer a question with the top-k passages, or say plainly why there is none."""
        return await self._answer(question, k or DEFAULT_K, 0)

    async def search(self, query: str, k: int = 5, offset: int = 0) -> Answer:
        """One page of ranked passages, with `total_hits` for paging."""
        return await self._answer(query, k, offset, count=True)

    async def _answer(self, query: str, k: int, offset: int, count: bool = False) -> Answer:
        started = time.perf_counter()
        await self._follow_other_builds()
        gen = self.generation
        k = max(1, min(int(k), MAX_K))
        offset = max(0, int(offset))
        # Lone surrogates (JSON "\ud800" escapes, argv under LANG=C) are valid str but not
        # UTF-8, which the tagger needs: they become U+FFFD, other text is unchanged.
        query = query.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
        problem = _question_problem(query)
        if problem:
            return Answer(query, [], [], _ms(started), problem=problem)
        settings = self.settings
        plan, ranked = await self._run(self._plan_and_rank, gen, query, k + offset)
        question_vec = None
        if ranked.pool and self._reranking(gen):
            question_vec, sims = await self._run(self._similarities, gen, query, ranked)
            search.rerank(ranked, sims, settings.rerank_weight)
        head = ranked.pool[: settings.rerank_pool]
        wanted = list({c.index: c for c in head + ranked.pool[offset : offset + k]}.values())
        rows = await self._passage_rows([int(gen.passage_ids[c.index]) for c in wanted])
        texts = {c.index: rows[int(gen.passage_ids[c.index])]["text"] for c in wanted}
        await self._run(search.prefer_answers, ranked, texts, plan, settings)
        shown = ranked.pool[: settings.shown]
        sentence_similarity = None
        if question_vec is not None:
            shown_texts = [texts[c.index] for c in shown]
            sentence_similarity = await self._run(_best_sentence, question_vec, shown_texts)
        typed = plan.qtype is not None and plan.qtype.value != "what"
        signals = Signals(
            matched=bool(ranked.pool),
            coverage=ranked.best_coverage,
            qtype=plan.qtype.value if plan.qtype else None,
            support=max((c.support for c in shown), default=0.0),
            answer_found=any(c.answering for c in shown),
            sentence_similarity=sentence_similarity,
        )
        verdict, reason = decide(signals, settings)
        facts = {
            "query_terms": [g.label for g in plan.groups],
            "translations": plan.translations,
            "verdict": verdict.value,
            "reason": reason,
            "signals": signals,
            "best_coverage": ranked.best_coverage,
            "best_similarity": ranked.best_similarity,
            "best_sentence_similarity": sentence_similarity,
            "qtype": plan.qtype.value if plan.qtype else None,
            "answer_support": signals.support,
            "answer_found": signals.answer_found if typed else None,
            "total_hits": count_matches(gen.postings, ranked.group_ids) if count else None,
        }
        if verdict is Verdict.NOTHING:
            return Answer(query, hits=[], took_ms=_ms(started), declined=reason, **facts)
        page = ranked.pool[offset : offset + k]
        rows.update(
            await self._passage_rows(
                [
                    int(gen.passage_ids[c.index])
                    for c in page
                    if int(gen.passage_ids[c.index]) not in rows
                ]
            )
        )
        hits = await self._run(self._hits, gen, plan, ranked, rows, page, offset)
        answered = verdict is Verdict.ANSWERED and offset == 0
        line = _answer_line(shown, texts, settings) if answered else None
        return Answer(query, hits=hits, took_ms=_ms(started), answer=line, **facts)

    async def _run(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def _follow_other_builds(self) -> None:
        """Pick up a generation another process (`shirabe index`) published meanwhile.

        `PRAGMA data_version` changes only when another connection has committed, so the
        common case costs one tiny query; the next build sweeps the rows of an old
        generation, so an engine must not keep answering from it."""
        if self._reindex_lock.locked():
            return
        async with self._db.execute("PRAGMA data_version") as cur:
            version = (await cur.fetchone())[0]
        if version == self._data_version:
            return
        self._data_version = version
        async with self._db.execute("SELECT value FROM meta WHERE key = 'generation'") as cur:
            row = await cur.fetchone()
        number = int(row[0]) if row else 0
        if number > self.generation.number:
            async with self._reindex_lock:
                if number > self.generation.number:
                    try:
                        self._generation = await self._load_generation(number)
                    except ValueError as exc:  # being replaced right now: keep the current one
                        log.warning("could not load generation %s yet: %s", number, exc)

    def _reranking(self, gen: Generation) -> bool:
        return self.rerank is not False and gen.vectors is not None

    def _similarities(
        self, gen: Generation, query: str, ranked: search.Ranked
    ) -> tuple[np.ndarray, np.ndarray]:
        """The question's vector, and its cosine with each passage at the head of the pool:
        one encoding, N dot products."""
        question = semantic.Encoder.load().encode([query])[0]
        head = ranked.pool[: self.settings.rerank_pool]
        rows = np.asarray(gen.vectors[[c.index for c in head]], dtype=np.float32)
        return question, rows @ question

    def _plan_and_rank(self, gen: Generation, query: str, want: int):
        has_term = gen.vocabulary.__contains__
        corpus = IndexPassages(gen.postings, gen.vocabulary)
        plan = plan_query(query, has_term, _LazyNames(gen), corpus, gen.terms())
        group_ids = [
            [gen.vocabulary[t] for t in g.terms if t in gen.vocabulary] for g in plan.groups
        ]
        return plan, rank(gen.postings, group_ids, want, self.settings)

    def _hits(self, gen, plan: QueryPlan, ranked, rows, page, offset: int) -> list[Hit]:
        """Excerpt and cite one page of the (already ordered) pool."""
        find_answers = answer_finder(plan)
        group_of = plan.group_of
        hits = []
        for rank_no, cand in enumerate(page, 1):
            pid = int(gen.passage_ids[cand.index])
            row = rows[pid]
            excerpt = make_excerpt(row["text"], group_of, ranked.weights, find_answers(row["text"]))
            hits.append(
                Hit(
                    rank=offset + rank_no,
                    score=cand.bm25,
                    coverage=cand.coverage,
                    similarity=cand.similarity,
                    fused=cand.fused,
                    passage_id=pid,
                    text=row["text"],
                    start=row["start"],
                    end=row["end"],
                    excerpt=excerpt,
                    citation=Citation(
                        title=row["title"],
                        doc=row["path"],
                        passage=row["ordinal"] + 1,
                        line_start=row["line_start"],
                        line_end=row["line_end"],
                        url=row["url"],
                    ),
                )
            )
        return hits

    async def _passage_rows(self, ids: list[int]) -> dict[int, dict]:
        """Rows by passage id; columns by position, as the connection is shared by
        concurrent questions and must not change state (e.g. its row factory)."""
        marks = ",".join("?" * len(ids))
        async with self._db.execute(
            f"SELECT {', '.join('p.' + c for c in _PASSAGE_COLUMNS[:7])}, "
            "d.path, d.title, d.url FROM passages p JOIN documents d ON d.id = p.doc_id "
            f"WHERE p.id IN ({marks})",
            ids,
        ) as cur:
            rows = await cur.fetchall()
        return {row[0]: dict(zip(_PASSAGE_COLUMNS, row, strict=True)) for row in rows}

    # ---- reindex ---------------------------------------------------------------------
    @property
    def reindexing(self) -> bool:
        return self._reindex_lock.locked()

    async def reindex(self, progress=None) -> ReindexReport:
        """Build the next generation while questions keep using the current one."""
        if self._reindex_lock.locked():
            raise ReindexRunning("a reindex is already running")
        async with self._reindex_lock:
            try:
                report = await build_index(
                    self.corpus, self.db_path, progress, self._vectors_wanted()
                )
            except EmptyCorpus as exc:
                return ReindexReport(kept_previous=str(exc), generation=self.generation.number)
            except BuildRunning as exc:
                raise ReindexRunning(str(exc)) from exc
            self._generation = await self._load_generation(report.generation)
            return report

    # ---- documents, stats, log -------------------------------------------------------
    async def documents(self, prefix: str = "", limit: int = 25) -> list[DocumentInfo]:
        like = "%" + prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        async with self._db.execute(
            "SELECT path, title, passages, url, substr(text, 1, 400) FROM documents "
            "WHERE retired_gen IS NULL AND (title LIKE ? ESCAPE '\\' OR path LIKE ? ESCAPE '\\')"
            " ORDER BY title LIMIT ?",
            (like, like, limit),
        ) as cur:
            return [_doc_info(*row) for row in await cur.fetchall()]

    async def document(self, name: str) -> DocumentInfo | None:
        async with self._db.execute(
            "SELECT path, title, passages, url, substr(text, 1, 400) FROM documents "
            "WHERE retired_gen IS NULL AND (path = ? OR title = ?) ORDER BY path = ? DESC LIMIT 1",
            (name, name, name),
        ) as cur:
            row = await cur.fetchone()
        return _doc_info(*row) if row else None

    async def log_query(
        self, *, guild_id: int | None, channel_id: int | None, question: str, answer: Answer
    ) -> None:
        """Record a question without who asked it (no user ids are ever stored)."""
        await self._db.execute(
            "INSERT INTO query_log(at, guild_id, channel_id, question, top_docs, hits, "
            "latency_ms, declined) VALUES(?,?,?,?,?,?,?,?)",
            (
                store.now_iso(),
                guild_id,
                channel_id,
                question[:2000],
                json.dumps([h.citation.doc for h in answer.hits], ensure_ascii=False),
                len(answer.hits),
                answer.took_ms,
                answer.declined or answer.problem,
            ),
        )
        await self._db.commit()

    async def stats(self) -> Stats:
        meta = await store.read_meta(self._db)
        async with self._db.execute(
            "SELECT COUNT(*) FROM documents WHERE retired_gen IS NULL"
        ) as cur:
            documents = (await cur.fetchone())[0]
        async with self._db.execute("SELECT COUNT(*) FROM query_log WHERE hits > 0") as cur:
            answered = (await cur.fetchone())[0]
        return Stats(
            documents=documents,
            passages=self.generation.postings.n,
            generation=self.generation.number,
            last_reindex=meta.get("built_at"),
            questions_answered=answered,
        )


def _doc_info(path: str, title: str, passages: int, url: str | None, head: str) -> DocumentInfo:
    first_lines = "\n".join(line for line in head.split("\n")[:5] if line.strip())
    return DocumentInfo(path=path, title=title, passages=passages, url=url, first_lines=first_lines)


def _question_problem(question: str) -> str | None:
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


def _answer_line(
    shown: list[search.Candidate], texts: dict[int, str], settings: Settings
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


def _best_sentence(question_vec: np.ndarray, texts: list[str]) -> float | None:
    """The best cosine of the question with a sentence of the shown passages.

    Sentences are encoded at question time (a few dozen, some milliseconds) rather than
    stored: at a million passages, a vector per sentence would multiply the vector file by
    the sentences per passage, for a signal only the top passages need."""
    sentences = [
        text[s:e] for text in texts for s, e in split_sentences(text) if text[s:e].strip()
    ][:MAX_SENTENCES]
    if not sentences:
        return None
    vecs = semantic.Encoder.load().encode(sentences)
    return semantic.sentence_similarity(question_vec, vecs)


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
