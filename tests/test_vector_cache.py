"""The passage vector cache: encoded once, kept in memory and in the store, never trusted
when damaged, never waiting for a build.

The first group runs the cache itself with a stand-in encoder (no model needed); the second
runs re-ranked questions through the engine with the real one, counting what it encodes.
"""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from index.engine import Engine
from index.retrieval import semantic
from index.storage import store, vector_store
from index.storage.vector_cache import ENTRY_OVERHEAD, VectorCache, sentences_of
from tests.conftest import with_engine

TEXTS = {
    101: "ロシア軍が派遣された。治安部隊は首都に入った。",
    102: "燃料価格の高騰が抗議を呼んだ。",
    103: "議長国はアルメニアだった。首相が確認した。三日後に到着した。",
}
WAIT = 30.0  # seconds a test lets the writer take to finish (a bound against hanging only)


class CountingEncoder:
    """Deterministic unit vectors from each text's hash, and a record of what was encoded."""

    name = "stand-in-encoder/1"
    dim = 16

    def __init__(self) -> None:
        self.texts: list[str] = []

    def encode(self, texts: list[str]) -> np.ndarray:
        self.texts.extend(texts)
        rows = [
            np.random.default_rng(int.from_bytes(hashlib.sha256(t.encode()).digest()[:8])).random(
                self.dim
            )
            for t in texts
        ]
        out = np.array(rows, dtype=np.float32).reshape(len(texts), self.dim)
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def passages(*ids: int) -> list[tuple[int, str]]:
    return [(i, TEXTS[i]) for i in ids]


def run(coro):
    return asyncio.run(coro)


async def fetch(cache: VectorCache, db_path: Path, items) -> None:
    db = await store.connect(db_path)
    try:
        await cache.fetch(db, items)
    finally:
        await db.close()


def stored_rows(db_path: Path) -> dict[int, tuple]:
    con = sqlite3.connect(db_path)
    try:
        rows = con.execute("SELECT passage_id, digest, vector, sentences FROM passage_vectors")
        return {r[0]: r[1:] for r in rows}
    finally:
        con.close()


def write(db_path: Path, sql: str, *args) -> None:
    con = sqlite3.connect(db_path)
    try:
        con.execute(sql, args)
        con.commit()
    finally:
        con.close()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "data" / "shirabe.db"

    async def make() -> None:
        await (await store.connect(path)).close()

    run(make())
    return path


def filled(db: Path, ids=(101, 102, 103), shown=(101,)) -> tuple[VectorCache, CountingEncoder]:
    """A cache that encoded `ids` and the sentences of `shown`, written to the store."""
    encoder = CountingEncoder()
    cache = VectorCache(db, encoder)
    cache.passage_vectors(passages(*ids))
    cache.sentence_vectors(passages(*shown))
    cache.writer.close(WAIT)
    return cache, encoder


# ---- the cache with a stand-in encoder ----------------------------------------------------


def test_what_was_encoded_once_is_not_encoded_again(db: Path):
    encoder = CountingEncoder()
    cache = VectorCache(db, encoder)
    first = cache.passage_vectors(passages(101, 102))
    sents = cache.sentence_vectors(passages(101))
    encoder.texts.clear()
    again = cache.passage_vectors(passages(102, 101))
    assert encoder.texts == []
    np.testing.assert_array_equal(again, first[::-1])
    np.testing.assert_array_equal(cache.sentence_vectors(passages(101)), sents)
    assert encoder.texts == []
    assert len(sents) == len(sentences_of(TEXTS[101])) == 2
    # what a question uses is the stored (float16) form, encoded just now or not
    np.testing.assert_array_equal(first, first.astype(np.float16).astype(np.float32))
    cache.close()


def test_a_new_cache_reads_the_store_instead_of_encoding(db: Path):
    cache, _ = filled(db)
    expected = cache.passage_vectors(passages(101, 102, 103))
    expected_sents = cache.sentence_vectors(passages(101))
    encoder = CountingEncoder()
    fresh = VectorCache(db, encoder)
    run(fetch(fresh, db, passages(101, 102, 103)))
    np.testing.assert_array_equal(fresh.passage_vectors(passages(101, 102, 103)), expected)
    np.testing.assert_array_equal(fresh.sentence_vectors(passages(101)), expected_sents)
    assert encoder.texts == []
    assert fresh.stats.from_store == 3 and fresh.stats.encoded == 0
    # passage 102's sentences were never needed: the first time they are, they are encoded
    fresh.sentence_vectors(passages(102))
    assert encoder.texts == sentences_of(TEXTS[102])
    fresh.close()


