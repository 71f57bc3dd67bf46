"""The persistent half of the vector cache: the `passage_vectors` table of the SQLite store.

A passage's vector (and the vectors of its sentences, once the decline rule needed them) is
kept per passage id and encoder, so another process, or this one after a restart, encodes
only what no one has encoded before. Rows are read on the engine's shared connection (a read
never waits for a writer in WAL mode) and written by `StoreWriter`, a thread with a
connection of its own that gives up after a short wait: a build holding the write lock, a
read-only file or a full disk cost a later question an encoding, never a wait. Everything
here is best effort; the schema is in `store.py`.

A row also holds a digest of the passage text, checked on every read: SQLite may give a new
passage the id of a deleted one, and a row from before must not pass for its vector.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import aiosqlite
import numpy as np

from index.retrieval import semantic

log = logging.getLogger(__name__)

BLOB_DTYPE = np.dtype("<f2")  # float16, little-endian whatever the machine
NORM_TOLERANCE = 1e-2  # a stored row is a unit vector within float16's error (~1e-4)
WRITE_WAIT_S = 0.5  # the writer's busy timeout: how long it waits for a build's write lock
GATHER_S = 0.2  # the writer waits this long after a row for more, then writes them together
CLOSE_WAIT_S = 2.0  # how long closing waits for the last rows to be written
RETRY_S = 5.0  # after a failed write, the writer tries again this much later
MAX_PENDING = 20_000  # rows the writer holds while the store is locked; the oldest go first

Row = tuple[int, int, bytes, bytes | None, bytes | None]  # model, passage id, digest, blobs


@dataclass(frozen=True)
class StoredVectors:
    """One row as read back: parts that are missing or fail the checks are None."""

    digest: bytes
    vector: np.ndarray | None  # (dim,) float16
    sentences: np.ndarray | None  # (sentences, dim) float16


def model_key(name: str) -> int:
    """The encoder's name as the table's 64-bit key (names are long; rows are many)."""
    digest = hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


def text_digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest()


def to_blob(vectors: np.ndarray | None) -> bytes | None:
    return None if vectors is None else np.asarray(vectors, dtype=BLOB_DTYPE).tobytes()


def from_blob(blob: object, dim: int, rows: int | None) -> np.ndarray | None:
    """A blob back as float16 unit rows ((dim,) when `rows` is None); None unless it is
    exactly that: the right length, finite, each row of length 1."""
    if not isinstance(blob, bytes) or len(blob) % (2 * dim):
        return None
    vectors = np.frombuffer(blob, dtype=BLOB_DTYPE).reshape(-1, dim)
    if (rows is None and len(vectors) != 1) or not np.isfinite(vectors).all():
        return None
    norms = np.linalg.norm(vectors.astype(np.float32), axis=1)
    if np.any(np.abs(norms - 1) > NORM_TOLERANCE):
        return None
    return vectors[0] if rows is None else vectors


# ---- reading, and the build's sweep (on an aiosqlite connection) ----------------------------


async def read(
    db: aiosqlite.Connection, model: int, ids: Sequence[int], dim: int
) -> dict[int, StoredVectors]:
    """The stored rows of `ids` for encoder `model`. The cache is optional: a store that
    cannot be read right now (locked schema, damage) reads as empty."""
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    try:
        async with db.execute(
            "SELECT passage_id, digest, vector, sentences FROM passage_vectors "
            f"WHERE model = ? AND passage_id IN ({marks})",
            [model, *ids],
        ) as cur:
            rows = await cur.fetchall()
    except sqlite3.DatabaseError as exc:
        log.debug("vector cache not readable: %s", exc)
        return {}
    return {
        pid: StoredVectors(bytes(digest), from_blob(vector, dim, None), from_blob(sents, dim, 0))
        for pid, digest, vector, sents in rows
        if isinstance(digest, bytes)
    }


async def sweep(db: aiosqlite.Connection) -> int:
    """Delete cached vectors of passages that no longer exist, and of other encoders than the
    installed one (when one is); committed. Meant for the build, after `sweep_retired`.
    Returns how many rows went."""
    cur = await db.execute(
        "DELETE FROM passage_vectors WHERE passage_id NOT IN (SELECT id FROM passages)"
    )
    gone = cur.rowcount
    if name := semantic.model_name():
        cur = await db.execute("DELETE FROM passage_vectors WHERE model != ?", (model_key(name),))
        gone += cur.rowcount
    await db.commit()
    return gone


async def clear(db: aiosqlite.Connection) -> int:
    """Delete every cached vector, of every encoder; committed (the bench starts from an
    empty cache). Returns how many rows went."""
    cur = await db.execute("DELETE FROM passage_vectors")
    await db.commit()
    return cur.rowcount


# ---- writing (a thread with its own connection) ---------------------------------------------

UPSERT = (
    "INSERT INTO passage_vectors(model, passage_id, digest, vector, sentences) "
    "VALUES(?, ?, ?, ?, ?) ON CONFLICT(model, passage_id) DO UPDATE SET "
    # a row written with only the vector keeps the sentences already stored for the same text
    "sentences = CASE WHEN excluded.sentences IS NULL AND digest = excluded.digest "
    "THEN sentences ELSE excluded.sentences END, "
    "vector = COALESCE(excluded.vector, CASE WHEN digest = excluded.digest THEN vector END), "
    "digest = excluded.digest"
)


class StoreWriter:
    """Writes cache rows in the background, best effort.

    `put` never blocks. The thread starts with the first row, opens its own connection, and
    writes whatever has queued up in one short transaction. When the store is locked (a
    build) it keeps the rows (up to MAX_PENDING) and tries again later; when it cannot be
    written at all (read-only, damaged) it stops writing for the life of the engine.
    """

    _STOP = object()

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self.failures = 0  # writes that did not happen (locked, read-only, ...)
        self.written = 0
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._disabled = False

    def put(self, rows: list[Row]) -> None:
        if self._disabled or not rows:
            return
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="shirabe-vector-cache", daemon=True
                )
                self._thread.start()
        self._queue.put(rows)

    def close(self, wait: float = CLOSE_WAIT_S) -> None:
        """Write what is pending (one more try) and stop, waiting at most `wait` seconds."""
        if self._thread is not None:
            self._queue.put(self._STOP)
            self._thread.join(wait)

    def _run(self) -> None:
        pending: dict[tuple[int, int], Row] = {}
        con: sqlite3.Connection | None = None
        stopping = False
        while not stopping:
            try:
                batches = [self._queue.get(timeout=RETRY_S if pending else None)]
            except queue.Empty:
                batches = []
            # Gather for a moment: the question that queued these rows is usually still
            # encoding (its shown passages' sentences), and a write now would take its CPU.
            deadline = time.monotonic() + GATHER_S
            while self._STOP not in batches:
                try:
                    batches.append(self._queue.get(timeout=max(0.0, deadline - time.monotonic())))
                except queue.Empty:
                    break
            for rows in batches:
                if rows is self._STOP:
                    stopping = True
                else:
                    pending.update(((r[0], r[1]), r) for r in rows)
            while len(pending) > MAX_PENDING:
                pending.pop(next(iter(pending)))
            if pending:
                con = self._write(con, list(pending.values()))
                if con is not None or self._disabled:
                    pending.clear()
        if con is not None:
            con.close()

    def _write(self, con: sqlite3.Connection | None, rows: list[Row]) -> sqlite3.Connection | None:
        """One transaction of `rows`; the connection to use next time (None after failing)."""
        try:
            if con is None:
                con = sqlite3.connect(self.db_path, timeout=WRITE_WAIT_S, isolation_level=None)
                con.execute("PRAGMA synchronous=NORMAL")
            con.execute("BEGIN IMMEDIATE")
            try:
                con.executemany(UPSERT, rows)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            self.written += len(rows)
            return con
        except sqlite3.Error as exc:
            self.failures += 1
            busy = getattr(exc, "sqlite_errorname", "") in ("SQLITE_BUSY", "SQLITE_LOCKED")
            if not (busy or "locked" in str(exc)):
                self._disabled = True  # read-only, full, damaged: questions just encode
                log.warning("vector cache not written (%s): vectors are kept in memory only", exc)
            if con is not None:
                con.close()
            return None
