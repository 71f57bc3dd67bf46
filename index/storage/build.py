"""Building a new index generation from the corpus, incrementally and atomically.

Only files whose sha256 changed are split and tokenized (`scan`, `writer`); unchanged passages
keep their stored term ids, so BM25's global statistics are re-derived by one vectorized
inversion instead of a re-tokenize (`publisher`). Everything of the new generation is written
inside one SQLite transaction plus a directory published by rename before that transaction
commits: killed at any point, the previous generation stays live.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import aiosqlite

from index.errors import CorpusMissing, IndexDamaged, IndexUnusable, ReindexRunning
from index.language.tokenize import TOKENIZER_VERSION, dictionary_version
from index.models import ReindexReport
from index.retrieval import bm25
from index.storage import generation, ingest, queries, store, vector_store
from index.storage.faults import fault
from index.storage.publisher import Publisher
from index.storage.scan import ChangeScan
from index.storage.writer import DocumentWriter

Progress = Callable[..., None]  # (done, total, unit, passages=None) for progress bars


def index_settings() -> dict[str, str]:
    """What the stored index depends on; any difference forces a full rebuild."""
    return {
        "schema_version": store.SCHEMA_VERSION,
        "tokenizer_version": TOKENIZER_VERSION,
        "dictionary_version": dictionary_version(),
        "k1": str(bm25.K1),
        "b": str(bm25.B),
        "epsilon": str(bm25.EPSILON),
        "arrays_format": str(bm25.FORMAT),
    }


def settings_mismatch(meta: dict[str, str]) -> list[str]:
    """Keys whose stored value differs from this program's (empty for a fresh database)."""
    if "generation" not in meta:
        return []
    return [k for k, v in index_settings().items() if meta.get(k) != v]


class _BuildLock:
    """An advisory file lock so two `shirabe index` runs never write the same database."""

    def __init__(self, db_path: Path) -> None:
        self.path = db_path.with_name(db_path.name + ".lock")
        self.fd: int | None = None

    def __enter__(self) -> _BuildLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(self.fd)
            raise ReindexRunning(f"another build of {self.path.stem} is running") from exc
        return self

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)


class Builder:
    def __init__(
        self,
        corpus: Path,
        db_path: Path,
        progress: Progress | None = None,
        repair: bool = False,
    ) -> None:
        self.corpus = corpus
        self.db_path = db_path
        self.repair = repair  # move a damaged database aside and build anew (not while served)
        self.progress = progress or (lambda done, total, unit, passages=None: None)
        self.report = ReindexReport()
        self.catalog_fingerprint = ""  # of the catalog this build applied (see ingest)

    async def run(self) -> ReindexReport:
        started = time.perf_counter()
        if not self.corpus.is_dir():
            raise CorpusMissing(f"corpus folder {self.corpus} does not exist")
        with _BuildLock(self.db_path):
            try:
                await self._connect_and_build()
            except (sqlite3.DatabaseError, IndexUnusable) as exc:
                error = _as_index_error(self.db_path, exc)
                if not (self.repair and isinstance(error, IndexDamaged)):
                    raise error from exc
                self._move_aside(exc)
                await self._connect_and_build()
        self.report.seconds = round(time.perf_counter() - started, 3)
        return self.report

    def _move_aside(self, exc: Exception) -> None:
        """Quarantine the damaged database and start the report of a build from nothing."""
        moved = store.quarantine(self.db_path)
        reason = (
            str(exc) if isinstance(exc, IndexUnusable) else f"{self.db_path} is damaged ({exc})"
        )
        self.report = ReindexReport(
            warnings=[f"{reason}; moved it to {moved.name} and built the index anew"]
        )

    async def _connect_and_build(self) -> None:
        db = await store.connect(self.db_path)
        try:
            await self._build(db)
        finally:
            await db.close()

    async def _build(self, db: aiosqlite.Connection) -> None:
        meta = await store.read_meta(db)
        current = int(meta.get("generation", 0))
        await queries.sweep_retired(db, current)
        await vector_store.sweep(db)  # cached vectors of passages gone, or of another encoder
        generation.remove_stale(self.db_path, keep=current)
        new_gen = current + 1
        self.report.generation = new_gen
        mismatch = settings_mismatch(meta)
        await queries.begin_write(db)
        try:
            if mismatch:
                self.report.warnings.append(
                    "index settings changed (" + ", ".join(mismatch) + "): rebuilding everything"
                )
                await queries.retire_all(db, new_gen)
            await self._update_documents(db, new_gen, meta)
            fault("before_publish")
            publisher = Publisher(db, self.db_path, self.report, self.progress)
            previous_live = int(meta.get("passages", -1))
            live = await publisher.publish(new_gen, self.corpus, previous_live)
            fault("after_publish_before_commit")
            await store.write_meta(
                db,
                {
                    **index_settings(),
                    "generation": str(new_gen),
                    "built_at": store.now_iso(),
                    "passages": str(live),
                    "catalog": self.catalog_fingerprint,
                },
            )
            await db.commit()
        except BaseException:
            await db.rollback()
            raise
        fault("after_commit_before_cleanup")
        generation.remove_stale(self.db_path, keep=new_gen)

    async def _update_documents(self, db: aiosqlite.Connection, gen: int, meta: dict) -> None:
        """Retire what was removed, write what changed (by sha256), and when the catalog
        changed, bring the unchanged documents' titles, links and dates up to date."""
        scan = ChangeScan(self.report, self.progress, await queries.live_documents(db))
        self.catalog_fingerprint = ingest.catalog_fingerprint(self.corpus)
        catalog, warnings = ingest.load_catalog(self.corpus)
        self.report.warnings.extend(warnings)
        unlisted: list[tuple[str, str]] = []
        files = await asyncio.to_thread(ingest.list_files, self.corpus, unlisted)
        removed = scan.removed(files, unlisted)
        changed = await asyncio.to_thread(scan.changed, files)
        self.report.removed = len(removed)
        await queries.retire(db, gen, removed)
        await queries.restamp(db, scan.restamped)
        fault("after_scan")
        await DocumentWriter(db, gen, scan).write(changed, catalog)
        if meta.get("catalog") != self.catalog_fingerprint and scan.unchanged:
            rows = await asyncio.to_thread(scan.metadata, catalog)
            self.report.retitled = await queries.update_metadata(db, rows)


async def build_index(
    corpus: Path,
    db_path: Path,
    progress: Progress | None = None,
    *,
    repair: bool = False,
) -> ReindexReport:
    """Build or update the index at `db_path` from `corpus`; see module docstring.

    `repair`: a damaged or foreign database is moved aside and the index built anew, with a
    warning (`shirabe index`); without it, IndexUnusable says what is wrong and what to do. An
    engine serving questions never repairs: its open connection would still read the old file.
    """
    return await Builder(corpus, db_path, progress, repair).run()


def _as_index_error(db_path: Path, exc: Exception) -> IndexUnusable:
    """Our errors as they are; sqlite3's explained (see store.describe_damage)."""
    if isinstance(exc, IndexUnusable):
        return exc
    assert isinstance(exc, sqlite3.DatabaseError)
    return store.describe_damage(db_path, exc)
