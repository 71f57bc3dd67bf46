"""Crash safety of the index, at exact points: `shirabe index` SIGKILLs itself where
SHIRABE_FAULT says (the test hook in index/storage/build.py), and each time the previous generation
must answer exactly as before, the database must pass `PRAGMA integrity_check`, and the next
build must finish and equal a clean build of the same corpus.

Builds run with `--no-rerank`: passage vectors are written into the same temporary generation
directory as the BM25 arrays, so the kill points cover them too, and encoding thousands of
passages five times over would only make this module slow.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from index.storage.faults import FAULT_ENV, FAULT_POINTS, WORKER_FAULT
from index.storage.generation import GenerationFiles
from tests.conftest import BUNDLED, ROOT, run_cli

pytestmark = pytest.mark.slow

QUESTIONS = [
    "CSTOの議長は誰?",
    "カザフスタンで拘束された人数は",
    "セブ湖を占領した軍",
    "who chairs CSTO?",
]
COPIES = 250  # ~790,000 characters: two tokenizing batches, worker processes, ~5 s a build
BUILD = ("index", "--no-rerank")

Hits = list[list[tuple[str, int, float]]]


def grow_corpus(corpus: Path, copies: int) -> None:
    """Distinct variants of the bundled articles, enough for several tokenizing batches."""
    sources = [p.read_text(encoding="utf-8") for p in sorted(BUNDLED.glob("*.txt"))]
    for i in range(copies):
        text = sources[i % len(sources)]
        (corpus / f"extra_{i:03d}.txt").write_text(
            f"追加資料{i}号\n" + text.replace("。", f"。第{i}版。", 3), encoding="utf-8"
        )


def answers(workdir: Path) -> Hits:
    """(document, passage, score) of every hit for every question, through the CLI."""
    result = run_cli("ask", "--json", cwd=workdir, stdin="\n".join(QUESTIONS) + "\n")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return [
        [(h["doc"], h["passage"], round(h["score"], 6)) for h in json.loads(line)["hits"]]
        for line in result.stdout.splitlines()
    ]


def build(workdir: Path) -> None:
    result = run_cli(*BUILD, cwd=workdir, timeout=300)
    assert result.returncode == 0, result.stderr


def faulty_build(workdir: Path, point: str) -> tuple[int | None, str]:
    """`shirabe index` with SHIRABE_FAULT=point: (exit code, stderr). Output goes to a file,
    not a pipe: orphaned workers would hold a pipe open forever; they are killed after."""
    log = workdir / f"fault-{point}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", *BUILD],
            cwd=workdir,
            env={**os.environ, "PYTHONPATH": str(ROOT), FAULT_ENV: point},
            stdout=subprocess.DEVNULL,
            stderr=out,
            start_new_session=True,
        )
        try:
            proc.wait(timeout=300)
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # worker processes left behind, if any
            except ProcessLookupError:
                pass
            proc.wait()
    return proc.returncode, log.read_text(errors="replace")


def killed_build(workdir: Path, point: str) -> None:
    """`shirabe index` that kills itself at `point`; its tokenizing workers die with it."""
    code, stderr = faulty_build(workdir, point)
    assert code == -signal.SIGKILL, f"the build never reached {point} (exit {code}): {stderr}"


def integrity(db: Path) -> str:
    con = sqlite3.connect(db)
    try:
        return con.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        con.close()


def live_generation(db: Path) -> int:
    con = sqlite3.connect(db)
    try:
        return int(con.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])
    finally:
        con.close()


def generation_dirs(db: Path) -> list[str]:
    return sorted(p.name for p in (db.parent / f"{db.name}.gen").iterdir() if p.name != "segments")


def segment_dirs(db: Path) -> list[str]:
    return sorted(p.name for p in (db.parent / f"{db.name}.gen" / "segments").iterdir())


def used_segments(db: Path) -> list[str]:
    return sorted(GenerationFiles.of(db, live_generation(db)).segment_names())


def snapshot(db: Path) -> dict[str, object]:
    """What a build must reproduce, independent of row ids: live documents, their passages
    (text, position, terms as strings) and the absence of orphan rows."""
    con = sqlite3.connect(db)
    try:
        terms = dict(con.execute("SELECT id, term FROM terms"))
        docs = con.execute(
            "SELECT path, sha256, passages FROM documents WHERE retired_gen IS NULL ORDER BY path"
        ).fetchall()
        passages = []
        for path, start, end, text, blob in con.execute(
            "SELECT d.path, p.start, p.end, p.text, p.terms FROM passages p "
            "JOIN documents d ON d.id = p.doc_id WHERE d.retired_gen IS NULL "
            "ORDER BY d.path, p.ordinal"
        ):
            ids = memoryview(blob).cast("i").tolist()
            passages.append((path, start, end, text, tuple(terms[i] for i in ids)))
        orphans = con.execute(
            "SELECT COUNT(*) FROM passages WHERE doc_id NOT IN (SELECT id FROM documents)"
        ).fetchone()[0]
        retired = con.execute(
            "SELECT COUNT(*) FROM documents WHERE retired_gen IS NOT NULL"
        ).fetchone()[0]
        meta_passages = con.execute("SELECT value FROM meta WHERE key = 'passages'").fetchone()
    finally:
        con.close()
    return {
        "documents": docs,
        "passages": passages,
        "orphan_passages": orphans,
        "retired_documents": retired,
        "meta_passages": int(meta_passages[0]),
    }


def test_fault_points_are_the_documented_ones() -> None:
    assert FAULT_POINTS == (
        "after_scan",
        "mid_tokenize",
        "before_publish",
        "mid_publish",
        "after_publish_before_commit",
        "after_commit_before_cleanup",
    )


def test_kill_at_every_build_point_keeps_the_index_consistent(tmp_path: Path) -> None:
    workdir = tmp_path / "work"
    corpus = workdir / "corpus"
    corpus.mkdir(parents=True)
    for p in BUNDLED.glob("*.txt"):
        (corpus / p.name).write_bytes(p.read_bytes())
    build(workdir)
    db = workdir / "data" / "shirabe.db"
    before = answers(workdir)
    assert all(before), "every question has hits on the bundled corpus"
    grow_corpus(corpus, COPIES)

    # What a clean build of the grown corpus answers (the corpus folder is shared).
    clean = tmp_path / "clean"
    clean.mkdir()
    (clean / "corpus").symlink_to(corpus, target_is_directory=True)
    build(clean)
    clean_db = clean / "data" / "shirabe.db"
    after = answers(clean)
    assert after != before, "the grown corpus must change the answers, or the test proves nothing"

    for point in FAULT_POINTS[:-1]:  # killed before the new generation is committed
        killed_build(workdir, point)
        assert integrity(db) == "ok", point
        assert live_generation(db) == 1, point
        assert "000001" in generation_dirs(db), point
        assert answers(workdir) == before, f"killed at {point}"

    code, stderr = faulty_build(workdir, WORKER_FAULT)  # a tokenizing worker is killed
    assert code == 2 and "tokenizing worker process died" in stderr, (code, stderr[-2000:])
    assert "Traceback" not in stderr
    assert integrity(db) == "ok" and live_generation(db) == 1
    assert answers(workdir) == before, "killed worker"

    killed_build(workdir, "after_commit_before_cleanup")
    assert integrity(db) == "ok"
    assert live_generation(db) == 2
    assert generation_dirs(db) == ["000001", "000002"], "the old directory is left over"
    assert answers(workdir) == after, "the committed generation answers like a clean build"

    build(workdir)  # completes, and sweeps what the killed builds left behind
    assert integrity(db) == "ok"
    assert answers(workdir) == after
    ours, theirs = snapshot(db), snapshot(clean_db)
    assert ours["orphan_passages"] == 0 and ours["retired_documents"] == 0
    assert ours == theirs
    assert generation_dirs(db) == [f"{live_generation(db):06d}"], "no orphaned directories"
    assert segment_dirs(db) == used_segments(db), "no orphaned segments"
    assert not list(db.parent.glob("*.tmp")), "no temporary files"
