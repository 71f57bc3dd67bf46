"""Every SQL statement the engine and the build run, as typed functions over a connection.

`store.py` owns the schema and the connection; this module owns what is read and written
through it, so the rest of `index/` (and nothing in `bot/`) never spells SQL. Functions take
the aiosqlite connection and return plain values, rows as tuples or small dataclasses.
Reading functions never change the connection's state (a row factory, say), because one
connection is shared by concurrent questions.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import aiosqlite
import numpy as np

from index.models import Document

LIVE = "retired_gen IS NULL"  # a document the current generation can see


@dataclass(frozen=True)
class PassageRow:
    """A passage with what a citation needs of its document."""

    id: int
    ordinal: int
    start: int
    end: int
    line_start: int
    line_end: int
    text: str
    path: str
    title: str
    url: str | None


@dataclass(frozen=True)
class DocumentRow:
    path: str
    title: str
    passages: int
    url: str | None
    head: str  # the first 400 characters


# ---- the engine ----------------------------------------------------------------------------


async def data_version(db: aiosqlite.Connection) -> int:
    """Changes only when another connection has committed (SQLite's PRAGMA data_version)."""
    async with db.execute("PRAGMA data_version") as cur:
        return (await cur.fetchone())[0]


async def live_generation(db: aiosqlite.Connection) -> int | None:
    """The generation `meta` names as live, or None before the first build."""
    async with db.execute("SELECT value FROM meta WHERE key = 'generation'") as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else None


async def terms_between(db: aiosqlite.Connection, first: int, end: int) -> list[tuple[str, int]]:
    """(term, id) for ids in [first, end): terms are append-only, so a reader that knows the
    first ids only reads the rest."""
    async with db.execute(
        "SELECT term, id FROM terms WHERE id >= ? AND id < ?", (first, end)
    ) as cur:
        return list(await cur.fetchall())


async def passage_rows(db: aiosqlite.Connection, ids: Sequence[int]) -> dict[int, PassageRow]:
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    async with db.execute(
        "SELECT p.id, p.ordinal, p.start, p.end, p.line_start, p.line_end, p.text, "
        "d.path, d.title, d.url FROM passages p JOIN documents d ON d.id = p.doc_id "
        f"WHERE p.id IN ({marks})",
        list(ids),
    ) as cur:
        return {row[0]: PassageRow(*row) for row in await cur.fetchall()}


async def find_documents(db: aiosqlite.Connection, text: str, limit: int) -> list[DocumentRow]:
    """Live documents whose title or path contains `text` (LIKE wildcards escaped)."""
    like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    async with db.execute(
        "SELECT path, title, passages, url, substr(text, 1, 400) FROM documents "
        f"WHERE {LIVE} AND (title LIKE ? ESCAPE '\\' OR path LIKE ? ESCAPE '\\')"
        " ORDER BY title LIMIT ?",
        (like, like, limit),
    ) as cur:
        return [DocumentRow(*row) for row in await cur.fetchall()]


async def document_named(db: aiosqlite.Connection, name: str) -> DocumentRow | None:
    """The live document with this path, or else this title."""
    async with db.execute(
        "SELECT path, title, passages, url, substr(text, 1, 400) FROM documents "
        f"WHERE {LIVE} AND (path = ? OR title = ?) ORDER BY path = ? DESC LIMIT 1",
        (name, name, name),
    ) as cur:
        row = await cur.fetchone()
    return DocumentRow(*row) if row else None


async def passage_place(db: aiosqlite.Connection, passage_id: int) -> tuple[str, int] | None:
    """(document path, ordinal) of a live passage by id; None once it was re-indexed."""
    async with db.execute(
        "SELECT d.path, p.ordinal FROM passages p JOIN documents d ON d.id = p.doc_id "
        f"WHERE p.id = ? AND d.{LIVE}",
        (passage_id,),
    ) as cur:
        row = await cur.fetchone()
    return (row[0], row[1]) if row else None


async def passage_with_neighbours(
    db: aiosqlite.Connection, path: str, ordinal: int
) -> tuple[DocumentRow, list[tuple[int, int, int, str]]] | None:
    """The live document at `path` and its passages ordinal-1..ordinal+1, each (ordinal,
    line_start, line_end, text); None when there is no such document."""
    async with db.execute(
        "SELECT id, path, title, passages, url, substr(text, 1, 400) FROM documents "
        f"WHERE {LIVE} AND path = ?",
        (path,),
    ) as cur:
        row = await cur.fetchone()
    if row is None:
        return None
    async with db.execute(
        "SELECT ordinal, line_start, line_end, text FROM passages WHERE doc_id = ? AND "
        "ordinal BETWEEN ? AND ? ORDER BY ordinal",
        (row[0], ordinal - 1, ordinal + 1),
    ) as cur:
        passages = list(await cur.fetchall())
    return DocumentRow(*row[1:]), passages


async def log_question(
    db: aiosqlite.Connection,
    *,
    at: str,
    guild_id: int | None,
    channel_id: int | None,
    question: str,
    docs: list[str],
    latency_ms: float,
    declined: str | None,
    verdict: str | None,
) -> int:
    """One row of the query log, committed; its id (votes refer to it). Who asked is never
    stored."""
    cur = await db.execute(
        "INSERT INTO query_log(at, guild_id, channel_id, question, top_docs, hits, "
        "latency_ms, declined, verdict) VALUES(?,?,?,?,?,?,?,?,?)",
        (
            at,
            guild_id,
            channel_id,
            question,
            json.dumps(docs, ensure_ascii=False),
            len(docs),
            latency_ms,
            declined,
            verdict,
        ),
    )
    row_id = cur.lastrowid
    await db.commit()
    assert row_id is not None
    return row_id


async def count_live_documents(db: aiosqlite.Connection) -> int:
    async with db.execute(f"SELECT COUNT(*) FROM documents WHERE {LIVE}") as cur:
        return (await cur.fetchone())[0]


async def passage_ids_added(db: aiosqlite.Connection, generation: int) -> np.ndarray:
    """Ids of the live passages a build of `generation` wrote, in index order: with the ids
    it retired, all an incremental publish needs (never every live id of a huge corpus)."""
    return await _ids(
        db,
        "SELECT p.id FROM passages p JOIN documents d ON d.id = p.doc_id "
        f"WHERE d.{LIVE} AND d.added_gen = ? ORDER BY d.path, p.ordinal",
        (generation,),
    )


async def passage_ids_retired(db: aiosqlite.Connection, generation: int) -> np.ndarray:
    """Ids of the passages whose documents the build of `generation` retired."""
    return await _ids(
        db,
        "SELECT p.id FROM passages p JOIN documents d ON d.id = p.doc_id WHERE d.retired_gen = ?",
        (generation,),
    )


async def _ids(db: aiosqlite.Connection, sql: str, params: tuple) -> np.ndarray:
    async with db.execute(sql, params) as cur:
        rows = await cur.fetchall()
    return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))


