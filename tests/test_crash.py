"""A build killed with SIGKILL at any point leaves the previous index answering.

Kills at wall-clock delays (tests/test_faults_crash.py kills at named points); passage
vectors are off (`--no-rerank`) so the several-second build is tokenizing and writing.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import BUNDLED, ROOT, run_cli

QUESTIONS = ["CSTOの議長は誰?", "カザフスタンで拘束された人数は", "セブ湖を占領した軍"]


def grow_corpus(corpus: Path, copies: int) -> None:
    """Add enough distinct text that a build takes several seconds (and uses workers)."""
    sources = [p.read_text(encoding="utf-8") for p in sorted(BUNDLED.glob("*.txt"))]
    for i in range(copies):
        text = sources[i % len(sources)]
        (corpus / f"extra_{i:03d}.txt").write_text(
            f"追加資料{i}号\n" + text.replace("。", f"。第{i}版。", 3), encoding="utf-8"
        )


def answers(workdir: Path) -> list[list[tuple[str, int]]]:
    result = run_cli(
        "ask", "--json", "--no-rerank", cwd=workdir, stdin="\n".join(QUESTIONS) + "\n"
    )
    assert result.returncode == 0, result.stderr
    return [
        [(h["doc"], h["passage"]) for h in json.loads(line)["hits"]]
        for line in result.stdout.splitlines()
    ]


def integrity(db: Path) -> str:
    con = sqlite3.connect(db)
    try:
        return con.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        con.close()


@pytest.mark.slow
def test_killed_build_leaves_previous_index_answering(tmp_path: Path):
    workdir = tmp_path
    corpus = workdir / "corpus"
    corpus.mkdir()
    for p in BUNDLED.glob("*.txt"):
        (corpus / p.name).write_bytes(p.read_bytes())
    assert run_cli("index", "--no-rerank", cwd=workdir).returncode == 0
    before = answers(workdir)
    db = workdir / "data" / "shirabe.db"
    grow_corpus(corpus, copies=700)

    interrupted = 0
    for delay in (0.3, 1.5, 3.0, 5.0):
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "index", "--no-rerank"],
            cwd=workdir,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        time.sleep(delay)
        finished = proc.poll() is not None
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the build and its tokenizing workers
        except ProcessLookupError:
            pass
        proc.wait()
        assert integrity(db) == "ok"
        if finished:
            break  # the build outran this delay; nothing left to interrupt
        assert answers(workdir) == before, f"killed after {delay}s"
        interrupted += 1
    assert interrupted >= 3, "the corpus is too small to interrupt the build"

    # The next build completes and equals a clean build of the same corpus.
    result = run_cli("index", "--no-rerank", cwd=workdir)
    assert result.returncode == 0, result.stderr
    clean = tmp_path / "clean"
    clean.mkdir()
    (clean / "corpus").symlink_to(corpus, target_is_directory=True)
    assert run_cli("index", "--no-rerank", cwd=clean).returncode == 0
    assert answers(workdir) == answers(clean)
    counts = []
    for d in (db, clean / "data" / "shirabe.db"):
        con = sqlite3.connect(d)
        counts.append(
            con.execute(
                "SELECT COUNT(*) FROM passages p JOIN documents d ON d.id = p.doc_id "
                "WHERE d.retired_gen IS NULL"
            ).fetchone()[0]
        )
        orphans = con.execute(
            "SELECT COUNT(*) FROM passages WHERE doc_id NOT IN (SELECT id FROM documents)"
        ).fetchone()[0]
        assert orphans == 0
        con.close()
    assert counts[0] == counts[1]
    generations = list((workdir / "data" / "shirabe.db.gen").iterdir())
    assert len(generations) == 1  # no orphaned generation directories