def test_rows_of_another_encoder_are_not_used(db: Path):
    filled(db)
    other = CountingEncoder()
    other.name = "another-encoder/2"
    cache = VectorCache(db, other)
    run(fetch(cache, db, passages(101)))
    cache.passage_vectors(passages(101))
    assert other.texts == [TEXTS[101]]


def _blob(values) -> bytes:
    return np.asarray(values, dtype="<f2").tobytes()


CORRUPTIONS = {
    "short vector": ("vector", b"\x00\x01\x02"),
    "vector of another length": ("vector", _blob(np.eye(1, 32)[0])),
    "not a unit vector": ("vector", _blob(np.full(16, 0.9))),
    "NaN in the vector": ("vector", _blob([np.nan] + [0.0] * 15)),
    "text instead of a blob": ("vector", "not a vector"),
    "digest of another text": ("digest", hashlib.blake2b(b"x", digest_size=8).digest()),
    "one sentence missing": ("sentences", _blob(np.eye(1, 16)[0])),
    "sentences not unit vectors": ("sentences", _blob(np.zeros((2, 16)))),
}


@pytest.mark.parametrize("damage", list(CORRUPTIONS))
def test_a_damaged_row_is_ignored_and_encoded_again(db: Path, damage: str):
    cache, _ = filled(db)
    expected = cache.passage_vectors(passages(101))
    expected_sents = cache.sentence_vectors(passages(101))
    column, value = CORRUPTIONS[damage]
    write(db, f"UPDATE passage_vectors SET {column} = ? WHERE passage_id = 101", value)
    encoder = CountingEncoder()
    fresh = VectorCache(db, encoder)
    run(fetch(fresh, db, passages(101, 102)))
    np.testing.assert_array_equal(fresh.passage_vectors(passages(101)), expected)
    np.testing.assert_array_equal(fresh.sentence_vectors(passages(101)), expected_sents)
    damaged_vector = column in ("vector", "digest")
    damaged_sentences = column in ("sentences", "digest")
    assert (TEXTS[101] in encoder.texts) == damaged_vector
    assert (sentences_of(TEXTS[101])[0] in encoder.texts) == damaged_sentences
    fresh.close(WAIT)
    # and the row is whole again for the next reader
    digest, vector, sentences = stored_rows(db)[101]
    assert digest == vector_store.text_digest(TEXTS[101])
    np.testing.assert_array_equal(vector_store.from_blob(vector, 16, None), expected[0])
    assert len(vector_store.from_blob(sentences, 16, 0)) == 2


def test_a_passage_id_given_to_another_text_is_encoded_anew(db: Path):
    """SQLite may reuse the id of a deleted passage: the digest tells the texts apart."""
    filled(db)
    encoder = CountingEncoder()
    cache = VectorCache(db, encoder)
    reused = [(101, "まったく別の段落。")]
    run(fetch(cache, db, reused))
    cache.passage_vectors(reused)
    assert encoder.texts == ["まったく別の段落。"]


def test_memory_is_bounded(db: Path):
    encoder = CountingEncoder()
    one = 16 * 2 + ENTRY_OVERHEAD  # a float16 vector and what an entry costs around it
    cache = VectorCache(db, encoder, memory_bytes=2 * one)
    cache.passage_vectors(passages(101, 102, 103))
    encoder.texts.clear()
    cache.passage_vectors(passages(102, 103))  # the two most recent stayed
    assert encoder.texts == []
    cache.passage_vectors(passages(101))  # evicted: encoded again (the store is not read here)
    assert encoder.texts == [TEXTS[101]]
    cache.close()


def test_a_store_that_cannot_be_written_costs_only_speed(tmp_path: Path):
    encoder = CountingEncoder()
    cache = VectorCache(tmp_path / "no such folder" / "shirabe.db", encoder)
    vectors = cache.passage_vectors(passages(101, 102))
    cache.close(WAIT)
    assert cache.writer.failures >= 1 and cache.writer.written == 0
    encoder.texts.clear()
    np.testing.assert_array_equal(cache.passage_vectors(passages(101, 102)), vectors)
    assert encoder.texts == []


def test_a_locked_store_is_written_once_the_lock_is_released(db: Path):
    """A build holds the write lock: encoding does not wait for it, and the rows are kept
    and written when it is released."""
    build = sqlite3.connect(db, isolation_level=None)
    build.execute("BEGIN IMMEDIATE")
    try:
        cache = VectorCache(db, CountingEncoder())
        cache.passage_vectors(passages(101, 102))  # returns with the lock still held
        assert stored_rows(db) == {}
    finally:
        build.execute("COMMIT")
        build.close()
    cache.close(WAIT)
    assert set(stored_rows(db)) == {101, 102}