async def count_answered(db: aiosqlite.Connection) -> int:
    async with db.execute("SELECT COUNT(*) FROM query_log WHERE hits > 0") as cur:
        return (await cur.fetchone())[0]


# ---- the build -----------------------------------------------------------------------------


async def begin_write(db: aiosqlite.Connection) -> None:
    """Take the write lock now, so a build's rows and its `meta` commit as one transaction."""
    await db.execute("BEGIN IMMEDIATE")


async def sweep_retired(db: aiosqlite.Connection, up_to: int) -> None:
    """Drop documents (and their passages) retired at or before generation `up_to`: no
    reader can still be answering from those."""
    await db.execute(
        "DELETE FROM passages WHERE doc_id IN "
        "(SELECT id FROM documents WHERE retired_gen IS NOT NULL AND retired_gen <= ?)",
        (up_to,),
    )
    await db.execute(
        "DELETE FROM documents WHERE retired_gen IS NOT NULL AND retired_gen <= ?", (up_to,)
    )
    await db.commit()


async def retire_all(db: aiosqlite.Connection, generation: int) -> None:
    await db.execute(f"UPDATE documents SET retired_gen = ? WHERE {LIVE}", (generation,))


async def retire(db: aiosqlite.Connection, generation: int, doc_ids: Iterable[int]) -> None:
    await db.executemany(
        "UPDATE documents SET retired_gen = ? WHERE id = ?", [(generation, i) for i in doc_ids]
    )


async def update_metadata(
    db: aiosqlite.Connection, rows: Sequence[tuple[int, str, str | None, str | None]]
) -> int:
    """Set (title, url, date) of live documents by id; how many actually changed. The only
    in-place update of a document row: these fields are not part of any generation's
    ranking, so readers of the previous generation may see the new title early."""
    changed = 0
    for doc_id, title, url, date in rows:
        cur = await db.execute(
            "UPDATE documents SET title = ?, url = ?, date = ? WHERE id = ? AND "
            "(title IS NOT ? OR url IS NOT ? OR date IS NOT ?)",
            (title, url, date, doc_id, title, url, date),
        )
        changed += cur.rowcount
    return changed


