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
import shutil
import signal
import sqlite3
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import aiosqlite
import numpy as np

from index.language.passages import split_passages
from index.language.tokenize import TOKENIZER_VERSION, dictionary_version, tokenize
from index.models import Document, ReindexReport
from index.retrieval import bm25, semantic
from index.storage import ingest, store, vectors

# Above this many characters to tokenize, worker processes pay for their start-up.
PARALLEL_CHARS = 2_000_000  # bytes of changed files
BATCH_CHARS = 500_000

Progress = Callable[..., None]  # (done, total, unit, passages=None) for progress bars


# Test hook, nothing else: SHIRABE_FAULT=<point> makes the build SIGKILL itself at that point,
# so the crash tests stop it at exact places instead of guessing with timers. See `fault`.
FAULT_ENV = "SHIRABE_FAULT"
FAULT_POINTS = (
    "after_scan",  # the corpus was listed and hashed, nothing written yet
    "mid_tokenize",  # the first batch of changed documents is stored (uncommitted)
    "before_publish",  # every row is written, the generation's arrays are not
    "after_publish_before_commit",  # the new generation directory is in place, not yet live
    "after_commit_before_cleanup",  # the new generation is live, the old directory remains
)
WORKER_FAULT = "tokenizer_worker"  # a tokenizing worker process dies (the OOM killer's pick)


def fault(point: str) -> None:
    """Die at `point` when the test hook asks for it; a no-op otherwise (one env lookup)."""
    if os.environ.get(FAULT_ENV) == point:
        os.kill(os.getpid(), signal.SIGKILL)


class BuildRunning(RuntimeError):
    """Another process is building this index right now."""


class EmptyCorpus(RuntimeError):
    """The corpus yields no passages: BM25 is undefined, so the old index is kept."""


class BuildFailed(RuntimeError):
    """The build could not finish (a worker process died); the previous index stays live."""


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
    n_terms: int


@dataclass
class AnalysedBatch:
    """A worker's output for several documents: passage positions, and every term as an
    index into the batch's own small vocabulary, so only distinct terms cross the process
    boundary as strings and the main process maps them to global ids in one vectorized step."""

    passages: list[list[AnalysedPassage]]  # per document
    terms: list[str]  # the batch's distinct terms
    term_ids: np.ndarray  # int32, every passage's terms in order, as indexes into `terms`


def analyse(text: str, local: dict[str, int], out_ids: list[int]) -> list[AnalysedPassage]:
    """Split and tokenize one document, appending its term indexes to `out_ids`."""
    newlines = [i for i, ch in enumerate(text) if ch == "\n"]
    passages = []
    for p in split_passages(text):
        terms = tokenize(p.text)
        out_ids.extend(local.setdefault(t, len(local)) for t in terms)
        passages.append(
            AnalysedPassage(
                ordinal=p.ordinal,
                start=p.start,
                end=p.end,
                line_start=bisect.bisect_right(newlines, p.start - 1) + 1,
                line_end=bisect.bisect_right(newlines, p.end - 1) + 1,
                n_terms=len(terms),
            )
        )
    return passages


