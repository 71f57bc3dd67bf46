"""Groonga through its command line: one `groonga DB` process, commands on stdin, one JSON
response per line on stdout (nothing listens on a socket).

The corpus reaches Groonga the way it reaches FTS5: each passage as its terms joined by
spaces. The spelling differs: FTS5's `t<id>` would not survive Groonga's tokenizers (both
split letters from digits, and TokenMecab splits every digit), so term id t is spelled in
letters only, `t` + t in base 26 (`taaaa`, `taaab`, …), which TokenMecab (with the
naist-jdic dictionary of Debian's package) and TokenBigram both keep as exactly one token
each: checked for all 250,000 spellings of the bench's vocabulary with Groonga 13.0.0's
`tokenize` command.

The schema is what a Groonga user writes for full-text search: a `TABLE_NO_KEY` table of
passages (record id = passage index + 1, like FTS5's rowid) with a `LongText` column, and a
lexicon (`TABLE_PAT_KEY`, `NormalizerAuto`, the tokenizer under test) holding an index
column on it, created after the load (Groonga's static index construction, its fastest).
The index keeps no positions: every term is one token, as in shirabe's postings and the
tantivy peer.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

LETTERS = "abcdefghijklmnopqrstuvwxyz"
MECAB_PLUGIN = "tokenizers/mecab"
LOAD_CHUNK = 10_000  # rows per `load` command
SETUP = "`sh bench/setup_groonga.sh`"


def width(vocabulary_size: int) -> int:
    """Letters per spelling: at least 4, enough for every term id."""
    letters = 4
    while 26**letters < vocabulary_size:
        letters += 1
    return letters


def spell(t: int, letters: int) -> str:
    """Term id t as `t` + t in base 26 with `letters` digits a–z."""
    out = []
    for _ in range(letters):
        t, d = divmod(t, 26)
        out.append(LETTERS[d])
    return "t" + "".join(reversed(out))


def spellings(vocabulary_size: int) -> list[str]:
    letters = width(vocabulary_size)
    return [spell(t, letters) for t in range(vocabulary_size)]


def schema(tokenizer: str) -> tuple[list[str], list[str]]:
    """The commands before the load (plugin, table, text column) and after it (lexicon and
    index column)."""
    before = [
        "table_create Passages TABLE_NO_KEY",
        "column_create Passages body COLUMN_SCALAR LongText",
    ]
    if tokenizer == "TokenMecab":
        before.insert(0, f"plugin_register {MECAB_PLUGIN}")
    after = [
        f"table_create Terms TABLE_PAT_KEY ShortText --default_tokenizer {tokenizer} "
        "--normalizer NormalizerAuto",
        "column_create Terms body_index COLUMN_INDEX Passages body",
    ]
    return before, after


def write_commands(
    path: Path, flat: np.ndarray, offsets: np.ndarray, names: list[str], tokenizer: str
) -> None:
    """The whole build as a Groonga command file: schema, the passages' texts in `load`
    commands of LOAD_CHUNK rows, then the lexicon and its index."""
    before, after = schema(tokenizer)
    terms = flat.tolist()
    bounds = offsets.tolist()
    n = len(bounds) - 1
    with open(path, "w", encoding="ascii") as fh:
        fh.write("\n".join(before) + "\n")
        for start in range(0, n, LOAD_CHUNK):
            fh.write("load --table Passages --columns body\n[\n")
            rows = (
                '["' + " ".join(names[t] for t in terms[bounds[i] : bounds[i + 1]]) + '"]'
                for i in range(start, min(start + LOAD_CHUNK, n))
            )
            fh.write(",\n".join(rows) + "\n]\n")
        fh.write("\n".join(after) + "\n")


def check(line: str) -> object:
    """The body of one response line; raises on a Groonga error."""
    header, *body = json.loads(line)
    if header[0] != 0:
        raise RuntimeError(f"groonga error {header[0]}: {header[3] if len(header) > 3 else ''}")
    return body[0] if body else None


def run_commands(db: Path, commands: Path, timeout: float | None = None) -> int:
    """`groonga -n DB < COMMANDS` (a new database); returns how many responses, all checked."""
    with open(commands, "rb") as stdin:
        proc = subprocess.run(
            ["groonga", "-n", str(db)],
            stdin=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    if proc.returncode != 0:
        raise RuntimeError(f"groonga exited with {proc.returncode}: {proc.stderr.strip()[:500]}")
    lines = [line for line in proc.stdout.splitlines() if line.startswith("[")]
    for line in lines:
        check(line)
    return len(lines)


class Server:
    """A long-lived `groonga DB` process fed one command per line."""

    def __init__(self, db: Path) -> None:
        self.proc = subprocess.Popen(
            ["groonga", str(db)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            bufsize=1,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def command(self, line: str) -> object:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        response = self.proc.stdout.readline()
        if not response:
            raise RuntimeError(f"groonga exited with {self.proc.poll()} on: {line[:200]}")
        return check(response)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def select(words: list[str]) -> str:
    """The top 10 by Groonga's default (TF) score for any of the words; the query cache is
    off (every query is measured, none answered from a cache)."""
    return (
        f"select Passages --match_columns body --query '{' OR '.join(words)}' "
        "--sort_keys -_score --limit 10 --output_columns _id --cache no"
    )


def ids(body: object) -> list[int]:
    """Passage indices from a select response body: [[[hits], [columns], [_id], …]]."""
    rows = body[0][2:]
    return [row[0] - 1 for row in rows]


def missing(tokenizer: str) -> str | None:
    """None when `groonga` and the tokenizer work here, else why not."""
    if shutil.which("groonga") is None:
        return f"the groonga command is not installed; {SETUP}"
    before, _ = schema(tokenizer)
    probe = before[:1] if tokenizer == "TokenMecab" else []
    probe.append(f'tokenize {tokenizer} "ロシアの軍 taaab" NormalizerAuto')
    with tempfile.TemporaryDirectory(prefix="bench-groonga-") as tmp:
        try:
            proc = subprocess.run(
                ["groonga", "-n", str(Path(tmp) / "db")],
                input="\n".join(probe) + "\n",
                capture_output=True,
                text=True,
                timeout=60,
            )
            for line in proc.stdout.splitlines():
                check(line)
            if len(proc.stdout.splitlines()) != len(probe):
                raise RuntimeError(proc.stderr.strip()[:300] or "no response")
        except (OSError, RuntimeError, ValueError, subprocess.SubprocessError) as exc:
            what = "the MeCab tokenizer plugin" if tokenizer == "TokenMecab" else "groonga"
            return f"{what} does not work here ({exc}); {SETUP}"
    return None
