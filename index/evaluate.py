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
from dataclasses import dataclass, field, replace
from pathlib import Path

from index.models import Answer
from index.settings import Settings
from index.verdict import decide

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
    """Figures for one group of questions, the verdicts always beside the ranking."""

    answerable: int = 0
    hits_at: dict[int, int] = field(default_factory=lambda: dict.fromkeys(CUTOFFS, 0))
    reciprocal_ranks: float = 0.0
    nothing_answerable: int = 0  # answerable, but the reply said "nothing" (hid the answer)
    answered_found: int = 0  # answerable, found in the top 3 and marked "answered"
    unanswerable: int = 0
    nothing_unanswerable: int = 0
    answered_unanswerable: int = 0  # unanswerable, yet marked "answered" (pretended)

    def add(self, question: Question, answer: Answer) -> None:
        verdict = answer.verdict or ("nothing" if not answer.hits else "related")
        if not question.evidence:
            self.unanswerable += 1
            self.nothing_unanswerable += verdict == "nothing"
            self.answered_unanswerable += verdict == "answered"
            return
        self.answerable += 1
        self.nothing_answerable += verdict == "nothing"
        rank = first_relevant_rank(question, answer)
        if rank is None:
            return
        for cut in CUTOFFS:
            self.hits_at[cut] += rank <= cut
        if rank <= MRR_DEPTH:
            self.reciprocal_ranks += 1 / rank
        self.answered_found += rank <= 3 and verdict == "answered"

    def row(self) -> dict[str, float | int]:
        n = self.answerable or 1
        out: dict[str, float | int] = {"answerable": self.answerable}
        out.update({f"hit@{c}": self.hits_at[c] / n for c in CUTOFFS})
        out["mrr@10"] = self.reciprocal_ranks / n
        out["nothing_answerable"] = self.nothing_answerable
        out["answered_found"] = self.answered_found
        out["unanswerable"] = self.unanswerable
        out["nothing_unanswerable"] = self.nothing_unanswerable
        out["answered_unanswerable"] = self.answered_unanswerable
        return out


def evaluate(pairs: list[tuple[Question, Answer]]) -> dict[str, dict[str, float | int]]:
    """Rows per kind plus "all"; questions without evidence only count verdicts."""
    tallies: dict[str, Tally] = defaultdict(Tally)
    for question, answer in pairs:
        tallies["all"].add(question, answer)
        tallies[question.kind].add(question, answer)
    return {kind: tallies[kind].row() for kind in sorted(tallies, key=lambda k: (k != "all", k))}


def format_table(rows: dict[str, dict[str, float | int]]) -> str:
    """Ranking and verdicts side by side: "nothing" on answerable questions (answers hidden)
    is never shown without "answered" on unanswerable ones (answers pretended)."""
    header = (
        f"{'kind':<18}{'n':>4}{'Hit@1':>7}{'Hit@3':>7}{'Hit@5':>7}{'MRR@10':>7}"
        f"{'nothing':>9}{'ans+top3':>10}{'unans: answered / nothing':>27}"
    )
    lines = [header, "-" * len(header)]
    for kind, r in rows.items():
        unans = ""
        if r["unanswerable"]:
            unans = (
                f"{r['answered_unanswerable']}/{r['unanswerable']}"
                f" / {r['nothing_unanswerable']}/{r['unanswerable']}"
            )
        n = r["answerable"]
        if n:
            nothing = f"{r['nothing_answerable']}/{n}"
            found = f"{r['answered_found']}/{n}"
            lines.append(
                f"{kind:<18}{n:>4}{r['hit@1']:>7.3f}{r['hit@3']:>7.3f}{r['hit@5']:>7.3f}"
                f"{r['mrr@10']:>7.3f}{nothing:>9}{found:>10}{unans:>27}"
            )
        else:
            lines.append(f"{kind:<18}{r['unanswerable']:>4}{'':>47}{unans:>27}")
    return "\n".join(lines)


def verdict_curve(
    pairs: list[tuple[Question, Answer]],
    settings_list: list[Settings],
) -> list[tuple[Settings, Tally]]:
    """The verdicts the same answers would get under other settings: the signals are kept
    on each answer, and `index.verdict.decide` is the engine's own rule."""
    out = []
    for settings in settings_list:
        tally = Tally()
        for question, answer in pairs:
            if answer.signals is not None:
                verdict, _ = decide(answer.signals, settings)
                answer = replace(answer, verdict=verdict.value)
            tally.add(question, answer)
        out.append((settings, tally))
    return out


def lookup_questions(corpus: Path) -> list[Question]:
    """Every proper noun and katakana word of the corpus asked alone, with the romanized
    spelling of each katakana name as well ("pashinyan"): a name typed alone must be found.

    Generated from the corpus, so the set grows with it. A word counts once, as written
    where first seen; its evidence is that written form."""
    from index.language.names import romanize
    from index.language.tokenize import tokenize_spans
    from index.storage.ingest import iter_documents

    seen: dict[str, bool] = {}  # word -> is a proper noun
    texts = [d.text for d in iter_documents(corpus) if not isinstance(d, tuple)]
    for text in texts:
        for token in tokenize_spans(text):
            word = token.surface.strip()
            proper = "固有名詞" in token.pos
            if len(word) >= 2 and (proper or _KATAKANA_WORD.fullmatch(word)):
                seen[word] = seen.get(word, False) or proper
    questions = [Question(w, (w,), "lookup-ja", "lookups") for w in seen]
    for word, proper in seen.items():
        if proper and _KATAKANA_WORD.fullmatch(word) and len(word) >= 3:
            latin = romanize(word).replace(" ", "")
            if len(latin) >= 4:
                questions.append(Question(latin, (word,), "lookup-latin", "lookups"))
    return questions


_KATAKANA_WORD = re.compile(r"[\u30a1-\u30fa\u30fc]{2,}")
