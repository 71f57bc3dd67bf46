"""Semantic re-ranking: the blend, its switches, and passage vectors cached across builds
(the cache itself: test_vector_cache.py)."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from bot.json_answer import answer_json
from index import errors
from index.engine import Engine
from index.retrieval import search, semantic
from index.settings import DEFAULT
from tests.conftest import with_engine

pytestmark = pytest.mark.skipif(not semantic.available(), reason="encoder not installed")


AUTO = replace(DEFAULT, rerank=None)  # re-rank when the encoder is installed


def test_auto_reranks_when_the_encoder_is_installed_whatever_the_index(corpus, db_path):
    """No build computes vectors any more, so "auto" depends on the encoder alone."""

    async def body(engine: Engine):
        return engine.reranking, await engine.ask("CSTOの議長は誰?")

    reranking, answer = with_engine(corpus, db_path, body, settings=AUTO)
    assert reranking
    assert all(h.similarity is not None for h in answer.hits)
    assert answer.best_similarity is not None and answer.best_sentence_similarity is not None


def test_auto_without_the_encoder_is_bm25(bundled_engine_paths, monkeypatch):
    corpus, db = bundled_engine_paths
    monkeypatch.setattr(semantic, "available", lambda: False)

    async def body(engine: Engine):
        return engine.reranking, await engine.ask("CSTOの議長は誰?")

    reranking, answer = with_engine(corpus, db, body, settings=AUTO)
    assert not reranking and answer.hits
    assert all(h.similarity is None for h in answer.hits)


def test_a_rebuild_keeps_the_cached_vectors_of_unchanged_passages(corpus, db_path, monkeypatch):
    """Passage ids survive a rebuild for unchanged passages, so a question after it encodes
    only the passages it had not met before: here the changed file's new one."""
    encoded: list[str] = []
    real = semantic.Encoder.encode
    monkeypatch.setattr(
        semantic.Encoder, "encode", lambda self, texts: encoded.extend(texts) or real(self, texts)
    )
    question = "ロシア軍の派遣"
    new_text = "差し替えられた記事。ロシア軍の派遣が決まった。"

    async def body(engine: Engine):
        before = await engine.ask(question, k=10)  # k = rerank_pool: the hits are the head
        sorted(corpus.glob("*.txt"))[1].write_text(new_text + "\n", encoding="utf-8")
        report = await engine.reindex()
        encoded_before = engine.vector_stats.encoded
        encoded.clear()
        after = await engine.ask(question, k=10)
        return before, report, after, engine.vector_stats.encoded - encoded_before

    before, report, after, passages_encoded = with_engine(corpus, db_path, body, rerank=True)
    assert report.changed == 1 and len(after.hits) == 10
    fresh = {h.passage_id for h in after.hits} - {h.passage_id for h in before.hits}
    assert any(h.text == new_text and h.passage_id in fresh for h in after.hits)
    assert passages_encoded == len(fresh)
    assert encoded[0] == question and new_text in encoded


