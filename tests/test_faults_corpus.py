"""Hostile corpus files: every file is either indexed correctly or skipped with a warning that
names it, and the build always finishes.

The whole hostile corpus is built once by `shirabe index` in a subprocess (a tagger crash is a
SIGSEGV of the whole process, which only a subprocess can observe); races (a file deleted
between listing and reading) are staged in-process, and an unreadable file is read by an
unprivileged user, because root reads a chmod-000 file without complaint.
"""

from __future__ import annotations

import asyncio
import codecs
import json
import os
import pickle
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from index.language import tokenize
from index.storage import ingest
from index.storage.build import build_index
from tests.conftest import BUNDLED, run_cli

UNIQUE = {  # a word only that file holds, to search it by
    "broken_utf8.txt": "ウラジオストク",
    "truncated_utf8.txt": "ハバロフスク",
    "sjis.txt": "ズラトウースト",
    "utf16le.txt": "ノヴォシビルスク",
    "utf16be.txt": "イルクーツク",
    "long_line.txt": "チェリャビンスク",
    "real.txt": "オムスク",
}
SKIPPED = {  # file -> words its warning must contain
    "binary.txt": "binary",
    "utf16_no_bom.txt": "binary",
    "nul_late.txt": "NUL",
    "big.txt": "larger than",
    "loop_a.txt": "symbolic links",
    "loop_b.txt": "symbolic links",
    "fifo.txt": "not a regular file",
    "zero.txt": "not a regular file",
}
LONG_LINE_CHARS = 1_000_000
BIG_FILE_BYTES = 50 * 1024 * 1024


def sentence(word: str) -> str:
    return f"{word}の工場で新しい機械が作られている。市の人口は増え続けている。\n"


