"""The community loop's storage (index/storage/feedback.py through the Engine): the query log's
row ids and verdicts, votes under keyed hashes (a second click replaces the first), the asker
tag of the 🗑 button, /unanswered's grouping, and the upgrade of a database from before."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from pathlib import Path

import pytest

from index.engine import Engine
from index.errors import IndexDamaged
from index.storage import feedback, store
from tests.conftest import BUNDLED, with_engine

OLD_QUERY_LOG = """CREATE TABLE query_log (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    guild_id INTEGER,
    channel_id INTEGER,
    question TEXT NOT NULL,
    top_docs TEXT NOT NULL,
    hits INTEGER NOT NULL,
    latency_ms REAL NOT NULL,
    declined TEXT
)"""
USER, OTHER = 123456789012345678, 223456789012345678


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The bundled corpus indexed once; each test works on its own copy of the database."""
    from index.storage.build import build_index

    db = tmp_path_factory.mktemp("feedback") / "shirabe.db"
    asyncio.run(build_index(BUNDLED, db))
    return BUNDLED, db


@pytest.fixture
def index(built: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path]:
    corpus, db = built
    copy = tmp_path / "shirabe.db"
    shutil.copy(db, copy)
    shutil.copytree(db.with_name(db.name + ".gen"), copy.with_name(copy.name + ".gen"))
    return corpus, copy


async def log(engine: Engine, question: str) -> int:
    answer = await engine.ask(question)
    return await engine.log_query(guild_id=1, channel_id=2, question=question, answer=answer)


def rows(db: Path, sql: str, *args: object) -> list[tuple]:
    con = sqlite3.connect(db)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


# ---- pure functions ------------------------------------------------------------------------


def test_wordings_are_grouped_by_nfkc_lower_case_spaces_and_no_trailing_question_mark() -> None:
    same = ["CSTOの議長は誰?", "ｃｓｔｏの議長は誰？", "  CSTOの議長は誰 ? ？", "cstoの議長は誰"]
    assert {feedback.normalize_wording(q) for q in same} == {"cstoの議長は誰"}
    assert feedback.normalize_wording("who  chairs\nCSTO ?") == "who chairs csto"
    assert feedback.normalize_wording("?") == ""


def test_hashes_depend_on_the_key_the_question_and_the_user() -> None:
    key, other_key = b"k" * 32, b"x" * 32
    tag = feedback.asker_tag(key, 1, USER)
    assert len(tag) == feedback.ASKER_TAG_CHARS and str(USER) not in tag
    assert tag == feedback.asker_tag(key, 1, USER)
    assert tag not in {
        feedback.asker_tag(key, 2, USER),
        feedback.asker_tag(key, 1, OTHER),
        feedback.asker_tag(other_key, 1, USER),
    }
    assert not feedback.voter_hash(key, 1, USER).startswith(tag), "votes and tags do not link"


# ---- the engine ----------------------------------------------------------------------------


def test_the_log_returns_row_ids_and_keeps_the_verdict(index: tuple[Path, Path]) -> None:
    corpus, db = index

    async def body(engine: Engine) -> list[int]:
        return [await log(engine, q) for q in ("CSTOの議長は誰?", "xyzzy plugh")]

    first, second = with_engine(corpus, db, body)
    assert second > first
    logged = rows(db, "SELECT id, verdict, declined FROM query_log ORDER BY id")
    assert logged[-2][:2] == (first, "answered")
    assert logged[-1][:2] == (second, "nothing") and logged[-1][2]


def test_a_second_click_replaces_the_vote_and_no_user_id_is_stored(
    index: tuple[Path, Path],
) -> None:
    corpus, db = index

    async def body(engine: Engine):
        query = await log(engine, "CSTOの議長は誰?")
        stored = [
            await engine.record_vote(query, USER, 1),
            await engine.record_vote(query, USER, -1),  # changed their mind
            await engine.record_vote(query, OTHER, 1),
            await engine.record_vote(query + 1000, USER, 1),  # no such question
        ]
        return query, stored, await engine.votes(query)

    query, stored, counts = with_engine(corpus, db, body)
    assert stored == [True, True, True, False]
    assert counts == (1, 1), "USER's 👎 replaced their 👍; OTHER's 👍 stands"
    votes = rows(db, "SELECT query_id, voter, value FROM votes")
    assert len(votes) == 2 and {v[2] for v in votes} == {1, -1}
    with open(db, "rb") as f:
        raw = f.read()
    for user in (USER, OTHER):
        assert str(user).encode() not in raw
        assert all(str(user) not in v[1] for v in votes)


