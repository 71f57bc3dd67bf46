"""The question sets the README's figures come from stay true to the bundled corpus."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

import pytest

from index.evaluate import load_questions, squash
from tests.conftest import BUNDLED, ROOT

SETS = [
    "questions.jsonl",
    "questions_holdout.jsonl",
    "questions_holdout2.jsonl",
    "questions_discord.jsonl",
    "questions_discord_final.jsonl",
    "questions_discord_final2.jsonl",
]
KINDS = {"en", "ja-exact", "ja-paraphrase", "unanswerable-en", "unanswerable-ja"}
SMALL_TALK = "smalltalk"  # the Discord-style sets add chatter that must get "nothing"


@pytest.fixture(scope="module")
def corpus_lines() -> list[str]:
    return [
        squash(line)
        for path in sorted(BUNDLED.glob("*.txt"))
        for line in path.read_text(encoding="utf-8").splitlines()
    ]


@pytest.mark.parametrize("name", SETS)
def test_every_evidence_string_is_in_one_line_of_the_corpus(name, corpus_lines):
    questions = load_questions(ROOT / "tests" / "data" / name)
    missing = [
        (q.question, e)
        for q in questions
        for e in q.evidence
        if not any(squash(e) in line for line in corpus_lines)
    ]
    assert missing == []


@pytest.mark.parametrize("name", SETS)
def test_kinds_are_known_and_unanswerable_ones_have_no_evidence(name):
    questions = load_questions(ROOT / "tests" / "data" / name)
    assert {q.kind for q in questions} - {SMALL_TALK} == KINDS
    for q in questions:
        no_answer = q.kind.startswith("unanswerable") or q.kind == SMALL_TALK
        assert bool(q.evidence) != no_answer, q.question
    assert not [q for q, n in Counter(q.question for q in questions).items() if n > 1]
    per_language = Counter(q.kind for q in questions if q.kind.startswith("unanswerable"))
    assert set(per_language) == {"unanswerable-en", "unanswerable-ja"}
    assert min(per_language.values()) >= 10


def test_the_main_set_passes_its_own_checker():
    """tests/data/check_questions.py holds the stricter rules of questions.jsonl (evidence
    length, dev/test balance, headline questions, near-miss unanswerables); run it."""
    checker = ROOT / "tests" / "data" / "check_questions.py"
    result = subprocess.run(
        [sys.executable, str(checker)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert result.stdout.rstrip().endswith("OK")
