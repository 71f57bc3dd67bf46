"""The change scan trusts a file's recorded size and mtime, and only when they can vouch."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from pathlib import Path

import pytest

from index.storage import ingest
from index.storage.build import build_index

HOUR = 3600.0


def build(corpus: Path, db: Path):
    return asyncio.run(build_index(corpus, db))


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How many times each corpus file's bytes were read during a build."""
    real = ingest.read_stamped
    counts: dict[str, int] = {}

    def counting(file: ingest.CorpusFile) -> tuple[bytes, ingest.Stamp]:
        counts[file.rel] = counts.get(file.rel, 0) + 1
        return real(file)

    monkeypatch.setattr(ingest, "read_stamped", counting)
    return counts


def settle(path: Path, seconds_ago: float = HOUR) -> float:
    """Give `path` an mtime old enough for its status to vouch for it; returns that mtime."""
    mtime = time.time() - seconds_ago
    os.utime(path, (mtime, mtime))
    return mtime


def same_size_edit(path: Path) -> None:
    """Change the file's bytes without changing its size."""
    data = bytearray(path.read_bytes())
    data[-2:] = b"!!" if data[-2:] != b"!!" else b"??"
    path.write_bytes(bytes(data))


def recorded_sizes(db: Path) -> dict[str, int | None]:
    con = sqlite3.connect(db)
    try:
        rows = con.execute("SELECT path, size FROM documents WHERE retired_gen IS NULL")
        return dict(rows.fetchall())
    finally:
        con.close()


def test_unchanged_files_are_not_read_again(corpus, db_path, reads):
    for path in corpus.glob("*.txt"):
        settle(path)
    build(corpus, db_path)
    assert all(n == 2 for n in reads.values()), "the first build reads to hash and to index"
    reads.clear()
    report = build(corpus, db_path)
    assert (report.added, report.changed, report.unchanged) == (0, 0, 5)
    assert reads == {}


def test_a_same_size_edit_with_a_new_mtime_is_indexed(corpus, db_path, reads):
    paths = sorted(corpus.glob("*.txt"))
    for path in paths:
        settle(path)
    build(corpus, db_path)
    same_size_edit(paths[1])
    settle(paths[1], seconds_ago=60)  # newer than recorded, same size
    reads.clear()
    report = build(corpus, db_path)
    assert (report.changed, report.unchanged) == (1, 4)
    assert set(reads) == {paths[1].name}


def test_a_file_modified_just_before_it_was_read_is_hashed_next_time(corpus, db_path, reads):
    """Within one tick of the file clock an edit may keep the mtime: such a file's status is
    not recorded, so the next build reads it even though its size and mtime look the same."""
    paths = sorted(corpus.glob("*.txt"))
    for path in paths[1:]:
        settle(path)
    fresh = paths[0]
    mtime = time.time_ns()  # written just now
    os.utime(fresh, ns=(mtime, mtime))
    build(corpus, db_path)
    assert recorded_sizes(db_path)[fresh.name] is None
    same_size_edit(fresh)
    os.utime(fresh, ns=(mtime, mtime))  # the edit landed in the same tick
    reads.clear()
    report = build(corpus, db_path)
    assert report.changed == 1 and reads == {fresh.name: 2}


def test_a_touched_file_is_hashed_once_then_trusted(corpus, db_path, reads):
    paths = sorted(corpus.glob("*.txt"))
    for path in paths:
        settle(path)
    build(corpus, db_path)
    settle(paths[3], seconds_ago=HOUR / 2)  # touched, bytes unchanged
    reads.clear()
    assert build(corpus, db_path).unchanged == 5
    assert reads == {paths[3].name: 1}
    reads.clear()
    assert build(corpus, db_path).unchanged == 5
    assert reads == {}


def test_an_index_from_before_the_size_column_is_hashed_once(corpus, db_path, reads):
    for path in corpus.glob("*.txt"):
        settle(path)
    build(corpus, db_path)
    con = sqlite3.connect(db_path)
    con.execute("DROP INDEX documents_live")
    con.execute("ALTER TABLE documents DROP COLUMN size")
    con.execute("CREATE UNIQUE INDEX documents_live ON documents(path) WHERE retired_gen IS NULL")
    con.commit()
    con.close()
    reads.clear()
    report = build(corpus, db_path)
    assert (report.changed, report.unchanged) == (0, 5)
    assert len(reads) == 5 and all(n == 1 for n in reads.values())
    assert None not in recorded_sizes(db_path).values()
    reads.clear()
    build(corpus, db_path)
    assert reads == {}
