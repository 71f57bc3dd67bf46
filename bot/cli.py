"""`shirabe` on the command line: index, ask, eval, run.

Every subcommand works from the repository root with no flags (corpus `corpus/`, database
`data/shirabe.db`), and every failure ends in one readable line on stderr, not a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sqlite3
import sys
from pathlib import Path

from bot.terminal import ProgressBar, render_answer, render_report
from index.build import BuildFailed, BuildRunning, EmptyCorpus, build_index
from index.engine import Engine
from index.evaluate import (
    decline_curve,
    evaluate,
    format_curve,
    format_table,
    load_questions,
)
from index.semantic import EncoderMissing
from index.store import StoreError, describe_damage
from index.tokenize import TokenizerMissing

DEFAULT_CORPUS = Path("corpus")
DEFAULT_DB = Path("data/shirabe.db")
CURVE = (0.0, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5)

EXPECTED = (
    StoreError,
    TokenizerMissing,
    BuildRunning,
    BuildFailed,
    EmptyCorpus,
    FileNotFoundError,
    ValueError,
    PermissionError,
)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="corpus folder")
    parser.add_argument("--db", type=Path, default=DEFAULT_DB, help="index database path")
    parser.add_argument(
        "--rerank",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="re-rank with the sentence encoder (default: when the index has passage "
        "vectors, which builds compute for corpora of up to 50,000 passages)",
    )


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="shirabe", description="Answers questions from a document collection, with sources."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("index", help="build or update the index")
    _common(p)

    p = sub.add_parser("ask", help="answer a question (reads one per line from stdin if none)")
    p.add_argument("question", nargs="?", help="the question; omit to read questions from stdin")
    p.add_argument("-k", type=int, default=3, help="number of passages (default 3)")
    p.add_argument("--json", action="store_true", help="print one JSON object per question")
    _common(p)

    p = sub.add_parser("eval", help="measure Hit@k and MRR on a JSONL question set")
    p.add_argument("questions", type=Path)
    p.add_argument("-k", type=int, default=10, help="passages retrieved per question")
    p.add_argument("--split", help="only questions of this split (e.g. dev or test)")
    _common(p)

    p = sub.add_parser("run", help="run the Discord bot")
    p.add_argument("--config", type=Path, default=None, help="config file (default config.toml)")
    return parser


async def _index(args) -> int:
    report = await build_index(args.corpus, args.db, ProgressBar(), args.rerank, repair=True)
    print(render_report(report))
    return 0


async def _open(args) -> Engine:
    engine = await Engine.open(args.corpus, args.db, progress=ProgressBar(), rerank=args.rerank)
    for notice in engine.notices:
        print(f"shirabe: {notice}", file=sys.stderr)
    return engine


async def _ask(args) -> int:
    engine = await _open(args)
    try:
        if args.question is not None:
            await _answer_one(engine, args.question, args)
            return 0
        for line in sys.stdin:
            question = line.rstrip("\n")
            if question.strip():
                await _answer_one(engine, question, args)
                sys.stdout.flush()
        return 0
    finally:
        await engine.close()


async def _answer_one(engine: Engine, question: str, args) -> None:
    answer = await engine.ask(_as_typed(question), args.k)
    if args.json:
        print(json.dumps(answer.to_json(), ensure_ascii=False))
    else:
        print(render_answer(answer, color=sys.stdout.isatty()))


def _as_typed(question: str) -> str:
    """The question's bytes decoded as UTF-8, invalid ones as U+FFFD: in the POSIX locale
    Python hands argv and stdin over with invalid bytes as lone surrogates (surrogateescape),
    which no text encoder takes."""
    return question.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


async def _eval(args) -> int:
    questions = load_questions(args.questions)
    if args.split:
        questions = [q for q in questions if q.split == args.split]
    engine = await _open(args)
    modes = [("BM25 only", False)]
    if engine.generation.vectors is not None and args.rerank is not False:
        modes.append(("re-ranked", None))
    runs: dict[str, list] = {}
    sweeps: dict[str, list] = {}
    try:
        for name, rerank in modes:
            engine.rerank = rerank
            runs[name] = [(q, await engine.ask(q.question, args.k)) for q in questions]
        # For each trade-off, that check is switched off and applied afterwards at each
        # threshold; the other checks stay on.
        for label, attribute in _CURVES:
            if label == "sentence similarity" and len(modes) == 1:
                continue
            saved = getattr(engine, attribute)
            setattr(engine, attribute, 0.0)
            sweeps[label] = [(q, await engine.ask(q.question, args.k)) for q in questions]
            setattr(engine, attribute, saved)
    finally:
        await engine.close()
    split = f" (split {args.split})" if args.split else ""
    print(f"{len(questions)} questions from {args.questions}{split}")
    for name, pairs in runs.items():
        print(f"\n{name}:")
        print(format_table(evaluate(pairs)))
    for label, pairs in sweeps.items():
        print(f"\nDecline trade-off, {modes[-1][0]}, by {label} (other checks on):")
        print(format_curve(decline_curve(pairs, CURVE, _SIGNALS[label]), label))
    return 0


_CURVES = (
    ("coverage", "min_coverage"),
    ("sentence similarity", "min_sentence_similarity"),
    ("answer support", "min_support"),
)
_SIGNALS = {
    "coverage": lambda a: a.best_coverage or 0.0,
    "sentence similarity": lambda a: a.best_sentence_similarity,
    "answer support": lambda a: a.answer_support,
}


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if args.command == "run":
        from bot.app import run

        return run(args.config)
    handler = {"index": _index, "ask": _ask, "eval": _eval}[args.command]
    try:
        return asyncio.run(handler(args))
    except BrokenPipeError:  # `shirabe ask ... | head`: the reader left; not an error
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        return 0
    except (*EXPECTED, EncoderMissing) as exc:
        print(f"shirabe: {exc}", file=sys.stderr)
        return 2
    except sqlite3.DatabaseError as exc:  # damage found while reading, past the opening checks
        print(f"shirabe: {describe_damage(args.db, exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