def analyse_batch(texts: list[str]) -> AnalysedBatch:
    """Runs in a worker process for big builds (a thread for small ones)."""
    fault(WORKER_FAULT)
    local: dict[str, int] = {}
    ids: list[int] = []
    passages = [analyse(t, local, ids) for t in texts]
    return AnalysedBatch(passages, list(local), np.array(ids, dtype=np.int32))


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
    def __init__(
        self,
        corpus: Path,
        db_path: Path,
        progress: Progress | None = None,
        vectors: bool | None = None,
        repair: bool = False,
    ) -> None:
        self.corpus = corpus
        self.db_path = db_path
        self.vectors = vectors  # None: when the encoder is installed and the corpus is small
        self.repair = repair  # move a damaged database aside and build anew (not while served)
        self.progress = progress or (lambda done, total, unit, passages=None: None)
        self.report = ReindexReport()

    async def run(self) -> ReindexReport:
        started = time.perf_counter()
        if not self.corpus.is_dir():
            raise FileNotFoundError(f"corpus folder {self.corpus} does not exist")
        with _BuildLock(self.db_path):
            try:
                await self._connect_and_build()
            except (sqlite3.DatabaseError, store.StoreError) as exc:
                error = _as_store_error(self.db_path, exc)
                if not (self.repair and isinstance(error, store.DamagedStore)):
                    raise error from exc
                self._move_aside(exc)
                await self._connect_and_build()
        self.report.seconds = round(time.perf_counter() - started, 3)
        return self.report

    def _move_aside(self, exc: Exception) -> None:
        """Quarantine the damaged database and start the report of a build from nothing."""
        moved = store.quarantine(self.db_path)
        if isinstance(exc, store.StoreError):
            reason = str(exc)
        else:
            reason = f"{self.db_path} is damaged ({exc})"
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
            fault("before_publish")
            passage_ids = await self._publish_arrays(db, new_gen)
            fault("after_publish_before_commit")
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
        fault("after_commit_before_cleanup")
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
        """Find what changed (by sha256), then stream the changed files through the
        tokenizing workers with a bounded number of batches in flight, so memory stays flat
        however large the corpus."""
        async with db.execute(
            "SELECT path, id, sha256 FROM documents WHERE retired_gen IS NULL"
        ) as cur:
            live = {path: (doc_id, sha) for path, doc_id, sha in await cur.fetchall()}
        catalog, warnings = ingest.load_catalog(self.corpus)
        self.report.warnings.extend(warnings)
        unlisted: list[tuple[str, str]] = []
        files = await asyncio.to_thread(ingest.list_files, self.corpus, unlisted)
        for folder, reason in unlisted:
            self._skip(folder, f"folder could not be listed ({reason})", {})
        changed = await asyncio.to_thread(self._scan, files, live)
        listed = {f.rel for f in files}
        hidden = tuple(_folder_prefix(folder) for folder, _ in unlisted)  # kept, like files
        removed = [
            doc_id
            for path, (doc_id, _) in live.items()
            if path not in listed and not path.startswith(hidden)
        ]
        self.report.removed = len(removed)
        await db.executemany(
            "UPDATE documents SET retired_gen = ? WHERE id = ?", [(gen, i) for i in removed]
        )
        fault("after_scan")
        await self._add_documents(db, gen, changed, catalog, live)

    def _scan(self, files: list[ingest.CorpusFile], live: dict) -> list:
        """(file, size) of the files that are new or changed (by sha256). Runs in a worker
        thread: reading and hashing a large corpus would otherwise hold up the event loop of
        a bot answering questions during /reindex (hashlib and file reads release the GIL)."""
        changed: list[tuple[ingest.CorpusFile, int]] = []
        for i, file in enumerate(files):
            self.progress(i, len(files), "files checked")
            try:
                data = ingest.read_bytes(file)
            except ingest.SkipFile as exc:
                self._skip(file.rel, str(exc), live)
                continue
            old = live.get(file.rel)
            if old and old[1] == ingest.sha256_of(data):
                self.report.unchanged += 1
            else:
                changed.append((file, len(data)))
        self.progress(len(files), len(files), "files checked")
        return changed

    def _skip(self, rel: str, reason: str, live: dict) -> None:
        self.report.skipped += 1
        kept = " (its previous version stays indexed)" if rel in live else ""
        self.report.warnings.append(f"skipped {rel}: {reason}{kept}")

    def _read_batches(self, changed, catalog, live):
        """Decoded documents in batches of about BATCH_CHARS characters."""
        batch: list[Document] = []
        size = 0
        for file, _ in changed:
            try:
                data = ingest.read_bytes(file)
                doc = ingest.make_document(file, data, file.path.stat().st_mtime, catalog)
            except (ingest.SkipFile, OSError) as exc:
                self._skip(file.rel, str(exc), live)
                continue
            if note := ingest.invalid_bytes_note(doc):
                self.report.warnings.append(note)
            batch.append(doc)
            size += len(doc.text)
            if size >= BATCH_CHARS:
                yield batch
                batch, size = [], 0
        if batch:
            yield batch

    async def _add_documents(self, db, gen: int, changed, catalog, live) -> None:
        if not changed:
            return
        vocab = await _load_vocabulary(db)
        total = sum(size for _, size in changed)
        workers = os.cpu_count() or 1
        parallel = total > PARALLEL_CHARS and workers > 1
        executor: Executor = (
            ProcessPoolExecutor(workers, mp_context=get_context("spawn"))
            if parallel
            else ThreadPoolExecutor(1)
        )
        loop = asyncio.get_running_loop()
        in_flight: deque = deque()
        done_bytes = 0
        try:
            batches = self._read_batches(changed, catalog, live)
            # Reading and decoding a batch (~BATCH_CHARS characters) is CPU work: a thread.
            while (batch := await asyncio.to_thread(next, batches, None)) is not None:
                texts = [d.text for d in batch]
                in_flight.append((batch, loop.run_in_executor(executor, analyse_batch, texts)))
                while len(in_flight) > (2 * workers if parallel else 1):
                    done_bytes += await self._store_batch(db, gen, in_flight.popleft(), vocab, live)
                    self._tokenized(done_bytes, total)
                    fault("mid_tokenize")
            while in_flight:
                done_bytes += await self._store_batch(db, gen, in_flight.popleft(), vocab, live)
                self._tokenized(done_bytes, total)
                fault("mid_tokenize")
        except BrokenProcessPool as exc:
            raise BuildFailed(
                "a tokenizing worker process died (killed, or out of memory?); the previous "
                "index is still live: run the build again, with more memory if it recurs"
            ) from exc
        finally:
            executor.shutdown(wait=False, cancel_futures=True)
            _discard(in_flight)
        self._tokenized(total, total)

    def _tokenized(self, done: int, total: int) -> None:
        self.progress(done, total, "bytes", passages=self.report.passages_tokenized)

    async def _store_batch(self, db, gen: int, item, vocab: dict[str, int], live) -> int:
        batch, future = item
        analysed: AnalysedBatch = await future
        new_terms = [t for t in analysed.terms if t not in vocab]
        if new_terms:
            base = len(vocab)
            await db.executemany(
                "INSERT INTO terms(id, term) VALUES(?, ?)",
                [(base + i, t) for i, t in enumerate(new_terms)],
            )
            vocab.update({t: base + i for i, t in enumerate(new_terms)})
        lookup = np.array([vocab[t] for t in analysed.terms], dtype=np.int32)
        global_ids = lookup[analysed.term_ids] if len(lookup) else analysed.term_ids
        pos = 0
        for doc, passages in zip(batch, analysed.passages, strict=True):
            rows = []
            for p in passages:
                blob = global_ids[pos : pos + p.n_terms].tobytes()
                pos += p.n_terms
                text = doc.text[p.start : p.end]
                rows.append((p.ordinal, p.start, p.end, p.line_start, p.line_end, text, blob))
            await self._insert_document(db, gen, doc, rows, live)
            self.report.passages_tokenized += len(rows)
        return sum(len(d.text.encode("utf-8")) for d in batch)

    async def _insert_document(self, db, gen: int, doc: Document, rows: list, live) -> None:
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
                len(rows),
                gen,
            ),
        )
        doc_id = cur.lastrowid
        await db.executemany(
            "INSERT INTO passages(doc_id, ordinal, start, end, line_start, line_end, text, terms)"
            " VALUES(?,?,?,?,?,?,?,?)",
            [(doc_id, *row) for row in rows],
        )

    async def _publish_arrays(self, db: aiosqlite.Connection, gen: int) -> np.ndarray:
        """Invert the live passages' term ids into the generation's arrays, then rename the
        finished directory into place (still before the commit that makes it live)."""
        async with db.execute(
            "SELECT p.id FROM passages p JOIN documents d ON d.id = p.doc_id "
            "WHERE d.retired_gen IS NULL ORDER BY d.path, p.ordinal"
        ) as cur:
            rows = await cur.fetchall()
        passage_ids = await asyncio.to_thread(_first_column, rows)  # 1M rows: ~0.1 s of Python
        del rows
        async with db.execute("SELECT COUNT(*) FROM documents WHERE retired_gen IS NULL") as cur:
            self.report.documents = (await cur.fetchone())[0]
        if not len(passage_ids):
            raise EmptyCorpus(
                f"the corpus at {self.corpus} has no indexable text; the previous index was kept"
            )
        async with db.execute("SELECT COUNT(*) FROM terms") as cur:
            vocabulary_size = (await cur.fetchone())[0]
        self.report.passages = len(passage_ids)
        target = store.generation_dir(self.db_path, gen)
        tmp = target.with_name(target.name + ".tmp")
        postings = await self._updated_postings(db, gen - 1, passage_ids, vocabulary_size)
        if postings is None:  # no usable previous generation, or most passages are new
            postings = await self._inverted_postings(db, vocabulary_size)
        await asyncio.to_thread(_write_arrays, postings, passage_ids, tmp)
        if vectors.wanted(self.vectors, len(passage_ids)):
            await self._write_vectors(db, tmp, passage_ids, gen - 1)
        await asyncio.to_thread(_publish, tmp, target)
        return passage_ids

    async def _updated_postings(
        self, db: aiosqlite.Connection, current: int, passage_ids: np.ndarray, vocabulary: int
    ) -> bm25.Postings | None:
        """The previous generation's postings updated with only the new passages' terms,
        when there is one to update and it is not mostly replaced."""
        live = store.generation_dir(self.db_path, current)
        try:
            old = await asyncio.to_thread(bm25.load_postings, live)
            old_ids = np.load(live / "passage_ids.npy")
        except (OSError, ValueError):
            return None
        if len(old_ids) != old.n or old.vocabulary_size > vocabulary:
            return None
        new = np.setdiff1d(passage_ids, old_ids, assume_unique=True)
        if len(new) > len(passage_ids) // 2:
            return None
        added: dict[int, np.ndarray] = {}
        for start in range(0, len(new), 10_000):
            chunk = [int(i) for i in new[start : start + 10_000]]
            marks = ",".join("?" * len(chunk))
            async with db.execute(
                f"SELECT id, terms FROM passages WHERE id IN ({marks})", chunk
            ) as cur:
                for pid, blob in await cur.fetchall():
                    added[pid] = np.frombuffer(blob, dtype=np.int32)
        return await asyncio.to_thread(
            bm25.update_postings, old, old_ids, passage_ids, added, vocabulary
        )

    async def _inverted_postings(self, db: aiosqlite.Connection, vocabulary: int) -> bm25.Postings:
        """All live passages' term ids inverted from scratch."""
        async with db.execute(
            "SELECT p.terms FROM passages p JOIN documents d ON d.id = p.doc_id "
            "WHERE d.retired_gen IS NULL ORDER BY d.path, p.ordinal"
        ) as cur:
            blobs = [r[0] for r in await cur.fetchall()]
        return await asyncio.to_thread(_invert, blobs, vocabulary)

    async def _write_vectors(
        self, db: aiosqlite.Connection, tmp: Path, passage_ids: np.ndarray, current: int
    ) -> None:
        """Passage vectors for re-ranking, reusing the live generation's rows."""
        previous = None
        live = store.generation_dir(self.db_path, current)
        try:
            loaded = vectors.load(live, rows=len(np.load(live / "passage_ids.npy", mmap_mode="r")))
            if loaded is not None:
                previous = (np.load(live / "passage_ids.npy"), loaded[0], loaded[1])
        except (OSError, ValueError):
            previous = None  # nothing usable to carry over: encode everything
        async with db.execute(
            "SELECT p.id, p.text FROM passages p JOIN documents d ON d.id = p.doc_id "
            "WHERE d.retired_gen IS NULL"
        ) as cur:
            texts = dict(await cur.fetchall())
        self.report.passages_encoded = await asyncio.to_thread(
            vectors.build,
            tmp,
            passage_ids,
            previous,
            lambda ids: [texts[int(i)] for i in ids],
            self.progress,
        )
        self.report.vector_model = semantic.Encoder.load().name