def test_the_asker_tag_survives_reopening_and_recognises_only_the_asker(
    index: tuple[Path, Path],
) -> None:
    corpus, db = index

    async def first(engine: Engine):
        query = await log(engine, "CSTOの議長は誰?")
        return query, await engine.asker_tag(query, USER)

    query, tag = with_engine(corpus, db, first)

    async def later(engine: Engine):  # another process, same database
        return (
            await engine.asker_tag(query, USER),
            await engine.is_asker(query, USER, tag),
            await engine.is_asker(query, OTHER, tag),
        )

    assert with_engine(corpus, db, later) == (tag, True, False)
    assert rows(db, "SELECT COUNT(*) FROM meta WHERE key = ?", feedback.SECRET_KEY) == [(1,)]


def test_unanswered_groups_wordings_most_asked_first(index: tuple[Path, Path]) -> None:
    corpus, db = index

    async def body(engine: Engine):
        for q in ("xyzzy plugh", "Xyzzy  plugh?", "ｘｙｚｚｙ plugh？"):
            await log(engine, q)  # nothing, three times
        await log(engine, "how old is Tokayev?")  # related
        downvoted = await log(engine, "CSTOの議長は誰?")
        await engine.record_vote(downvoted, USER, -1)
        liked = await log(engine, "CSTOの本部はどこ?")
        await engine.record_vote(liked, USER, 1)
        old = await log(engine, "plover")
        return old, await engine.unanswered(7), await engine.unanswered(7, limit=1)

    old, groups, top = with_engine(corpus, db, body)
    by_wording = {g.wording: g for g in groups}
    assert groups[0].wording == "xyzzy plugh" and groups[0].count == 3
    assert groups[0].nothing == 3 and groups[0].question == "ｘｙｚｚｙ plugh？", "latest wording"
    assert by_wording["how old is tokayev"].related == 1
    assert by_wording["cstoの議長は誰"].down_votes == 1
    assert "cstoの本部はどこ" not in by_wording, "answered and liked: not a to-do"
    assert [g.wording for g in top] == ["xyzzy plugh"]

    # Out of the window: a question asked 8 days ago.
    con = sqlite3.connect(db)
    con.execute("UPDATE query_log SET at = '2000-01-01T00:00:00+00:00' WHERE id = ?", (old,))
    con.commit()
    con.close()

    async def again(engine: Engine):
        return await engine.unanswered(7), await engine.unanswered(365 * 100)

    recent, ever = with_engine(corpus, db, again)
    assert "plover" not in {g.wording for g in recent}
    assert "plover" in {g.wording for g in ever}


# ---- the upgrade ---------------------------------------------------------------------------


def test_a_database_with_the_old_query_log_gains_the_verdict_column(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    con.execute(OLD_QUERY_LOG)
    con.execute(
        "INSERT INTO query_log(at, question, top_docs, hits, latency_ms, declined) "
        "VALUES('2026-01-01T00:00:00+00:00', 'old question', '[]', 0, 1.0, 'nothing found')"
    )
    con.commit()
    con.close()

    async def upgrade() -> set[str]:
        conn = await store.connect(db, create=False)
        try:
            async with conn.execute("PRAGMA table_info(query_log)") as cur:
                return {r[1] for r in await cur.fetchall()}
        finally:
            await conn.close()

    assert "verdict" in asyncio.run(upgrade())
    assert rows(db, "SELECT question, verdict FROM query_log") == [("old question", None)]
    assert rows(db, "SELECT name FROM sqlite_master WHERE name = 'votes'") == [("votes",)]
    assert "verdict" in asyncio.run(upgrade()), "opening again changes nothing"


def test_a_built_index_from_before_opens_without_a_rebuild(index: tuple[Path, Path]) -> None:
    corpus, db = index
    con = sqlite3.connect(db)
    con.execute("DROP TABLE votes")
    con.execute("ALTER TABLE query_log DROP COLUMN verdict")
    con.commit()
    con.close()

    async def body(engine: Engine):
        query = await log(engine, "xyzzy plugh")
        return engine.notices, query, await engine.record_vote(query, USER, -1)

    notices, query, stored = with_engine(corpus, db, body, build_if_missing=False)
    assert notices == [] and stored
    assert rows(db, "SELECT verdict FROM query_log WHERE id = ?", query) == [("nothing",)]


def test_a_query_log_lacking_other_columns_is_still_refused(tmp_path: Path) -> None:
    db = tmp_path / "foreign.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE query_log (id INTEGER PRIMARY KEY, question TEXT)")
    con.commit()
    con.close()
    with pytest.raises(IndexDamaged, match="table query_log lacks"):
        asyncio.run(store.connect(db, create=False))
    assert rows(db, "PRAGMA table_info(query_log)")[-1][1] == "question", "left unchanged"


def test_the_log_reader_opens_a_database_without_loading_the_index(
    index: tuple[Path, Path],
) -> None:
    corpus, db = index

    async def write(engine: Engine) -> int:
        return await log(engine, "xyzzy plugh")

    with_engine(corpus, db, write)
    shutil.rmtree(db.with_name(db.name + ".gen"))  # no generation files at all

    async def read():
        async with await Engine.open_log(db) as engine:
            return await engine.unanswered(1)

    assert [g.wording for g in asyncio.run(read())] == ["xyzzy plugh"]