def test_reranking_follows_the_similarity(tmp_path):
    """BM25 prefers the passage repeating the question's words; the encoder sees that the
    other one is about what was asked, and with re-ranking that one comes first."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    texts = {
        "a.txt": "報告書によると、報告書の原因は長雨と気温の低下だった。",
        "b.txt": "報告書によると、原因は燃料価格の値上げに怒った市民の抗議行動だった。",
        "c.txt": "空港は三日間閉鎖された。",
        "d.txt": "大統領は首都で演説した。",
        "e.txt": "湖の周辺に部隊が展開した。",
        "f.txt": "外相は電話で会談した。",
    }
    for name, text in texts.items():
        (corpus / name).write_text(text + "\n", encoding="utf-8")
    question = "報告書にある原因: デモ参加者の怒り"

    async def body(engine: Engine):
        engine.settings = replace(engine.settings, rerank_weight=1.0, min_coverage=0.0)
        on = await engine.ask(question, k=2)
        engine.settings = replace(engine.settings, rerank=False)
        off = await engine.ask(question, k=2)
        return on, off

    on, off = with_engine(corpus, tmp_path / "db" / "s.db", body, rerank=True)
    # BM25 alone now also puts b first: the colloquial bridge reads デモ as 抗議 (b's word).
    assert {h.citation.doc for h in off.hits} == {"a.txt", "b.txt"}
    sims = {h.citation.doc: h.similarity for h in on.hits}
    assert sims["b.txt"] > sims["a.txt"]
    assert [h.citation.doc for h in on.hits] == ["b.txt", "a.txt"]
    assert all(h.similarity is None for h in off.hits)


def test_rerank_false_gives_the_bm25_stage_order(bundled_engine_paths):
    corpus, db = bundled_engine_paths

    async def body(engine: Engine):
        gen = engine.generation
        out = []
        for question in ("カザフスタンの治安部隊", "ロシア軍の派遣", "燃料価格の高騰"):
            answer = await engine.ask(question, k=10)
            plan = search.plan_query(
                question, gen.vocabulary.__contains__, gen.names(), vocab=gen.terms()
            )
            ids = [[gen.vocabulary[t] for t in g.terms if t in gen.vocabulary] for g in plan.groups]
            ranked = search.rank(gen.postings, ids, 10)
            expected = [int(gen.passage_ids[c.index]) for c in ranked.pool[:10]]
            out.append(([h.passage_id for h in answer.hits], expected))
        return out

    for got, expected in with_engine(corpus, db, body, rerank=False):
        assert got == expected


@pytest.mark.parametrize(
    "question", ["How do I bake sourdough bread?", "明日の東京の天気は晴れますか?"]
)
def test_off_topic_questions_are_declined_in_both_languages(bundled_engine_paths, question):
    corpus, db = bundled_engine_paths

    async def body(engine: Engine):
        return await engine.ask(question)

    answer = with_engine(corpus, db, body)
    assert answer.verdict == "nothing" and answer.hits == [] and answer.declined


@pytest.mark.parametrize("rerank", [True, False])
@pytest.mark.parametrize(
    ("question", "wanted"),
    [
        ("トカエフ大統領は何歳?", "how many"),
        ("セブ湖の面積はどれくらい?", "how many"),
        ("How old is Tokayev?", None),
    ],
)
def test_a_fact_the_documents_lack_is_related_not_answered(
    bundled_engine_paths, question, wanted, rerank
):
    """The documents name Tokayev and Lake Sev often, but never an age or an area: the
    question's words match well, yet no shown sentence holds an answer of the asked type.
    The passages are shown (they are about the question), marked "related", no answer line."""
    corpus, db = bundled_engine_paths

    async def body(engine: Engine):
        return await engine.ask(question)

    answer = with_engine(corpus, db, body, rerank=rerank)
    assert answer.verdict == "related" and answer.answer is None
    assert answer.hits and answer.declined is None
    assert answer.answer_found is False
    if wanted:
        assert wanted in answer.reason


@pytest.mark.parametrize(
    "question",
    [
        "カザフスタン全土での死者数は何人に上った?",
        "How many people died in the unrest in Kazakhstan?",
    ],
)
def test_a_fact_the_documents_give_is_answered_with_its_span(bundled_engine_paths, question):
    corpus, db = bundled_engine_paths

    async def body(engine: Engine):
        return await engine.ask(question)

    answer = with_engine(corpus, db, body)
    assert answer.verdict == "answered" and answer.answer_found is True
    line = answer.answer
    assert line is not None and line.span is not None
    assert "164人" in line.sentence[line.span[0] : line.span[1]]
    assert line.sentence in answer.hits[line.rank - 1].text
    shown = answer_json(answer)
    assert shown["verdict"] == "answered" and "164人" in shown["answer"]["text"]


def test_missing_encoder_is_a_clear_error_when_reranking_is_on(corpus, db_path, monkeypatch):
    monkeypatch.setattr(semantic, "available", lambda: False)
    with pytest.raises(errors.EncoderMissing, match="pip install"):
        with_engine(corpus, db_path, lambda engine: asyncio.sleep(0), rerank=True)
