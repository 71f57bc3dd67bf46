"""Building a new index generation from the corpus, incrementally and atomically.

Only files whose sha256 changed are split and tokenized (across processes when there is
much to do); unchanged passages keep their stored term ids, so BM25's global statistics are
re-derived by one vectorized inversion instead of a re-tokenize. Everything of the new
generation is written inside one SQLite transaction plus a directory published by rename
before that transaction commits: killed at any point, the previous generation stays live.
"""

from __future__ import annotations

import asyncio
import bisect
import fcntl
import os
import time
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import aiosqlite
import numpy as np

from index import bm25, ingest, store
from index.models import Document, ReindexReport
from index.passages import split_passages
from index.tokenize import TOKENIZER_VERSION, dictionary_version, tokenize

# Above this many characters to tokenize, worker processes pay for their start-up.
PARALLEL_CHARS = 2_000_000
BATCH_CHARS = 500_000

Progress = Callable[[int, int, str], None]  # (done, total, unit) for progress bars


class BuildRunning(RuntimeError):
    """Another process is building this index right now."""


class EmptyCorpus(RuntimeError):
    """The corpus yields no passages: BM25 is undefined, so the old index is kept."""


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


@dataclass
class AnalysedPassage:
    ordinal: int
    start: int
    end: int
    line_start: int
    line_end: int
    terms: list[str]


def analyse(text: str) -> list[AnalysedPassage]:
    """Split and tokenize one document (runs in a worker process for big builds)."""
    newlines = [i for i, ch in enumerate(text) if ch == "\n"]
    out = []
    for p in split_passages(text):
        out.append(
            AnalysedPassage(
                ordinal=p.ordinal,
                start=p.start,
                end=p.end,
                line_start=bisect.bisect_right(newlines, p.start - 1) + 1 if p.start else 1,
                line_end=bisect.bisect_right(newlines, p.end - 1) + 1 if p.end else 1,
                terms=tokenize(p.text),
            )
        )
    return out


def _analyse_batch(texts: list[str]) -> list[list[AnalysedPassage]]:
    return [analyse(t) for t in texts]


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
            raise BuildRunning(f"another build of {self.path.stem} is running") from exc
        return self

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)