def test_sweep_drops_rows_of_gone_passages_and_of_other_encoders(db: Path, monkeypatch):
    filled(db)
    write(
        db,
        "INSERT INTO documents(id, path, title, sha256, mtime, encoding, text, passages, "
        "added_gen) VALUES(1, 'a.txt', 'a', '', 0, 'utf-8', '', 1, 1)",
    )
    write(
        db,
        "INSERT INTO passages(id, doc_id, ordinal, start, end, line_start, line_end, "
        "text, terms) VALUES(102, 1, 0, 0, 1, 1, 1, ?, x'')",
        TEXTS[102],
    )
    monkeypatch.setattr(semantic, "model_name", lambda: CountingEncoder.name)

    async def sweep() -> int:
        conn = await store.connect(db)
        try:
            return await vector_store.sweep(conn)
        finally:
            await conn.close()

    assert run(sweep()) == 2
    assert set(stored_rows(db)) == {102}
    monkeypatch.setattr(semantic, "model_name", lambda: "a newer encoder")
    assert run(sweep()) == 1 and stored_rows(db) == {}


def test_a_database_from_before_the_cache_gains_its_table(db: Path):
    write(db, "DROP TABLE passage_vectors")
    run(fetch(VectorCache(db, CountingEncoder()), db, []))  # connects as the engine does
    filled(db)
    assert set(stored_rows(db)) == {101, 102, 103}


# ---- re-ranked questions through the engine, with the real encoder --------------------------

needs_encoder = pytest.mark.skipif(not semantic.available(), reason="encoder not installed")
QUESTION = "CSTOの議長は誰?"


@pytest.fixture
def encoded(monkeypatch) -> list[str]:
    """Every text the real encoder is asked to encode, in order."""
    texts: list[str] = []
    real = semantic.Encoder.encode

    def counting(self, batch):
        texts.extend(batch)
        return real(self, batch)

    monkeypatch.setattr(semantic.Encoder, "encode", counting)
    return texts


def _summary(answer):
    return (
        answer.verdict,
        [(h.passage_id, round(h.similarity, 4)) for h in answer.hits],
        round(answer.best_sentence_similarity, 4),
    )


@needs_encoder
def test_builds_encode_nothing_and_a_question_encodes_its_head(corpus, db_path, encoded):
    async def body(engine: Engine):
        before = list(encoded)
        answer = await engine.ask(QUESTION)
        return before, answer, engine.vector_stats

    before, answer, stats = with_engine(corpus, db_path, body, rerank=True)
    assert before == []  # opening built the index: no passage was encoded
    assert all(h.similarity is not None for h in answer.hits)
    assert encoded[0] == QUESTION
    assert stats.encoded == 10 and stats.sentences_encoded == 3


@needs_encoder
def test_a_repeated_question_encodes_only_itself_even_after_a_restart(corpus, db_path, encoded):
    async def twice(engine: Engine):
        first = await engine.ask(QUESTION)
        encoded.clear()
        return first, await engine.ask(QUESTION)

    first, second = with_engine(corpus, db_path, twice, rerank=True)
    assert encoded == [QUESTION]
    assert _summary(second) == _summary(first)
    encoded.clear()

    async def again(engine: Engine):
        return await engine.ask(QUESTION), engine.vector_stats

    third, stats = with_engine(corpus, db_path, again, rerank=True)
    assert encoded == [QUESTION]  # the store had every vector
    assert stats.from_store == 10 and stats.encoded == 0
    assert _summary(third) == _summary(first)


@needs_encoder
def test_a_build_holding_the_write_lock_does_not_hold_up_a_reranked_answer(
    corpus, db_path, encoded
):
    async def body(engine: Engine):
        lock = sqlite3.connect(db_path, isolation_level=None)
        lock.execute("BEGIN IMMEDIATE")  # what a build does while it writes
        try:
            answer = await engine.ask(QUESTION)  # answered with the lock still held
        finally:
            lock.execute("COMMIT")
            lock.close()
        return answer

    answer = with_engine(corpus, db_path, body, rerank=True)
    assert answer.hits and all(h.similarity is not None for h in answer.hits)
    assert len(stored_rows(db_path)) == 10  # written when the engine closed, lock released


@needs_encoder
def test_a_corrupt_row_is_encoded_again_and_the_answer_is_unchanged(corpus, db_path, encoded):
    first = with_engine(corpus, db_path, lambda e: e.ask(QUESTION), rerank=True)
    victim = first.hits[0].passage_id
    write(db_path, "UPDATE passage_vectors SET vector = ? WHERE passage_id = ?", b"junk", victim)
    encoded.clear()
    again = with_engine(corpus, db_path, lambda e: e.ask(QUESTION), rerank=True)
    assert _summary(again) == _summary(first)
    assert encoded[0] == QUESTION and encoded[1:] == [first.hits[0].text]
