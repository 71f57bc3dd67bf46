"""The SQLite store of record (through aiosqlite): schema, connection, meta, damage.

One database holds documents, passages (with their term ids, so an incremental build never
re-tokenizes unchanged files), the vocabulary, index metadata, the query log and a cache of
passage vectors for re-ranking (`vector_store`; a database from before it gains the table
when opened, as every table of SCHEMA is created if missing). The ranking arrays of
generation N live beside it (`index.storage.generation`); `meta.generation` names the live one
and is written in the same transaction as the rows, so a crash at any point leaves either the
old generation or the new one, complete.

Rows are never updated in place: a changed document gets a new row and the old one is
marked `retired_gen`, so a reader still answering from the previous generation can fetch its
passages until the next build sweeps them.
"""

from __future__ import annotations

import functools
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import aiosqlite

from index.errors import IndexDamaged, IndexUnusable
from index.storage.generation import generations_dir

SCHEMA_VERSION = "1"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL,
    title TEXT NOT NULL,
    url TEXT,
    date TEXT,
    sha256 TEXT NOT NULL,
    mtime REAL NOT NULL,
    size INTEGER,
    encoding TEXT NOT NULL,
    text TEXT NOT NULL,
    passages INTEGER NOT NULL,
    added_gen INTEGER NOT NULL,
    retired_gen INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS documents_live ON documents(path) WHERE retired_gen IS NULL;
