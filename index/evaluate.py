"""Measuring answer quality on a question set: Hit@1/3/5, MRR@10, and declines.

A hit counts when its passage contains one of the question's evidence strings, compared
after NFKC with all whitespace removed, so line wraps and full-width digits do not matter.
Questions with no evidence are unanswerable: the right outcome for them is a decline.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from index.models import Answer

CUTOFFS = (1, 3, 5)
MRR_DEPTH = 10


@dataclass(frozen=True)
class Question:
    question: str
    evidence: tuple[str, ...]
    kind: str
    split: str | None = None


def squash(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def load_questions(path: Path) -> list[Question]:
    """Read a JSONL question set; a bad line raises ValueError naming its line number."""
    questions = []
    for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            questions.append(
                Question(
                    question=str(obj["question"]),
                    evidence=tuple(str(e) for e in obj.get("evidence") or ()),
                    kind=str(obj.get("kind") or "all"),
                    split=obj.get("split"),
                )
            )
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{no}: not a question line ({exc})") from exc
    return questions


def first_relevant_rank(question: Question, answer: Answer) -> int | None:
    wanted = [squash(e) for e in question.evidence]
    for hit in answer.hits:
        text = squash(hit.text)
        if any(w in text for w in wanted):
            return hit.rank
    return None


@dataclass
class Tally:
    """Figures for one group of questions."""

    answerable: int = 0
    hits_at: dict[int, int] = field(default_factory=lambda: dict.fromkeys(CUTOFFS, 0))
    reciprocal_ranks: float = 0.0
    declined_answerable: int = 0
    unanswerable: int = 0
    declined_unanswerable: int = 0

    def add(self, question: Question, answer: Answer) -> None:
        declined = not answer.hits
        if not question.evidence:
            self.unanswerable += 1
            self.declined_unanswerable += declined
            return
        self.answerable += 1
        self.declined_answerable += declined
        rank = first_relevant_rank(question, answer)
        if rank is None:
            return
        for cut in CUTOFFS:
            self.hits_at[cut] += rank <= cut
        if rank <= MRR_DEPTH:
            self.reciprocal_ranks += 1 / rank

    def row(self) -> dict[str, float | int]:
        n = self.answerable or 1
        out: dict[str, float | int] = {"answerable": self.answerable}
        out.update({f"hit@{c}": self.hits_at[c] / n for c in CUTOFFS})
        out["mrr@10"] = self.reciprocal_ranks / n
        out["declined_answerable"] = self.declined_answerable
        out["unanswerable"] = self.unanswerable
        out["declined_unanswerable"] = self.declined_unanswerable
        return out


def evaluate(pairs: list[tuple[Question, Answer]]) -> dict[str, dict[str, float | int]]:
    """Rows per kind plus "all"; unanswerable kinds only count declines."""
    tallies: dict[str, Tally] = defaultdict(Tally)
    for question, answer in pairs:
        tallies["all"].add(question, answer)
        tallies[question.kind].add(question, answer)
    return {kind: tallies[kind].row() for kind in sorted(tallies, key=lambda k: (k != "all", k))}


def format_table(rows: dict[str, dict[str, float | int]]) -> str:
    header = (
        f"{'kind':<18}{'n':>4}{'Hit@1':>8}{'Hit@3':>8}{'Hit@5':>8}{'MRR@10':>8}"
        f"{'lost':>6}{'declined':>14}"
    )
    lines = [header, "-" * len(header)]
    for kind, r in rows.items():
        declined = ""
        if r["unanswerable"]:
            declined = f"{r['declined_unanswerable']}/{r['unanswerable']} unans."
        if r["answerable"]:
            lines.append(
                f"{kind:<18}{r['answerable']:>4}{r['hit@1']:>8.3f}{r['hit@3']:>8.3f}"
                f"{r['hit@5']:>8.3f}{r['mrr@10']:>8.3f}{r['declined_answerable']:>6}{declined:>14}"
            )
        else:
            lines.append(f"{kind:<18}{r['unanswerable']:>4}{'':>38}{declined:>14}")
    return "\n".join(lines)


def decline_curve(
    pairs: list[tuple[Question, Answer]],
    thresholds: tuple[float, ...],
    signal: Callable[[Answer], float | None] = lambda a: a.best_coverage or 0.0,
) -> list[tuple[float, int, int, int, int]]:
    """For each threshold on `signal`: (threshold, answerable lost, answerable, unanswerable
    declined, unanswerable). `pairs` must come from an engine that declined nothing on that
    signal, so every threshold can be applied afterwards; a signal of None (support, for a
    question with no answer type) never declines."""
    rows = []
    for t in thresholds:
        lost = declined = answerable = unanswerable = 0
        for q, a in pairs:
            value = signal(a)
            out = not a.hits or (value is not None and value < t)
            if q.evidence:
                answerable += 1
                lost += out
            else:
                unanswerable += 1
                declined += out
        rows.append((t, lost, answerable, declined, unanswerable))
    return rows


def format_curve(rows: list[tuple[float, int, int, int, int]], label: str = "coverage") -> str:
    head = f"{label} <"
    lines = [f"{head:>22}{'answerable lost':>18}{'unanswerable declined':>24}"]
    for t, lost, n_a, declined, n_u in rows:
        lines.append(f"{t:>22.2f}{f'{lost}/{n_a}':>18}{f'{declined}/{n_u}':>24}")
    return "\n".join(lines)