def hostile_corpus(root: Path) -> Path:
    """One file of every kind the issue lists, plus one ordinary file."""
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "real.txt").write_text("普通の記事\n" + sentence(UNIQUE["real.txt"]), "utf-8")
    (corpus / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + os.urandom(4096))
    good = ("壊れた記事\n" + sentence(UNIQUE["broken_utf8.txt"]) * 40).encode("utf-8")
    (corpus / "broken_utf8.txt").write_bytes(good[:600] + b"\xff\xfe" + good[600:])
    cut = ("切れた記事\n" + sentence(UNIQUE["truncated_utf8.txt"]) * 3 + "終わり").encode("utf-8")
    (corpus / "truncated_utf8.txt").write_bytes(cut[:-1])  # the last character cut in half
    sjis = "シフトJISの記事①\n" + sentence(UNIQUE["sjis.txt"]) + "㈱髙島屋のﾊﾝｶｸ文字。\n"
    (corpus / "sjis.txt").write_bytes(sjis.encode("cp932"))
    (corpus / "utf16le.txt").write_bytes(
        codecs.BOM_UTF16_LE + ("UTF-16の記事\n" + sentence(UNIQUE["utf16le.txt"])).encode(
            "utf-16-le"
        )
    )
    (corpus / "utf16be.txt").write_bytes(
        codecs.BOM_UTF16_BE + ("UTF-16BEの記事\n" + sentence(UNIQUE["utf16be.txt"])).encode(
            "utf-16-be"
        )
    )
    (corpus / "utf16_no_bom.txt").write_bytes(sentence("ウファ").encode("utf-16-le"))
    late = ("普通の文章です。" * 10_000 + "\x00" + "続き。").encode("utf-8")  # NUL past 64 KiB
    (corpus / "nul_late.txt").write_bytes(late)
    (corpus / "empty.txt").write_bytes(b"")
    body = (UNIQUE["long_line.txt"] + "の町並みと港湾設備と鉄道網") * (LONG_LINE_CHARS // 20)
    (corpus / "long_line.txt").write_text(body[:LONG_LINE_CHARS], "utf-8")  # one line, no 。
    line = ("大きな記録ファイルの一行です。" * 20 + "\n").encode("utf-8")
    (corpus / "big.txt").write_bytes(line * (BIG_FILE_BYTES // len(line) + 1))  # 50 MB of text
    (corpus / "loop_a.txt").symlink_to("loop_b.txt")
    (corpus / "loop_b.txt").symlink_to("loop_a.txt")
    sub = corpus / "sub"
    sub.mkdir()
    (sub / "back").symlink_to("..", target_is_directory=True)  # a directory loop
    (sub / "inner.txt").write_text(sentence("トムスク"), "utf-8")
    os.mkfifo(corpus / "fifo.txt")  # opening it for reading would wait for a writer forever
    (corpus / "zero.txt").symlink_to("/dev/zero")  # reading it never ends
    return corpus


@pytest.fixture(scope="module")
def hostile_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The hostile corpus indexed by `shirabe index`: (work dir, everything it printed)."""
    workdir = tmp_path_factory.mktemp("hostile")
    hostile_corpus(workdir)
    result = run_cli("index", "--no-rerank", cwd=workdir, timeout=240)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    return workdir, output


def indexed(workdir: Path) -> dict[str, tuple[int, str]]:
    con = sqlite3.connect(workdir / "data" / "shirabe.db")
    try:
        rows = con.execute(
            "SELECT path, passages, encoding FROM documents WHERE retired_gen IS NULL"
        ).fetchall()
    finally:
        con.close()
    return {path: (passages, encoding) for path, passages, encoding in rows}


def top_docs(workdir: Path, questions: list[str]) -> list[str | None]:
    result = run_cli("ask", "--json", cwd=workdir, stdin="\n".join(questions) + "\n")
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    return [a["hits"][0]["doc"] if a["hits"] else None for a in answers]


def warning_for(output: str, name: str) -> str:
    lines = [line for line in output.splitlines() if f"skipped {name}:" in line]
    assert lines, f"no warning names {name}:\n{output[-3000:]}"
    return lines[0]


@pytest.mark.slow
def test_the_build_finishes_and_says_what_it_skipped(hostile_build) -> None:
    workdir, output = hostile_build
    assert "Traceback" not in output
    docs = indexed(workdir)
    for name, reason in SKIPPED.items():
        assert reason in warning_for(output, name), name
        assert name not in docs, name
    for name in UNIQUE:
        assert docs[name][0] > 0, f"{name} has passages"
    assert docs["empty.txt"][0] == 0  # indexed, with nothing to find in it
    assert "sub/inner.txt" in docs and not any("back" in path for path in docs)


@pytest.mark.slow
def test_every_readable_file_answers_for_its_own_words(hostile_build) -> None:
    workdir, _ = hostile_build
    names = list(UNIQUE)
    assert top_docs(workdir, [UNIQUE[n] for n in names]) == names


@pytest.mark.slow
def test_encodings_are_recorded_and_broken_bytes_are_reported(hostile_build) -> None:
    workdir, output = hostile_build
    docs = indexed(workdir)
    assert docs["sjis.txt"][1] == "cp932"
    assert docs["utf16le.txt"][1] == docs["utf16be.txt"][1] == "utf-16"
    assert docs["real.txt"][1] == "utf-8"
    for name in ("broken_utf8.txt", "truncated_utf8.txt"):
        assert docs[name][1].startswith("utf-8"), docs[name]
        lines = [line for line in output.splitlines() if name in line]
        assert any("invalid" in line and "replaced" in line for line in lines), name


@pytest.mark.slow
def test_one_line_of_a_million_characters_is_indexed_in_bounded_pieces(hostile_build) -> None:
    workdir, _ = hostile_build
    passages, _ = indexed(workdir)["long_line.txt"]
    assert passages >= LONG_LINE_CHARS // 1000  # cut into passages of at most 1,000 chars


def test_the_tagger_never_sees_more_than_its_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both tokenizer paths hand MeCab bounded pieces, whatever the caller passes in (it
    kills the process with SIGSEGV at a few hundred thousand Japanese characters)."""
    real = tokenize._tagger()
    longest = 0

    def spy(text: str):
        nonlocal longest
        longest = max(longest, len(text))
        return real(text)

    monkeypatch.setattr(tokenize, "_tagger", lambda: spy)
    line = "港湾設備と鉄道網" * 25_000  # 200,000 characters, no sentence end
    assert tokenize.tokenize(line)
    assert tokenize.tokenize_spans(line[:50_000])
    assert 0 < longest <= tokenize.MAX_TAGGER_CHARS


# ---- races and permissions (in-process builds of a small corpus) -----------------------------


def small_corpus(root: Path) -> Path:
    corpus = root / "corpus"
    shutil.copytree(BUNDLED, corpus)
    (corpus / "victim.txt").write_text("消える記事\n" + sentence("バルナウル"), "utf-8")
    return corpus


def test_a_file_deleted_between_listing_and_reading_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = small_corpus(tmp_path)
    real_list = ingest.list_files

    def list_then_delete(root: Path, *args, **kwargs):
        files = real_list(root, *args, **kwargs)
        (corpus / "victim.txt").unlink()
        return files

    monkeypatch.setattr(ingest, "list_files", list_then_delete)
    report = asyncio.run(build_index(corpus, tmp_path / "db" / "s.db"))
    assert report.added == 5 and report.skipped == 1
    assert any("victim.txt" in w and "disappeared" in w for w in report.warnings)


def test_a_file_deleted_between_hashing_and_tokenizing_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = small_corpus(tmp_path)
    real_read = ingest.read_stamped
    reads: dict[str, int] = {}

    def read_then_delete(file: ingest.CorpusFile) -> tuple[bytes, ingest.Stamp]:
        read = real_read(file)
        reads[file.rel] = reads.get(file.rel, 0) + 1
        if file.rel == "victim.txt":
            file.path.unlink()  # gone before the build comes back to decode it
        return read

    monkeypatch.setattr(ingest, "read_stamped", read_then_delete)
    report = asyncio.run(build_index(corpus, tmp_path / "db" / "s.db"))
    assert reads["victim.txt"] == 1
    assert report.added == 5 and report.skipped == 1
    assert any("victim.txt" in w and "disappeared" in w for w in report.warnings)


UNPRIVILEGED = 65534  # nobody


def as_unprivileged(work: Callable[[], object]) -> object:
    """Run `work` in a forked child whose uid is nobody's, so permissions really apply (root
    reads a chmod-000 file without complaint); its result comes back pickled through a pipe.
    Without root, the test process is unprivileged already and `work` runs in place."""
    if os.geteuid() != 0:
        return work()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop privileges, work, report, and leave without cleanup
        code = 0
        try:
            os.close(read_end)
            os.setgid(UNPRIVILEGED)
            os.setuid(UNPRIVILEGED)
            payload = pickle.dumps(("ok", work()))
        except BaseException as exc:  # noqa: BLE001 - everything goes back to the parent
            payload, code = pickle.dumps(("error", repr(exc))), 1
        with os.fdopen(write_end, "wb") as out:
            out.write(payload)
        os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        status, value = pickle.loads(pipe.read())
    os.waitpid(pid, 0)
    assert status == "ok", value
    return value


@pytest.fixture
def world_readable_tmp() -> Iterator[Path]:
    """A folder nobody can traverse (pytest's own tmp folders are private to root)."""
    path = Path(tempfile.mkdtemp(prefix="shirabe-perm-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        for child in path.rglob("*"):
            if child.is_dir() and not child.is_symlink():
                child.chmod(0o755)
        shutil.rmtree(path)


def test_unreadable_file_and_folder_are_refused_by_the_kernel(world_readable_tmp: Path) -> None:
    """The real PermissionError paths of reading and listing, as an unprivileged user."""
    corpus = world_readable_tmp / "corpus"
    (corpus / "locked").mkdir(parents=True)
    (corpus / "open.txt").write_text(sentence("オムスク"), "utf-8")
    (corpus / "victim.txt").write_text(sentence("バルナウル"), "utf-8")
    (corpus / "locked" / "inside.txt").write_text(sentence("トボリスク"), "utf-8")
    corpus.chmod(0o755)
    (corpus / "victim.txt").chmod(0o000)
    (corpus / "locked").chmod(0o000)

    def scan() -> tuple[list[str], list[tuple[str, str]], dict[str, str]]:
        unlisted: list[tuple[str, str]] = []
        files = ingest.list_files(corpus, unlisted)
        outcome = {}
        for file in files:
            try:
                outcome[file.rel] = f"{len(ingest.read_stamped(file)[0])} bytes"
            except ingest.SkipFile as exc:
                outcome[file.rel] = str(exc)
        return [f.rel for f in files], unlisted, outcome

    listed, unlisted, outcome = as_unprivileged(scan)
    assert listed == ["open.txt", "victim.txt"]
    assert unlisted == [("locked", "Permission denied")]
    assert outcome["victim.txt"] == "is not readable (permission denied)"
    assert outcome["open.txt"].endswith("bytes")


def test_unreadable_files_and_folders_keep_their_indexed_versions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the build makes of those refusals: warnings by name, and what was indexed before
    stays indexed (a permission slip must not empty the index)."""
    corpus = small_corpus(tmp_path)
    (corpus / "locked").mkdir()
    (corpus / "locked" / "inside.txt").write_text(sentence("トボリスク"), "utf-8")
    db = tmp_path / "db" / "s.db"
    first = asyncio.run(build_index(corpus, db))
    assert first.added == 7

    real_open, real_scandir = os.open, os.scandir

    def deny_open(path, *args, **kwargs):
        if str(path).endswith("victim.txt"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    def deny_scandir(path="."):
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    (corpus / "victim.txt").write_text("変わった内容\n" + sentence("ビイスク"), "utf-8")
    monkeypatch.setattr(os, "open", deny_open)
    monkeypatch.setattr(os, "scandir", deny_scandir)
    report = asyncio.run(build_index(corpus, db))
    monkeypatch.undo()
    assert report.skipped == 2 and report.removed == 0 and report.documents == 7
    warnings = "\n".join(report.warnings)
    assert "skipped victim.txt: is not readable (permission denied)" in warnings
    assert "skipped locked: folder could not be listed (Permission denied)" in warnings
