"""The command line end to end, as subprocesses, the way a user runs it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import BUNDLED, ROOT, run_cli


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A folder laid out like the repository root: `corpus/` and nothing else."""
    shutil.copytree(BUNDLED, tmp_path / "corpus")
    return tmp_path


def test_ask_builds_index_and_cites_the_chair(workdir):
    result = run_cli("ask", "CSTOの議長は誰?", cwd=workdir)
    assert result.returncode == 0, result.stderr
    first = result.stdout.split("\n2. ")[0]
    assert ("パシニャン" in first) or ("パシヤン" in first)
    assert ".txt §" in first
    assert (workdir / "data" / "shirabe.db").exists()


def test_ask_json_has_documented_shape_and_detained_count(workdir):
    result = run_cli("ask", "--json", "カザフスタンで拘束された人数は", cwd=workdir)
    assert result.returncode == 0, result.stderr
    obj = json.loads(result.stdout)
    assert set(obj) >= {"question", "query_terms", "hits", "took_ms"}
    assert obj["question"] == "カザフスタンで拘束された人数は"
    hits = obj["hits"]
    assert len(hits) == 3
    assert any("8000" in h["text"] or "5800" in h["text"] for h in hits)
    for h in hits:
        assert set(h) >= {
            "rank",
            "score",
            "doc",
            "title",
            "passage",
            "start",
            "end",
            "text",
            "excerpt",
        }
        doc_text = (workdir / "corpus" / h["doc"]).read_text(encoding="utf-8")
        assert doc_text[h["start"] : h["end"]] == h["text"]
        assert len(h["excerpt"]) <= 302


def test_ask_reads_questions_from_stdin_in_batch(workdir):
    result = run_cli("ask", "--json", cwd=workdir, stdin="CSTOの議長は誰?\n\nロシア\n")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["question"] for o in lines] == ["CSTOの議長は誰?", "ロシア"]
    assert all("took_ms" in o for o in lines)


def test_nothing_found_is_said_plainly(workdir):
    result = run_cli("ask", "--json", "量子色力学の摂動展開", cwd=workdir)
    obj = json.loads(result.stdout)
    assert obj["hits"] == [] and obj["declined"] and obj["verdict"] == "nothing"
    assert result.returncode == 1  # like grep: nothing selected
    text = run_cli("ask", "量子色力学の摂動展開", cwd=workdir)
    assert "Nothing relevant found" in text.stdout


def test_empty_and_huge_questions_are_answered_gracefully(workdir):
    empty = run_cli("ask", "--json", "   ", cwd=workdir)
    assert empty.returncode == 2  # like grep: 2 is a problem, not "nothing found"
    assert json.loads(empty.stdout)["problem"]
    huge = "カザフスタンの治安部隊と抗議運動について。" * 500  # 10,500 characters
    result = run_cli("ask", "--json", huge[:10_000], cwd=workdir)
    assert result.returncode == 0, result.stderr
    obj = json.loads(result.stdout)
    assert obj["hits"] and obj["problem"] is None


def test_index_reports_and_warns_about_skipped_files(workdir):
    (workdir / "corpus" / "garbage.txt").write_bytes(bytes(range(256)) * 8)
    (workdir / "corpus" / "sjis.txt").write_bytes("セブ湖の水位について。\n".encode("cp932"))
    result = run_cli("index", cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert "added 6" in result.stdout and "skipped 1" in result.stdout
    assert "garbage.txt" in result.stdout


def test_eval_prints_figures(workdir):
    result = run_cli("eval", str(ROOT / "tests" / "data" / "questions.jsonl"), cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert "Hit@3" in result.stdout and "MRR@10" in result.stdout
    all_row = next(line for line in result.stdout.splitlines() if line.startswith("all"))
    hit3 = float(all_row.split()[3])
    assert hit3 > 0.3


def test_missing_corpus_is_a_clear_error(tmp_path):
    result = run_cli("ask", "CSTO", "--corpus", str(tmp_path / "nope"), cwd=tmp_path)
    assert result.returncode == 2
    assert "does not exist" in result.stderr
    assert "Traceback" not in result.stderr


def test_version_and_a_db_in_a_missing_folder(tmp_path):
    version = run_cli("--version", cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.startswith("shirabe ")
    typo = tmp_path / "no_such_folder" / "shirabe.db"
    result = run_cli("ask", "CSTO", "--db", str(typo), "--corpus", str(ROOT / "corpus"),
                     cwd=tmp_path)
    assert result.returncode == 2 and "does not exist" in result.stderr
    assert not typo.parent.exists(), "no folder is created behind the user's back"


def test_log_unanswered_since_7d_as_json(workdir):
    """`shirabe log --unanswered`: what /unanswered shows admins, grouped by wording."""
    from tests.conftest import with_engine

    async def ask_and_log(engine):
        for question in ("xyzzy plugh", "Xyzzy plugh？", "CSTOの議長は誰?"):
            answer = await engine.ask(question)
            await engine.log_query(guild_id=1, channel_id=2, question=question, answer=answer)

    with_engine(workdir / "corpus", workdir / "data" / "shirabe.db", ask_and_log)
    result = run_cli("log", "--unanswered", "--since", "7d", "--json", cwd=workdir)
    assert result.returncode == 0, result.stderr
    groups = [json.loads(line) for line in result.stdout.splitlines()]
    assert [g["wording"] for g in groups] == ["xyzzy plugh"], "the answered one is not listed"
    assert groups[0]["count"] == 2 and groups[0]["nothing"] == 2
    assert groups[0]["question"] == "Xyzzy plugh？" and groups[0]["last_at"]

    table = run_cli("log", "--unanswered", "--since", "12h", cwd=workdir)
    assert table.returncode == 0 and "Xyzzy plugh？" in table.stdout
    assert "last 12 hours" in table.stdout
    for bad in (["log", "--unanswered", "--since", "7w"], ["log", "--since", "7d"]):
        refused = run_cli(*bad, cwd=workdir)
        assert refused.returncode == 2 and "Traceback" not in refused.stderr, refused.stderr
