"""`shirabe` on the command line: index, ask, eval, log, run.

Every subcommand works from the repository root with no flags (corpus `corpus/`, database
`data/shirabe.db`), and every failure ends in one readable line on stderr, not a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import json
import logging
import os
import re
import sys
from dataclasses import asdict, replace
from pathlib import Path

from bot.json_answer import answer_json
from bot.terminal import ProgressBar, render_answer, render_report
from index.engine import Engine
from index.errors import ShirabeError
from index.evaluate import (
    Question,
    evaluate,
    format_table,
    load_questions,
    lookup_questions,
    verdict_curve,
)
from index.models import Answer, UnansweredQuestion
from index.storage.build import build_index

DEFAULT_CORPUS = Path("corpus")
DEFAULT_DB = Path("data/shirabe.db")
# Settings the eval replays the verdict under (from each answer's signals).
SWEEPS = {
    "min_coverage": (0.1, 0.2, 0.3, 0.4, 0.5),
    "min_support": (0.3, 0.4, 0.5, 0.6, 0.7),
    "min_statement": (0.5, 0.6, 0.75, 0.9, 1.0),
}

# Failures a user can fix get one line on stderr and exit code 2; anything else is a bug.
EXPECTED = (ShirabeError, FileNotFoundError, ValueError, PermissionError)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="corpus folder")
    parser.add_argument("--db", type=Path, default=DEFAULT_DB, help="index database path")
    parser.add_argument(
        "--rerank",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="re-rank BM25's best passages with the sentence encoder (default: off). Passage "
        "vectors are encoded when a question first needs them and cached in the database, so "
        "`index` ignores this flag: builds encode nothing",
    )


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="shirabe", description="Answers questions from a document collection, with sources."
    )
    parser.add_argument("--version", action="version", version=f"shirabe {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("index", help="build or update the index")
    _common(p)

    p = sub.add_parser("ask", help="answer a question (reads one per line from stdin if none)")
    p.add_argument("question", nargs="?", help="the question; omit to read questions from stdin")
    p.add_argument("-k", type=int, default=3, help="number of passages (default 3)")
    p.add_argument("--json", action="store_true", help="print one JSON object per question")
    _common(p)

    p = sub.add_parser("eval", help="measure Hit@k, MRR and verdicts on a JSONL question set")
    p.add_argument("questions", type=Path, nargs="?", help="a JSONL question set")
    p.add_argument(
        "--lookups",
        action="store_true",
        help="instead: every proper noun and katakana word of the corpus asked alone",
    )
    p.add_argument("-k", type=int, default=10, help="passages retrieved per question")
    p.add_argument("--split", help="only questions of this split (e.g. dev or test)")
    _common(p)

    p = sub.add_parser("log", help="what the query log shows (see --unanswered)")
    p.add_argument(
        "--unanswered",
        action="store_true",
        help='questions that got "nothing", "related" or a 👎, grouped by wording, most '
        "asked first (as /unanswered in Discord)",
    )
    p.add_argument(
        "--since", type=_since, default="7d", help="how far back: 7d (days) or 12h (hours)"
    )
    p.add_argument("--limit", type=int, default=50, help="at most this many groups (50)")
    p.add_argument("--json", action="store_true", help="print one JSON object per group")
    p.add_argument("--db", type=Path, default=DEFAULT_DB, help="index database path")

    p = sub.add_parser("run", help="run the Discord bot")
    p.add_argument("--config", type=Path, default=None, help="config file (default config.toml)")
    return parser


async def _index(args) -> int:
    # --rerank / --no-rerank are accepted and change nothing: builds encode no vectors.
    report = await build_index(args.corpus, args.db, ProgressBar(), repair=True)
    print(render_report(report))
    return 0


async def _open(args) -> Engine:
    engine = await Engine.open(args.corpus, args.db, progress=ProgressBar(), rerank=args.rerank)
    for notice in engine.notices:
        print(f"shirabe: {notice}", file=sys.stderr)
    return engine


async def _ask(args) -> int:
    """Exit codes follow grep: 0 something shown (answered or related), 1 nothing, 2 a
    problem; for questions read from stdin, 0 when any of them showed something."""
    engine = await _open(args)
    try:
        if args.question is not None:
            return _exit_code([await _answer_one(engine, args.question, args)])
        answers = []
        for line in sys.stdin:
            question = line.rstrip("\n")
            if question.strip():
                answers.append(await _answer_one(engine, question, args))
                sys.stdout.flush()
        return _exit_code(answers)
    finally:
        await engine.close()


async def _answer_one(engine: Engine, question: str, args) -> Answer:
    answer = await engine.ask(_as_typed(question), args.k)
    if args.json:
        print(json.dumps(answer_json(answer), ensure_ascii=False))
    else:
        print(render_answer(answer, color=sys.stdout.isatty()))
    return answer


def _exit_code(answers: list[Answer]) -> int:
    if any(a.hits for a in answers):
        return 0
    if answers and all(a.problem for a in answers):
        return 2
    return 1


def _as_typed(question: str) -> str:
    """The question's bytes decoded as UTF-8, invalid ones as U+FFFD: in the POSIX locale
    Python hands argv and stdin over with invalid bytes as lone surrogates (surrogateescape),
    which no text encoder takes."""
    return question.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


async def _eval(args) -> int:
    engine = await _open(args)
    try:
        if args.lookups or args.questions is None:
            if args.questions is not None or not args.lookups:
                raise ValueError("give a question set or --lookups (one of them)")
            questions = await asyncio.to_thread(lookup_questions, args.corpus)
            source = f"one-word look-ups generated from {args.corpus}"
        else:
            questions = load_questions(args.questions)
            source = str(args.questions)
        if args.split:
            questions = [q for q in questions if q.split == args.split]
        pairs = [(q, await engine.ask(q.question, args.k)) for q in questions]
    finally:
        await engine.close()
    split = f" (split {args.split})" if args.split else ""
    mode = "re-ranked" if engine.reranking else "BM25"
    print(f"{len(questions)} questions from {source}{split}; ranking: {mode}")
    print(format_table(evaluate(pairs)))
    if args.lookups:
        _print_misses(pairs)
        return 0
    for name, values in SWEEPS.items():
        variants = [replace(engine.settings, **{name: v}) for v in values]
        print(f"\nVerdicts by {name} (the rest as set; replayed from each answer's signals):")
        print(f"{name:>16}{'answerable nothing':>20}{'ans+top3':>10}{'unans. answered':>17}")
        for settings, tally in verdict_curve(pairs, variants):
            r = tally.row()
            print(
                f"{getattr(settings, name):>16.2f}"
                f"{_frac(r['nothing_answerable'], r['answerable']):>20}"
                f"{_frac(r['answered_found'], r['answerable']):>10}"
                f"{_frac(r['answered_unanswerable'], r['unanswerable']):>17}"
            )
    return 0


def _frac(count: float | int, total: float | int) -> str:
    return f"{int(count)}/{int(total)}"


def _print_misses(pairs: list[tuple[Question, Answer]], limit: int = 20) -> None:
    """The look-ups not found in the top 3, so a miss can be reproduced with `shirabe ask`."""
    from index.evaluate import first_relevant_rank

    misses = [q.question for q, a in pairs if (first_relevant_rank(q, a) or 99) > 3]
    if misses:
        print(f"\nnot in the top 3 ({len(misses)}): " + ", ".join(misses[:limit]))


def _version() -> str:
    try:
        return importlib.metadata.version("shirabe")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout, not installed
        return "(not installed)"


def _db_folder_problem(args) -> str | None:
    """A `--db` inside a folder that does not exist is most likely a typo: say so instead of
    creating folders. The default `data/` folder is created as needed."""
    db = getattr(args, "db", None)
    if db is None or db.parent == DEFAULT_DB.parent or db.parent.is_dir():
        return None
    return (
        f"the folder {db.parent} for the index database {db.name} does not exist; "
        "create it first (mkdir -p) or give another --db"
    )


def _since(value: str) -> float:
    """`7d` or `12h` as days."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([dh])\s*", value.lower())
    if match is None or float(match[1]) <= 0:
        raise argparse.ArgumentTypeError(f"expected a duration like 7d or 12h, not {value!r}")
    return float(match[1]) / (24 if match[2] == "h" else 1)