class Builder:
    def __init__(self, corpus: Path, db_path: Path, progress: Progress | None = None) -> None:
        self.corpus = corpus
        self.db_path = db_path
        self.progress = progress or (lambda done, total, unit: None)
        self.report = ReindexReport()

    async def run(self) -> ReindexReport:
        started = time.perf_counter()
        if not self.corpus.is_dir():
            raise FileNotFoundError(f"corpus folder {self.corpus} does not exist")
        with _BuildLock(self.db_path):
            db = await store.connect(self.db_path)
            try:
                await self._build(db)
            finally:
                await db.close()
        self.report.seconds = round(time.perf_counter() - started, 3)
        return self.report

    async def _build(self, db: aiosqlite.Connection) -> None:
        meta = await store.read_meta(db)
        current = int(meta.get("generation", 0))
        await self._sweep(db, current)
        new_gen = current + 1
        self.report.generation = new_gen
        mismatch = settings_mismatch(meta)
        await db.execute("BEGIN IMMEDIATE")
        try:
            if mismatch:
                self.report.warnings.append(
                    "index settings changed (" + ", ".join(mismatch) + "): rebuilding everything"
                )
                await db.execute(
                    "UPDATE documents SET retired_gen = ? WHERE retired_gen IS NULL", (new_gen,)
                )
            await self._update_documents(db, new_gen)
            passage_ids = await self._publish_arrays(db, new_gen)
            await store.write_meta(
                db,
                {
                    **index_settings(),
                    "generation": str(new_gen),
                    "built_at": store.now_iso(),
                    "passages": str(len(passage_ids)),
                },
            )
            await db.commit()
        except BaseException:
            await db.rollback()
            raise
        store.remove_stale_generations(self.db_path, keep=new_gen)

    async def _sweep(self, db: aiosqlite.Connection, current: int) -> None:
        """Drop rows no generation can see any more and orphaned generation directories."""
        await db.execute(
            "DELETE FROM passages WHERE doc_id IN "
            "(SELECT id FROM documents WHERE retired_gen IS NOT NULL AND retired_gen <= ?)",
            (current,),
        )
        await db.execute(
            "DELETE FROM documents WHERE retired_gen IS NOT NULL AND retired_gen <= ?", (current,)
        )
        await db.commit()
        store.remove_stale_generations(self.db_path, keep=current)

    async def _update_documents(self, db: aiosqlite.Connection, gen: int) -> None:
        async with db.execute(
            "SELECT path, id, sha256 FROM documents WHERE retired_gen IS NULL"
        ) as cur:
            live = {path: (doc_id, sha) for path, doc_id, sha in await cur.fetchall()}
        catalog, warnings = ingest.load_catalog(self.corpus)
        self.report.warnings.extend(warnings)
        files = ingest.list_files(self.corpus)
        seen: set[str] = set()
        pending: list[Document] = []
        for i, file in enumerate(files):
            self.progress(i, len(files), "files read")
            seen.add(file.rel)
            try:
                data = ingest.read_bytes(file)
                old = live.get(file.rel)
                if old and old[1] == ingest.sha256_of(data):
                    self.report.unchanged += 1
                    continue
                doc = ingest.make_document(file, data, file.path.stat().st_mtime, catalog)
            except (ingest.SkipFile, OSError) as exc:
                self.report.skipped += 1
                kept = " (its previous version stays indexed)" if file.rel in live else ""
                self.report.warnings.append(f"skipped {file.rel}: {exc}{kept}")
                continue
            pending.append(doc)
        self.progress(len(files), len(files), "files read")
        removed = [doc_id for path, (doc_id, _) in live.items() if path not in seen]
        self.report.removed = len(removed)
        await db.executemany(
            "UPDATE documents SET retired_gen = ? WHERE id = ?", [(gen, i) for i in removed]
        )
        await self._add_documents(db, gen, pending, live)

    async def _add_documents(
        self, db: aiosqlite.Connection, gen: int, docs: list[Document], live: dict
    ) -> None:
        if not docs:
            return
        vocab = await _load_vocabulary(db)
        total = sum(len(d.text) for d in docs)
        done = 0
        loop = asyncio.get_running_loop()
        executor: Executor
        if total > PARALLEL_CHARS and (os.cpu_count() or 1) > 1:
            executor = ProcessPoolExecutor(os.cpu_count(), mp_context=get_context("spawn"))
        else:
            executor = ThreadPoolExecutor(1)
        try:
            batches = _batches(docs, BATCH_CHARS)
            futures = [
                loop.run_in_executor(executor, _analyse_batch, [d.text for d in b]) for b in batches
            ]
            for batch, future in zip(batches, futures, strict=True):
                analysed = await future
                for doc, passages in zip(batch, analysed, strict=True):
                    await self._insert_document(db, gen, doc, passages, vocab, live)
                    done += len(doc.text)
                self.progress(done, total, "chars tokenized")
        finally:
            executor.shutdown(wait=False, cancel_futures=True)

    async def _insert_document(
        self,
        db: aiosqlite.Connection,
        gen: int,
        doc: Document,
        passages: list[AnalysedPassage],
        vocab: dict[str, int],
        live: dict,
    ) -> None:
        old = live.get(doc.path)
        if old:
            self.report.changed += 1
            await db.execute("UPDATE documents SET retired_gen = ? WHERE id = ?", (gen, old[0]))
        else:
            self.report.added += 1
        cur = await db.execute(
            "INSERT INTO documents(path, title, url, date, sha256, mtime, encoding, text, "
            "passages, added_gen) VALUES(?,?,?,?,?,?,?,?,?,?)",
            (
                doc.path,
                doc.title,
                doc.url,
                doc.date,
                doc.sha256,
                doc.mtime,
                doc.encoding,
                doc.text,
                len(passages),
                gen,
            ),
        )
        doc_id = cur.lastrowid
        new_terms = sorted({t for p in passages for t in p.terms if t not in vocab})
        if new_terms:
            base = len(vocab)
            await db.executemany(
                "INSERT INTO terms(id, term) VALUES(?, ?)",
                [(base + i, t) for i, t in enumerate(new_terms)],
            )
            vocab.update({t: base + i for i, t in enumerate(new_terms)})
        await db.executemany(
            "INSERT INTO passages(doc_id, ordinal, start, end, line_start, line_end, text, terms)"
            " VALUES(?,?,?,?,?,?,?,?)",
            [
                (
                    doc_id,
                    p.ordinal,
                    p.start,
                    p.end,
                    p.line_start,
                    p.line_end,
                    doc.text[p.start : p.end],
                    np.array([vocab[t] for t in p.terms], dtype=np.int32).tobytes(),
                )
                for p in passages
            ],
        )

    async def _publish_arrays(self, db: aiosqlite.Connection, gen: int) -> np.ndarray:
        """Invert the live passages' term ids into the generation's arrays, then rename the
        finished directory into place (still before the commit that makes it live)."""
        async with db.execute(
            "SELECT p.id, p.terms FROM passages p JOIN documents d ON d.id = p.doc_id "
            "WHERE d.retired_gen IS NULL ORDER BY d.path, p.ordinal"
        ) as cur:
            rows = await cur.fetchall()
        async with db.execute("SELECT COUNT(*) FROM documents WHERE retired_gen IS NULL") as cur:
            self.report.documents = (await cur.fetchone())[0]
        if not rows:
            raise EmptyCorpus(
                f"the corpus at {self.corpus} has no indexable text; the previous index was kept"
            )
        async with db.execute("SELECT COUNT(*) FROM terms") as cur:
            vocabulary_size = (await cur.fetchone())[0]
        passage_ids = np.array([r[0] for r in rows], dtype=np.int64)
        self.report.passages = len(rows)
        target = store.generation_dir(self.db_path, gen)
        await asyncio.to_thread(_write_generation, rows, passage_ids, vocabulary_size, target)
        return passage_ids


