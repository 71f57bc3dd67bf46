"""The engine seam: ask, search paging, reindex while answering, documents, stats."""

from __future__ import annotations

import asyncio

import pytest

from index.engine import Engine
from index.errors import ReindexRunning
from tests.conftest import with_engine


def test_word_in_half_the_passages_is_still_answered(tmp_path):
    """BM25Okapi gives a term in exactly half the passages idf 0 (all its scores are 0);
    the question is still answered, since the documents do contain the word."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i, text in enumerate(
        [
            "トカエフ大統領が演説した。",
            "トカエフ氏が会見した。",
            "空港が閉鎖された。",
            "燃料価格が上がった。",
        ]
    ):
        (corpus / f"{i}.txt").write_text(text + "\n", encoding="utf-8")

    async def body(engine: Engine):
        return await engine.ask("トカエフ")

    answer = with_engine(corpus, tmp_path / "db" / "s.db", body)
    assert answer.declined is None
    assert [h.score for h in answer.hits] == [0.0, 0.0]
    assert all("トカエフ" in h.text for h in answer.hits)


def test_search_pages_do_not_overlap(bundled_engine_paths):
    corpus, db = bundled_engine_paths

    async def body(engine: Engine):
        return [await engine.search("カザフスタン", k=5, offset=o) for o in (0, 5, 10)]

    pages = with_engine(corpus, db, body)
    ids = [h.passage_id for p in pages for h in p.hits]
    assert len(ids) == len(set(ids)) == 15
    assert [h.rank for p in pages for h in p.hits] == list(range(1, 16))
    assert pages[0].total_hits == pages[2].total_hits >= 15


def test_k_larger_than_the_corpus(bundled_engine_paths):
    corpus, db = bundled_engine_paths

    async def body(engine: Engine):
        return await engine.ask("ロシア", k=10_000)

    answer = with_engine(corpus, db, body)
    assert 0 < len(answer.hits) <= 50  # capped at MAX_K


def test_reindex_keeps_answering_and_runs_once(corpus, db_path):
    async def body(engine: Engine):
        (corpus / "new.txt").write_text("ズラトウーストの工場が拡張された。\n", encoding="utf-8")
        before = engine.generation.number
        task = asyncio.create_task(engine.reindex())
        await asyncio.sleep(0)
        with pytest.raises(ReindexRunning):
            await engine.reindex()
        during = await asyncio.gather(*(engine.ask("CSTOの議長は誰?") for _ in range(10)))
        report = await task
        after = await engine.ask("ズラトウーストの工場")
        return before, during, report, after, engine.generation.number

    before, during, report, after, gen = with_engine(corpus, db_path, body)
    assert all(a.hits for a in during)
    assert report.added == 1 and gen == before + 1
    assert after.hits[0].citation.doc == "new.txt"


def test_documents_stats_and_query_log(bundled_engine_paths):
    corpus, db = bundled_engine_paths

    async def body(engine: Engine):
        docs = await engine.documents("")
        one = await engine.document(docs[0].path)
        by_title = await engine.document(docs[0].title)
        found = await engine.documents("001_")
        before = (await engine.stats()).questions_answered
        answer = await engine.ask("CSTOの議長は誰?")
        await engine.log_query(guild_id=1, channel_id=2, question="CSTOの議長は誰?", answer=answer)
        stats = await engine.stats()
        return docs, one, by_title, found, before, stats

    docs, one, by_title, found, before, stats = with_engine(corpus, db, body)
    assert len(docs) == 5 and one == docs[0] and by_title == docs[0]
    assert [d.path for d in found] == ["001_cf5af9e718c402f7.txt"]
    assert one.passages > 0 and one.first_lines
    assert stats.documents == 5 and stats.passages > 20
    assert stats.questions_answered == before + 1
    assert stats.last_reindex


def test_hit_offsets_and_citations_check_against_the_files(bundled_engine_paths):
    corpus, db = bundled_engine_paths

    async def body(engine: Engine):
        return await engine.ask("アゼルバイジャン軍がセブ湖周辺を占領", k=5)

    answer = with_engine(corpus, db, body)
    for hit in answer.hits:
        text = (corpus / hit.citation.doc).read_text(encoding="utf-8")
        assert text[hit.start : hit.end] == hit.text
        assert text.count("\n", 0, hit.start) + 1 == hit.citation.line_start
        excerpt_body = hit.excerpt.text.strip("…")
        assert excerpt_body in hit.text
        assert len(hit.excerpt.text) <= 302


def test_english_question_shows_translation_and_finds_the_chair(bundled_engine_paths):
    corpus, db = bundled_engine_paths

    async def body(engine: Engine):
        return await engine.ask("who chairs CSTO?")

    answer = with_engine(corpus, db, body)
    assert "議長" in answer.translations["chairs"]
    assert "パシヤン" in answer.hits[0].text or "パシニャン" in answer.hits[0].text
    span = answer.hits[0].excerpt.answer_span
    assert span is not None
    assert "パシ" in answer.hits[0].excerpt.text[span[0] : span[1]]


def test_a_cited_passage_opens_with_the_sentences_around_it(bundled_engine_paths):
    corpus, db = bundled_engine_paths

    async def body(engine):
        answer = await engine.ask("CSTOの議長は誰?")
        cited = answer.hits[0].citation
        return (
            cited,
            await engine.passage(cited.doc, cited.passage),
            await engine.passage(cited.doc, 10_000),
        )

    cited, view, missing = with_engine(corpus, db, body)
    assert view is not None and missing is None
    assert (view.path, view.passage, view.line_start) == (
        cited.doc,
        cited.passage,
        cited.line_start,
    )
    text = (corpus / cited.doc).read_text(encoding="utf-8")
    assert view.text in text
    assert text.index(view.before) < text.index(view.text) < text.index(view.after)