def _invert(blobs: list[bytes], vocabulary_size: int) -> bm25.Postings:
    lengths = np.fromiter((len(b) // 4 for b in blobs), dtype=np.int64, count=len(blobs))
    offsets = np.zeros(len(blobs) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    flat = np.frombuffer(b"".join(blobs), dtype=np.int32)
    return bm25.build_postings(flat, offsets, vocabulary_size)


def _write_arrays(postings: bm25.Postings, passage_ids: np.ndarray, tmp: Path) -> None:
    """The BM25 arrays and passage order of a generation, in a directory not yet live."""
    if tmp.exists():
        shutil.rmtree(tmp)
    bm25.save_postings(postings, tmp)
    with open(tmp / "passage_ids.npy", "wb") as fh:
        np.save(fh, passage_ids)
        fh.flush()
        os.fsync(fh.fileno())


def _publish(tmp: Path, target: Path) -> None:
    """Rename the finished directory into place; the commit that follows makes it live."""
    if target.exists():
        shutil.rmtree(target)
    os.rename(tmp, target)
    dir_fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


async def _load_vocabulary(db: aiosqlite.Connection) -> dict[str, int]:
    async with db.execute("SELECT term, id FROM terms") as cur:
        return dict(await cur.fetchall())  # C-speed: no per-row Python in the event loop


def _discard(in_flight: deque) -> None:
    """Cancel batches still in flight after a failure, and mark their errors as seen: a dead
    worker fails every pending future, and asyncio would log each one's traceback."""
    for _, future in in_flight:
        if not future.cancel() and not future.cancelled():
            future.exception()
    in_flight.clear()


def _first_column(rows: list[tuple]) -> np.ndarray:
    return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))


def _folder_prefix(folder: str) -> str:
    """What the paths of documents inside `folder` (relative, "." for the root) start with."""
    return "" if folder in ("", ".") else folder + "/"


async def build_index(
    corpus: Path,
    db_path: Path,
    progress: Progress | None = None,
    vectors: bool | None = None,
    *,
    repair: bool = False,
) -> ReindexReport:
    """Build or update the index at `db_path` from `corpus`; see module docstring.

    `vectors`: compute passage vectors for re-ranking (True), not (False), or only when the
    encoder is installed and the corpus has at most vectors.AUTO_LIMIT passages (None).
    `repair`: a damaged or foreign database is moved aside and the index built anew, with a
    warning (`shirabe index`); without it, StoreError says what is wrong and what to do. An
    engine serving questions never repairs: its open connection would still read the old file.
    """
    return await Builder(corpus, db_path, progress, vectors, repair).run()


def _as_store_error(db_path: Path, exc: Exception) -> store.StoreError:
    """StoreErrors as they are; sqlite3's errors explained (see store.describe_damage)."""
    if isinstance(exc, store.StoreError):
        return exc
    assert isinstance(exc, sqlite3.DatabaseError)
    return store.describe_damage(db_path, exc)