CREATE TABLE IF NOT EXISTS passages (
    id INTEGER PRIMARY KEY,
    doc_id INTEGER NOT NULL REFERENCES documents(id),
    ordinal INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    line_start INTEGER NOT NULL,
    line_end INTEGER NOT NULL,
    text TEXT NOT NULL,
    terms BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS passages_doc ON passages(doc_id, ordinal);
CREATE TABLE IF NOT EXISTS terms (id INTEGER PRIMARY KEY, term TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS query_log (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    guild_id INTEGER,
    channel_id INTEGER,
    question TEXT NOT NULL,
    top_docs TEXT NOT NULL,
    hits INTEGER NOT NULL,
    latency_ms REAL NOT NULL,
    declined TEXT,
    verdict TEXT
);
CREATE INDEX IF NOT EXISTS query_log_at ON query_log(at);
CREATE TABLE IF NOT EXISTS votes (
    query_id INTEGER NOT NULL REFERENCES query_log(id),
    voter TEXT NOT NULL,
    value INTEGER NOT NULL CHECK (value IN (-1, 1)),
    at TEXT NOT NULL,
    UNIQUE (query_id, voter)
);
CREATE TABLE IF NOT EXISTS passage_vectors (
    model INTEGER NOT NULL,
    passage_id INTEGER NOT NULL,
    digest BLOB NOT NULL,
    vector BLOB,
    sentences BLOB,
    PRIMARY KEY (model, passage_id)
) WITHOUT ROWID;
"""

# Columns added to a table since its first release, with their declarations: a database from
# before gains them when opened (`_upgrade`) instead of being refused as an older layout.
ADDED_COLUMNS: dict[str, dict[str, str]] = {
    "query_log": {"verdict": "TEXT"},
    "documents": {"size": "INTEGER"},
}


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


async def connect(db_path: Path, *, create: bool = True) -> aiosqlite.Connection:
    """Open the database in WAL mode with the schema in place.

    A file that is not a SQLite database (truncated, random bytes), or a SQLite database of
    another program or of an older layout, raises IndexUnusable with the path, instead of a
    traceback from deep inside sqlite3. The layout is checked before anything is written,
    so someone else's database given by mistake is not changed -- except that a table of ours
    lacking exactly the columns added since (`ADDED_COLUMNS`) gains them first.
    """
    if not create and not db_path.exists():
        raise IndexUnusable(f"no index at {db_path}: run `shirabe index` first")
    db_path.parent.mkdir(parents=True, exist_ok=True)
    db = await aiosqlite.connect(db_path, timeout=30)
    try:
        await _upgrade(db)
        await _check_layout(db, db_path)
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=NORMAL")
        await db.execute("PRAGMA foreign_keys=ON")
        await db.executescript(SCHEMA)
        await db.commit()
    except (sqlite3.DatabaseError, IndexUnusable) as exc:
        await db.close()
        if isinstance(exc, IndexUnusable):
            raise
        if is_damage(exc):
            raise IndexDamaged(f"{db_path} is not a usable shirabe database ({exc})") from exc
        raise IndexUnusable(f"the index database {db_path} cannot be used ({exc})") from exc
    return db


@functools.cache
def expected_columns() -> dict[str, frozenset[str]]:
    """Table -> column names, read from SCHEMA itself so the two cannot drift apart."""
    con = sqlite3.connect(":memory:")
    try:
        con.executescript(SCHEMA)
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: frozenset(r[1] for r in con.execute(f"PRAGMA table_info({t})")) for t in tables}
    finally:
        con.close()


async def _columns(db: aiosqlite.Connection, table: str) -> set[str]:
    """The columns of `table` (empty when there is no such table)."""
    async with db.execute(f"PRAGMA table_info({table})") as cur:
        return {r[1] for r in await cur.fetchall()}


async def _upgrade(db: aiosqlite.Connection) -> None:
    """Add the columns of `ADDED_COLUMNS` to a database from before they existed.

    Only a table that has every other column of ours is changed: anything else is another
    layout, which `_check_layout` refuses. Two processes opening the same old database may
    both try; the second finds the column there (under the write lock) and adds nothing.
    """
    ours = expected_columns()
    for table, added in ADDED_COLUMNS.items():
        missing = ours[table] - await _columns(db, table)
        if not missing or missing == ours[table] or not missing <= added.keys():
            continue
        await db.execute("BEGIN IMMEDIATE")
        try:
            for column in sorted(missing - await _columns(db, table)):
                await db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {added[column]}")
            await db.commit()
        except BaseException:
            await db.rollback()
            raise


async def _check_layout(db: aiosqlite.Connection, db_path: Path) -> None:
    """IndexUnusable unless every table of ours present has all its columns, and the file holds
    at least one of our tables whenever it holds any (else it belongs to another program)."""
    async with db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    ) as cur:
        tables = {r[0] for r in await cur.fetchall()}
    ours = expected_columns()
    if tables and not tables & ours.keys():
        raise IndexDamaged(
            f"{db_path} is a SQLite database of another program (tables: "
            f"{', '.join(sorted(tables)[:5])}), not a shirabe index"
        )
    for table in sorted(tables & ours.keys()):
        if missing := ours[table] - await _columns(db, table):
            raise IndexDamaged(
                f"{db_path} has an older or foreign layout (table {table} lacks "
                f"{', '.join(sorted(missing))})"
            )


def is_damage(exc: sqlite3.DatabaseError) -> bool:
    """Whether sqlite3 found the file damaged or not a database (SQLITE_CORRUPT/NOTADB)."""
    name = getattr(exc, "sqlite_errorname", "")
    text = str(exc)
    damaged = name in ("SQLITE_CORRUPT", "SQLITE_NOTADB")
    return damaged or "malformed" in text or "not a database" in text


def describe_damage(db_path: Path, exc: sqlite3.DatabaseError) -> IndexUnusable:
    """A IndexUnusable that says what broke and what to do, for errors sqlite3 raises mid-use."""
    if is_damage(exc):
        return IndexDamaged(
            f"the index database {db_path} is damaged ({exc}): run `shirabe index` to move it "
            "aside and rebuild it (stop the bot first), or restore a backup "
            '(see the README, "Operations")'
        )
    return IndexUnusable(f"the index database {db_path} cannot be used ({exc})")


async def read_meta(db: aiosqlite.Connection) -> dict[str, str]:
    async with db.execute("SELECT key, value FROM meta") as cur:
        return {k: v for k, v in await cur.fetchall()}


async def write_meta(db: aiosqlite.Connection, values: dict[str, str]) -> None:
    await db.executemany(
        "INSERT INTO meta(key, value) VALUES(?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [(k, str(v)) for k, v in values.items()],
    )


def quarantine(db_path: Path) -> Path:
    """Move an unusable database aside (never delete users' data) so a rebuild can start."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    target = db_path.with_name(f"{db_path.name}.broken-{stamp}")
    n = 1
    while target.exists():  # twice in one second: keep both
        n += 1
        target = db_path.with_name(f"{db_path.name}.broken-{stamp}-{n}")
    db_path.rename(target)
    for suffix in ("-wal", "-shm"):
        side = db_path.with_name(db_path.name + suffix)
        if side.exists():
            side.rename(target.with_name(target.name + suffix))
    shutil.rmtree(generations_dir(db_path), ignore_errors=True)
    return target
