"""Before/after figures for the closing notes: the question set under plain BM25.

"Plain" means the question's own tokens as BM25 terms (no English translation, no name
matching), ordered by BM25 score alone (no coverage fusion, no answer-type preference) and
no decline. Run from the repository root: `python scripts/baseline_eval.py`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from index import search
from index.engine import Engine
from index.english import TermGroup
from index.evaluate import evaluate, format_table, load_questions


def plain_groups(terms, has_term, names, max_alternatives=6, **_):
    return [TermGroup(t, (t,), "term") for t in terms], {}


async def main() -> None:
    questions = load_questions(Path("tests/data/questions.jsonl"))
    search.english_groups = plain_groups
    search.detect = lambda question: None
    search.Candidate.fused = property(lambda c: c.bm25)
    engine = await Engine.open(Path("corpus"), Path("data/shirabe.db"))
    engine.min_coverage = 0.0
    try:
        pairs = [(q, await engine.ask(q.question, 10)) for q in questions]
    finally:
        await engine.close()
    print("plain BM25 (no translation, BM25 order, no decline)")
    print(format_table(evaluate(pairs)))


if __name__ == "__main__":
    asyncio.run(main())