async def _log(args) -> int:
    if not args.unanswered:
        raise ValueError("log lists unanswered questions: shirabe log --unanswered --since 7d")
    engine = await Engine.open_log(args.db)
    try:
        groups = await engine.unanswered(args.since, limit=args.limit)
    finally:
        await engine.close()
    if args.json:
        for group in groups:
            print(json.dumps(asdict(group), ensure_ascii=False))
    else:
        print(_unanswered_table(groups, args.since))
    return 0


def _unanswered_table(groups: list[UnansweredQuestion], days: float) -> str:
    span = f"{days:g} days" if days >= 1 else f"{days * 24:g} hours"
    if not groups:
        return f"No question went unanswered or got a 👎 in the last {span}."
    lines = [
        f'Unanswered in the last {span} ("nothing", "related" or 👎), most asked first:',
        f"{'asked':>5} {'nothing':>7} {'related':>7} {'👎 votes':>8}  "
        f"{'last asked (UTC)':<16}  question",
    ]
    for g in groups:
        last = g.last_at[:16].replace("T", " ")
        lines.append(
            f"{g.count:>5} {g.nothing:>7} {g.related:>7} {g.down_votes:>8}  {last:<16}  "
            + " ".join(g.question.split())
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if args.command == "run":
        from bot.app import run

        return run(args.config)
    if problem := _db_folder_problem(args):
        print(f"shirabe: {problem}", file=sys.stderr)
        return 2
    handler = {"index": _index, "ask": _ask, "eval": _eval, "log": _log}[args.command]
    try:
        return asyncio.run(handler(args))
    except BrokenPipeError:  # `shirabe ask ... | head`: the reader left; not an error
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        return 0
    except EXPECTED as exc:
        print(f"shirabe: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
