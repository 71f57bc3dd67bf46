"""The store and the build: incremental updates, atomic generations, damaged databases."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from index.engine import Engine
from index.storage.build import build_index
from index.storage.generation import GenerationFiles, generations_dir


def build(corpus: Path, db: Path):
    return asyncio.run(build_index(corpus, db))


def passages_by_doc(db: Path) -> dict[str, list[tuple[int, str]]]:
    con = sqlite3.connect(db)
    rows = con.execute(
        "SELECT d.path, p.id, p.text FROM passages p JOIN documents d ON d.id = p.doc_id "
        "WHERE d.retired_gen IS NULL ORDER BY d.path, p.ordinal"
    ).fetchall()
    con.close()
    out: dict[str, list[tuple[int, str]]] = {}
    for path, pid, text in rows:
        out.setdefault(path, []).append((pid, text))
    return out


def test_first_build_reports_files_and_passages(corpus, db_path):
    report = build(corpus, db_path)
    assert (report.added, report.changed, report.removed, report.skipped) == (5, 0, 0, 0)
    assert report.documents == 5 and report.passages > 20
    assert report.generation == 1


def test_offsets_in_store_match_document_text(corpus, db_path):
    build(corpus, db_path)
    con = sqlite3.connect(db_path)
    rows = con.execute(
        "SELECT d.text, p.start, p.end, p.text, p.line_start, p.line_end "
        "FROM passages p JOIN documents d ON d.id = p.doc_id"
    ).fetchall()
    for text, start, end, ptext, line_start, line_end in rows:
        assert text[start:end] == ptext
        assert line_start == text.count("\n", 0, start) + 1
        assert line_end == text.count("\n", 0, end - 1) + 1
    con.close()


def test_rebuild_without_changes_touches_nothing(corpus, db_path):
    build(corpus, db_path)
    before = passages_by_doc(db_path)
    report = build(corpus, db_path)
    assert (report.added, report.changed, report.removed, report.unchanged) == (0, 0, 0, 5)
    assert passages_by_doc(db_path) == before


def test_changing_one_file_changes_only_its_passages(corpus, db_path):
    build(corpus, db_path)
    before = passages_by_doc(db_path)
    changed = sorted(corpus.glob("*.txt"))[2]
    changed.write_text(
        changed.read_text(encoding="utf-8") + "\n追記:ズラトウーストの新しい工場が完成した。\n",
        encoding="utf-8",
    )
    report = build(corpus, db_path)
    assert (report.added, report.changed, report.removed, report.unchanged) == (0, 1, 0, 4)
    after = passages_by_doc(db_path)
    for path in before:
        if path == changed.name:
            assert after[path] != before[path]
        else:
            assert after[path] == before[path]  # same rows, same ids: not re-tokenized

    async def ask():
        engine = await Engine.open(corpus, db_path)
        try:
            return await engine.ask("ズラトウーストの工場")
        finally:
            await engine.close()

    answer = asyncio.run(ask())
    assert answer.hits[0].citation.doc == changed.name


def test_deleted_file_is_dropped(corpus, db_path):
    build(corpus, db_path)
    victim = sorted(corpus.glob("*.txt"))[0]
    victim.unlink()
    report = build(corpus, db_path)
    assert report.removed == 1 and report.documents == 4
    assert victim.name not in passages_by_doc(db_path)


def test_undecodable_file_is_skipped_with_a_warning(corpus, db_path):
    (corpus / "broken.txt").write_bytes(bytes(range(256)) * 10)
    report = build(corpus, db_path)
    assert report.skipped == 1 and report.added == 5
    assert any("broken.txt" in w for w in report.warnings)


def test_shift_jis_file_is_indexed(corpus, db_path):
    (corpus / "sjis.txt").write_bytes(
        "ズラトウースト市の工場で新型の戦車が生産されている。\n".encode("shift_jis")
    )
    build(corpus, db_path)

    async def ask():
        engine = await Engine.open(corpus, db_path)
        try:
            return await engine.ask("ズラトウーストの戦車")
        finally:
            await engine.close()

    answer = asyncio.run(ask())
    assert answer.hits[0].citation.doc == "sjis.txt"
    assert "戦車" in answer.hits[0].text


def test_empty_corpus_keeps_previous_index(corpus, db_path):
    build(corpus, db_path)

    async def scenario():
        engine = await Engine.open(corpus, db_path)
        try:
            for f in corpus.glob("*.txt"):
                f.unlink()
            report = await engine.reindex()
            answer = await engine.ask("CSTOの議長は誰?")
            return report, answer
        finally:
            await engine.close()

    report, answer = asyncio.run(scenario())
    assert report.kept_previous and "no indexable text" in report.kept_previous
    assert answer.hits  # still answering from the previous generation


def test_old_generations_are_removed(corpus, db_path):
    build(corpus, db_path)
    (corpus / "new.txt").write_text("新しい文書です。内容はセブ湖の話。\n", encoding="utf-8")
    report = build(corpus, db_path)
    dirs = sorted(p.name for p in generations_dir(db_path).iterdir())
    assert dirs == [f"{report.generation:06d}", "segments"]
    files = GenerationFiles.of(db_path, report.generation)
    on_disk = sorted(p.name for p in (generations_dir(db_path) / "segments").iterdir())
    assert on_disk == sorted(files.segment_names())  # no segment is left unused


def test_settings_change_forces_full_rebuild(corpus, db_path):
    build(corpus, db_path)
    con = sqlite3.connect(db_path)
    con.execute("UPDATE meta SET value = 'old' WHERE key = 'tokenizer_version'")
    con.commit()
    con.close()
    report = build(corpus, db_path)
    assert report.added == 5
    assert any("settings changed" in w for w in report.warnings)


@pytest.mark.parametrize("damage", ["truncate", "random"])
def test_corrupt_database_is_moved_aside_and_rebuilt(corpus, db_path, damage):
    build(corpus, db_path)
    data = db_path.read_bytes()
    for side in ("-wal", "-shm"):
        Path(str(db_path) + side).unlink(missing_ok=True)
    if damage == "truncate":
        db_path.write_bytes(data[:1000])
    else:
        db_path.write_bytes(bytes((i * 7919) % 251 for i in range(len(data))))

    async def scenario():
        engine = await Engine.open(corpus, db_path)
        try:
            return engine.notices, await engine.ask("CSTOの議長は誰?")
        finally:
            await engine.close()

    notices, answer = asyncio.run(scenario())
    assert any("moved it to" in n for n in notices)
    assert answer.hits
    assert list(db_path.parent.glob("shirabe.db.broken-*"))  # the damaged file is kept


def test_missing_generation_files_trigger_rebuild(corpus, db_path):
    report = build(corpus, db_path)
    files = GenerationFiles.of(db_path, report.generation)
    files.segment(files.segment_names()[0]).path("docs").unlink()

    async def scenario():
        engine = await Engine.open(corpus, db_path)
        try:
            return engine.notices, await engine.ask("CSTOの議長は誰?")
        finally:
            await engine.close()

    notices, answer = asyncio.run(scenario())
    assert any("rebuilding" in n for n in notices)
    assert answer.hits


def assert_scores_like_a_full_inversion(db_path: Path, generation: int):
    """The generation scores every live passage like one inversion of them all."""
    import numpy as np

    from index.retrieval import bm25

    updated = GenerationFiles.of(db_path, generation).load_postings()
    con = sqlite3.connect(db_path)
    blobs = dict(con.execute("SELECT id, terms FROM passages"))
    live = con.execute(
        "SELECT p.id FROM passages p JOIN documents d ON d.id = p.doc_id "
        "WHERE d.retired_gen IS NULL"
    ).fetchall()
    vocabulary = con.execute("SELECT COUNT(*) FROM terms").fetchone()[0]
    con.close()
    slots = [s for s in range(updated.slots) if updated.is_live(s)]
    assert sorted(int(updated.passage_ids[s]) for s in slots) == sorted(i for (i,) in live)
    lists = [np.frombuffer(blobs[int(updated.passage_ids[s])], dtype=np.int32) for s in slots]
    offsets = np.concatenate([[0], np.cumsum([len(x) for x in lists])])
    fresh = bm25.build_postings(np.concatenate(lists), offsets, vocabulary)
    np.testing.assert_array_equal(updated.dfs, fresh.dfs)
    assert updated.avgdl == fresh.avgdl
    for t in range(0, vocabulary, 7):
        np.testing.assert_allclose(updated.get_scores([t])[slots], fresh.get_scores([t]))
        mine = updated.top_k([[t], [t + 1]], 5)
        theirs = fresh.top_k([[t], [t + 1]], 5)
        assert [slots.index(s) for s, _ in mine] == [i for i, _ in theirs]
    return updated


def test_incremental_postings_score_like_a_full_inversion(corpus, db_path):
    """Adding, changing and removing files adds a segment and masks or rewrites the old one;
    either way the scores are those of inverting the live passages from scratch."""
    build(corpus, db_path)
    victim = sorted(corpus.glob("*.txt"))[1]
    victim.write_text(victim.read_text(encoding="utf-8")[:500] + "\n追記。\n", encoding="utf-8")
    (corpus / "added.txt").write_text(
        "ズラトウーストの工場で戦車が作られている。\n", encoding="utf-8"
    )
    sorted(corpus.glob("*.txt"))[3].unlink()
    report = build(corpus, db_path)
    assert (report.added, report.changed, report.removed) == (1, 1, 1)
    updated = assert_scores_like_a_full_inversion(db_path, report.generation)
    assert len(updated.segments) == 2
    (corpus / "added.txt").unlink()  # one passage of many: masked, nothing rewritten
    report = build(corpus, db_path)
    updated = assert_scores_like_a_full_inversion(db_path, report.generation)
    assert updated.slots == updated.n + 1 and report.segments_merged == 0

    async def questions():  # every step of a question copes with a masked slot
        async with await Engine.open(corpus, db_path) as engine:
            return [await engine.ask(q) for q in ("who chairs CSTO?", "CSTOの議長は誰?")]

    for answer in asyncio.run(questions()):
        assert answer.hits and answer.problem is None


def test_a_catalog_edit_applies_with_no_document_changed(corpus, db_path):
    build(corpus, db_path)
    name = sorted(p.name for p in corpus.glob("*.txt"))[1]
    (corpus / "catalog.toml").write_text(
        f'["{name}"]\ntitle = "カタログの題"\nurl = "https://example.org/a"\n', encoding="utf-8"
    )
    report = build(corpus, db_path)
    assert (report.added, report.changed, report.unchanged) == (0, 0, 5)
    assert report.retitled == 1
    con = sqlite3.connect(db_path)
    row = con.execute(
        "SELECT title, url FROM documents WHERE path = ? AND retired_gen IS NULL", (name,)
    ).fetchone()
    con.close()
    assert row == ("カタログの題", "https://example.org/a")
    assert build(corpus, db_path).retitled == 0  # the same catalog is not applied twice
