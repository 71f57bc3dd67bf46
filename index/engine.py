"""The engine: the one object both front ends (CLI and Discord bot) talk to.

It owns the store connection and the live index generation. Questions are answered from an
immutable `Generation` snapshot (`index.live`), so a reindex can build the next one on the
side and swap it in with one assignment; questions in flight finish on the generation they
started with. The question pipeline itself is `index.answer`.

Use it as an async context manager:

    async with await Engine.open(corpus, db_path) as engine:
        answer = await engine.ask("CSTOの議長は誰?")

Every error a front end should show is a `ShirabeError` (`index.errors`): sqlite3's are
translated here, so no front end needs to know the store is SQLite.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiosqlite

from index import answer as pipeline
from index.errors import EmptyCorpus, IndexDamaged, IndexUnusable, ReindexRunning
from index.language import colloquial, jmdict
from index.language.passages import split_sentences
from index.live import Generation, load_generation
from index.models import (
    Answer,
    DocumentInfo,
    PassageView,
    ReindexReport,
    Stats,
    UnansweredQuestion,
)
from index.retrieval import semantic
from index.settings import DEFAULT, Settings
from index.storage import feedback, queries, store
from index.storage.build import build_index, settings_mismatch
from index.storage.generation import GenerationFiles
from index.storage.vector_cache import CacheStats, VectorCache

log = logging.getLogger(__name__)

DEFAULT_K = 3


def _store_errors(method):
    """sqlite3 errors met while serving become IndexUnusable / IndexDamaged with advice."""

    @functools.wraps(method)
    async def wrapper(self: Engine, *args, **kwargs):
        try:
            return await method(self, *args, **kwargs)
        except sqlite3.DatabaseError as exc:
            raise store.describe_damage(self.db_path, exc) from exc

    return wrapper


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
        self._feedback_key: bytes | None = None  # the database's HMAC key (storage.feedback)
        self._vectors: VectorCache | None = None  # made on the first re-ranked question
        self._vectors_lock = asyncio.Lock()
        self._encoder_installed: bool | None = None

    @property
    def rerank(self) -> bool | None:
        """The setting: False off, True on (the encoder is required), None when installed."""
        return self.settings.rerank

    @property
    def reranking(self) -> bool:
        """Whether questions are re-ranked now (see `rerank`; the settings may change)."""
        if self.settings.rerank is not None:
            return self.settings.rerank
        if self._encoder_installed is None:
            self._encoder_installed = semantic.available()
        return self._encoder_installed

    @property
    def vector_stats(self) -> CacheStats | None:
        """What the passage vector cache did so far; None before the first re-ranked question."""
        return self._vectors.stats if self._vectors else None

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
        (EncoderMissing says how to install it); False never loads the encoder; None re-ranks
        when it is installed. Builds never encode: passage vectors are encoded when a question
        first needs them, and cached (`index.storage.vector_cache`). A damaged database is
        moved aside (never deleted) and rebuilt, once."""
        if rerank is not None:
            settings = replace(settings, rerank=rerank)
        if settings.rerank and not semantic.available():
            raise semantic.encoder_missing("re-ranking is on")
        notices: list[str] = []
        for attempt in (1, 2):
            try:
                engine = await cls._open_once(corpus, db_path, settings, build_if_missing, progress)
                engine.notices[:0] = notices
                return engine
            except IndexDamaged as exc:
                if not build_if_missing or not db_path.exists() or attempt == 2:
                    raise
                moved = store.quarantine(db_path)
                notices.append(f"{exc}; moved it to {moved.name} and rebuilding")
        raise AssertionError("unreachable")

    @classmethod
    async def _open_once(
        cls, corpus: Path, db_path: Path, settings: Settings, build_if_missing: bool, progress
    ) -> Engine:
        db = await store.connect(db_path, create=build_if_missing)
        engine = cls(corpus, db_path, db, settings)
        try:
            await engine._load_or_build(build_if_missing, progress)
        except sqlite3.DatabaseError as exc:
            await db.close()
            # Damage past the first pages only shows when rows are read.
            raise store.describe_damage(db_path, exc) from exc
        except BaseException:
            await db.close()
            raise
        return engine

    @classmethod
    async def open_log(cls, db_path: Path) -> Engine:
        """An engine for the query log alone (`shirabe log`): no index generation is loaded,
        so it cannot answer questions, and a database built with other settings still opens."""
        db = await store.connect(db_path, create=False)
        return cls(Path(), db_path, db)

    async def __aenter__(self) -> Engine:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def _load_or_build(self, build_if_missing: bool, progress) -> None:
        meta = await store.read_meta(self._db)
        problem = None
        if "generation" not in meta:
            problem = "no index yet"
        elif mismatch := settings_mismatch(meta):
            problem = "the index was built with other settings (" + ", ".join(mismatch) + ")"
        else:
            try:
                self._generation = await self._load(int(meta["generation"]))
                return
            except ValueError as exc:
                problem = str(exc)
        if not build_if_missing:
            raise IndexUnusable(f"{problem}: run `shirabe index`")
        if problem != "no index yet":
            self.notices.append(f"{problem}: rebuilding the index")
        report = await build_index(self.corpus, self.db_path, progress)
        self.notices.extend(report.warnings)
        self._generation = await self._load(report.generation)

    async def _load(self, number: int) -> Generation:
        files = GenerationFiles.of(self.db_path, number)
        return await load_generation(self._db, files, number, self._generation)

    async def warm_up(self) -> None:
        """Load what the first question would otherwise wait for (the English table, the
        name index and, when re-ranking, the encoder), so a long-running server answers its
        first question as fast as the rest."""
        gen = self.generation
        await asyncio.to_thread(
            lambda: (jmdict.load(), gen.names(), gen.terms(), colloquial.warm_up())
        )
        if self.reranking:
            await self._vector_cache()

    async def close(self) -> None:
        self._executor.shutdown(wait=False)
        if self._vectors is not None:  # what it encoded, to the store (2 s at most)
            await asyncio.to_thread(self._vectors.close)
        await self._db.close()

    # ---- questions -------------------------------------------------------------------
    @property
    def generation(self) -> Generation:
        assert self._generation is not None, "engine is not open"
        return self._generation

    async def ask(self, question: str, k: int | None = None) -> Answer:
        """Answer a question with the top-k passages and a verdict (index.verdict)."""
        return await self._answer(question, k or DEFAULT_K, 0)

    async def search(self, query: str, k: int = 5, offset: int = 0) -> Answer:
        """One page of ranked passages, with `total_hits` for paging."""
        return await self._answer(query, k, offset, count=True)

    @_store_errors
    async def _answer(self, text: str, k: int, offset: int, count: bool = False) -> Answer:
        await self._follow_other_builds()
        gen = self.generation
        vectors = await self._vector_cache() if self.reranking else None
        question = pipeline.Question(
            text, k, offset, count, gen, self._db, self.settings, self._run, vectors
        )
        return await pipeline.answer(question)

    async def _vector_cache(self) -> VectorCache:
        """The passage vector cache, made (and the encoder loaded, ~1 s) on first need."""
        if self._vectors is None:
            async with self._vectors_lock:
                if self._vectors is None:
                    self._vectors = await self._run(VectorCache.open, self.db_path)
        return self._vectors

    async def _run(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def _follow_other_builds(self) -> None:
        """Pick up a generation another process (`shirabe index`) published meanwhile.

        `PRAGMA data_version` changes only when another connection has committed, so the
        common case costs one tiny query; the next build sweeps the rows of an old
        generation, so an engine must not keep answering from it."""
        if self._reindex_lock.locked():
            return
        version = await queries.data_version(self._db)
        if version == self._data_version:
            return
        self._data_version = version
        number = await queries.live_generation(self._db) or 0
        if number > self.generation.number:
            async with self._reindex_lock:
                if number > self.generation.number:
                    try:
                        self._generation = await self._load(number)
                    except ValueError as exc:  # being replaced right now: keep the current one
                        log.warning("could not load generation %s yet: %s", number, exc)

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
                report = await build_index(self.corpus, self.db_path, progress)
            except EmptyCorpus as exc:
                return ReindexReport(kept_previous=str(exc), generation=self.generation.number)
            self._generation = await self._load(report.generation)
            return report

    # ---- documents, stats, log -------------------------------------------------------
    @_store_errors
    async def documents(self, prefix: str = "", limit: int = 25) -> list[DocumentInfo]:
        return [_doc_info(row) for row in await queries.find_documents(self._db, prefix, limit)]

    @_store_errors
    async def document(self, name: str) -> DocumentInfo | None:
        row = await queries.document_named(self._db, name)
        return _doc_info(row) if row else None

    @_store_errors
    async def passage_by_id(self, passage_id: int) -> PassageView | None:
        """The passage a citation's button names (Hit.passage_id); None once its document
        was re-indexed (the ids of changed documents' passages are not kept)."""
        place = await queries.passage_place(self._db, passage_id)
        return await self.passage(place[0], place[1] + 1) if place else None

    @_store_errors
    async def passage(self, name: str, number: int) -> PassageView | None:
        """Passage `number` (1-based, as cited: §7) of a document given by path or title,
        with the sentence before and after it; None when either does not exist."""
        doc = await self.document(name)
        if doc is None:
            return None
        found = await queries.passage_with_neighbours(self._db, doc.path, number - 1)
        if found is None:
            return None
        row, passages = found
        by_ordinal = {p[0]: p for p in passages}
        own = by_ordinal.get(number - 1)
        if own is None:
            return None
        before = by_ordinal.get(number - 2)
        after = by_ordinal.get(number)
        return PassageView(
            path=row.path,
            title=row.title,
            url=row.url,
            passage=number,
            passages=row.passages,
            line_start=own[1],
            line_end=own[2],
            text=own[3],
            before=_last_sentence(before[3]) if before else "",
            after=_first_sentence(after[3]) if after else "",
        )

    @_store_errors
    async def log_query(
        self, *, guild_id: int | None, channel_id: int | None, question: str, answer: Answer
    ) -> int:
        """Record a question without who asked it (no user ids are ever stored); the row's id,
        which the reply's vote buttons name. The feedback key is read (made, the first time)
        here too, so that the buttons' tags need no write of their own."""
        await self._key()
        return await queries.log_question(
            self._db,
            at=store.now_iso(),
            guild_id=guild_id,
            channel_id=channel_id,
            question=question[:2000],
            docs=[h.citation.doc for h in answer.hits],
            latency_ms=answer.took_ms,
            declined=answer.declined or answer.problem,
            verdict=answer.verdict,
        )

    # ---- feedback (index.storage.feedback: votes under keyed hashes, never user ids) ------
    async def _key(self) -> bytes:
        if self._feedback_key is None:
            self._feedback_key = await feedback.secret(self._db)
        return self._feedback_key

    @_store_errors
    async def record_vote(self, query_id: int, user_id: int, value: int) -> bool:
        """`user_id`'s 👍 (+1) or 👎 (-1) on logged question `query_id`, replacing their earlier
        vote on it; False when the log has no such question."""
        voter = feedback.voter_hash(await self._key(), query_id, user_id)
        return await feedback.record_vote(
            self._db, query_id=query_id, voter=voter, value=value, at=store.now_iso()
        )

    @_store_errors
    async def asker_tag(self, query_id: int, user_id: int) -> str:
        """The opaque tag an answer's 🗑 button carries to recognise its asker."""
        return feedback.asker_tag(await self._key(), query_id, user_id)

    async def is_asker(self, query_id: int, user_id: int, tag: str) -> bool:
        return feedback.same_tag(await self.asker_tag(query_id, user_id), tag)

    @_store_errors
    async def votes(self, query_id: int) -> tuple[int, int]:
        """(👍, 👎) on a logged question."""
        return await feedback.vote_counts(self._db, query_id)

    @_store_errors
    async def unanswered(self, days: float = 7, limit: int = 20) -> list[UnansweredQuestion]:
        """Questions of the last `days` that got "nothing", "related" or a 👎, grouped by
        wording, most asked first."""
        since = (datetime.now(UTC) - timedelta(days=days)).isoformat(timespec="seconds")
        rows = await feedback.unanswered_rows(self._db, since)
        return feedback.group_unanswered(rows, limit)

    @_store_errors
    async def stats(self) -> Stats:
        meta = await store.read_meta(self._db)
        return Stats(
            documents=await queries.count_live_documents(self._db),
            passages=self.generation.postings.n,
            generation=self.generation.number,
            last_reindex=meta.get("built_at"),
            questions_answered=await queries.count_answered(self._db),
        )


def _first_sentence(text: str) -> str:
    spans = split_sentences(text)
    return text[spans[0][0] : spans[0][1]].strip() if spans else ""


def _last_sentence(text: str) -> str:
    spans = split_sentences(text)
    return text[spans[-1][0] : spans[-1][1]].strip() if spans else ""


def _doc_info(row: queries.DocumentRow) -> DocumentInfo:
    first_lines = "\n".join(line for line in row.head.split("\n")[:5] if line.strip())
    return DocumentInfo(
        path=row.path, title=row.title, passages=row.passages, url=row.url, first_lines=first_lines
    )