async def live_documents(db: aiosqlite.Connection) -> dict[str, LiveDocument]:
    """path -> what the change scan compares, for the live documents."""
    sql = f"SELECT path, id, sha256, size, mtime FROM documents WHERE {LIVE}"
    async with db.execute(sql) as cur:
        return {row[0]: LiveDocument(*row[1:]) for row in await cur.fetchall()}


class LiveDocument(NamedTuple):
    id: int
    sha256: str
    size: int | None  # None: hash the file (recorded too soon after a change, or older index)
    mtime: float


async def restamp(db: aiosqlite.Connection, rows: Sequence[tuple[int, int | None, float]]) -> None:
    """Record the size and mtime of documents whose bytes were hashed unchanged under a new
    status (a file touched or copied back), so later builds need not hash them again."""
    await db.executemany(
        "UPDATE documents SET size = ?, mtime = ? WHERE id = ?",
        [(size, mtime, doc_id) for doc_id, size, mtime in rows],
    )


async def vocabulary(db: aiosqlite.Connection) -> dict[str, int]:
    async with db.execute("SELECT term, id FROM terms") as cur:
        return dict(await cur.fetchall())


async def vocabulary_size(db: aiosqlite.Connection) -> int:
    async with db.execute("SELECT COUNT(*) FROM terms") as cur:
        return (await cur.fetchone())[0]


async def add_terms(db: aiosqlite.Connection, first_id: int, terms: Sequence[str]) -> None:
    await db.executemany(
        "INSERT INTO terms(id, term) VALUES(?, ?)", [(first_id + i, t) for i, t in enumerate(terms)]
    )


async def add_document(
    db: aiosqlite.Connection, doc: Document, generation: int, passages: Sequence[tuple]
) -> None:
    """A document and its passages, each (ordinal, start, end, line_start, line_end, text,
    term-id blob)."""
    cur = await db.execute(
        "INSERT INTO documents(path, title, url, date, sha256, mtime, size, encoding, text, "
        "passages, added_gen) VALUES(?,?,?,?,?,?,?,?,?,?,?)",
        (
            doc.path,
            doc.title,
            doc.url,
            doc.date,
            doc.sha256,
            doc.mtime,
            doc.size,
            doc.encoding,
            doc.text,
            len(passages),
            generation,
        ),
    )
    doc_id = cur.lastrowid
    await db.executemany(
        "INSERT INTO passages(doc_id, ordinal, start, end, line_start, line_end, text, terms)"
        " VALUES(?,?,?,?,?,?,?,?)",
        [(doc_id, *row) for row in passages],
    )


async def live_passage_ids(db: aiosqlite.Connection) -> np.ndarray:
    """The live passages' ids in index order (by document path, then position)."""
    async with db.execute(
        "SELECT p.id FROM passages p JOIN documents d ON d.id = p.doc_id "
        f"WHERE d.{LIVE} ORDER BY d.path, p.ordinal"
    ) as cur:
        rows = await cur.fetchall()
    # 1M rows are ~0.1 s of Python: off the event loop that may be serving questions.
    return await asyncio.to_thread(
        lambda: np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    )


async def live_term_blobs(db: aiosqlite.Connection, chunk: int) -> AsyncIterator[list[bytes]]:
    """Each live passage's term ids (int32 bytes), in index order, `chunk` passages at a time
    (a ten-million-passage corpus is never read into memory at once)."""
    async with db.execute(
        "SELECT p.terms FROM passages p JOIN documents d ON d.id = p.doc_id "
        f"WHERE d.{LIVE} ORDER BY d.path, p.ordinal"
    ) as cur:
        while rows := await cur.fetchmany(chunk):
            yield [r[0] for r in rows]


async def term_ids_of(db: aiosqlite.Connection, ids: Sequence[int]) -> dict[int, np.ndarray]:
    """passage id -> its term ids, for a chunk of passages."""
    marks = ",".join("?" * len(ids))
    async with db.execute(
        f"SELECT id, terms FROM passages WHERE id IN ({marks})", list(ids)
    ) as cur:
        return {pid: np.frombuffer(blob, dtype=np.int32) for pid, blob in await cur.fetchall()}


async def live_passage_texts(db: aiosqlite.Connection) -> dict[int, str]:
    async with db.execute(
        f"SELECT p.id, p.text FROM passages p JOIN documents d ON d.id = p.doc_id WHERE d.{LIVE}"
    ) as cur:
        return dict(await cur.fetchall())