def _write_generation(rows, passage_ids: np.ndarray, vocabulary_size: int, target: Path) -> None:
    lengths = np.fromiter((len(r[1]) // 4 for r in rows), dtype=np.int64, count=len(rows))
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    flat = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.int32)
    postings = bm25.build_postings(flat, offsets, vocabulary_size)
    tmp = target.with_name(target.name + ".tmp")
    if tmp.exists():
        import shutil

        shutil.rmtree(tmp)
    bm25.save_postings(postings, tmp)
    with open(tmp / "passage_ids.npy", "wb") as fh:
        np.save(fh, passage_ids)
        fh.flush()
        os.fsync(fh.fileno())
    if target.exists():
        import shutil

        shutil.rmtree(target)
    os.rename(tmp, target)
    dir_fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


async def _load_vocabulary(db: aiosqlite.Connection) -> dict[str, int]:
    async with db.execute("SELECT term, id FROM terms") as cur:
        return {t: i for t, i in await cur.fetchall()}


def _batches(docs: list[Document], chars: int) -> list[list[Document]]:
    batches: list[list[Document]] = [[]]
    size = 0
    for d in docs:
        if size >= chars and batches[-1]:
            batches.append([])
            size = 0
        batches[-1].append(d)
        size += len(d.text)
    return batches


async def build_index(
    corpus: Path, db_path: Path, progress: Progress | None = None
) -> ReindexReport:
    """Build or update the index at `db_path` from `corpus`; see module docstring."""
    return await Builder(corpus, db_path, progress).run()
