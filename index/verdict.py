"""The one rule that says what a reply may claim: answered, related, or nothing.

A question-answering bot is trusted when *if the documents say it, you see it; if they
don't, the bot does not pretend*. Hiding passages that are there is the worse failure, so
only "nothing" withholds them, and it needs the question to meet the documents barely or not
at all. Between "answered" and "related" the bar is a sentence that states the asked fact:
for who/how many/where/when/why a span of that type among the question's words, for other
questions a sentence holding most of the question.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from index.settings import Settings


class Verdict(StrEnum):
    ANSWERED = "answered"
    RELATED = "related"
    NOTHING = "nothing"


WANTED = {
    "who": "who",
    "how_many": "how many",
    "where": "where",
    "when": "when",
    "why": "why",
}


@dataclass(frozen=True)
class Signals:
    """What the ranking found, as the verdict reads it (also printed by `--json`)."""

    matched: bool  # some passage holds a word of the question (translated or not)
    coverage: float  # share of the question's weight the best passage holds
    qtype: str | None  # who / how_many / where / when / why / what, or None
    support: float  # best share of the question in a stating sentence of a shown passage
    answer_found: bool  # a shown sentence holds a span of the asked type (typed questions)
    sentence_similarity: float | None = None  # best question-sentence cosine, if re-ranked

    @property
    def typed(self) -> bool:
        return self.qtype in WANTED


def decide(signals: Signals, settings: Settings) -> tuple[Verdict, str]:
    """The verdict and the reason a reader is shown for it."""
    if not signals.matched:
        return Verdict.NOTHING, "none of the question's words occur in the documents"
    if signals.coverage < settings.min_coverage:
        return Verdict.NOTHING, (
            f"the best passage holds only {signals.coverage:.0%} of the question's words"
        )
    sim = signals.sentence_similarity
    if sim is not None and sim < settings.min_sentence_similarity:
        return Verdict.RELATED, "no sentence of the closest passages is close in meaning"
    if signals.typed:
        wanted = WANTED[signals.qtype or ""]
        if not signals.answer_found:
            return Verdict.RELATED, f"no passage says {wanted}"
        if signals.support < settings.min_support:
            return Verdict.RELATED, f"no passage says {wanted} together with what was asked"
        return Verdict.ANSWERED, "a passage states it"
    if signals.support < settings.min_statement:
        return Verdict.RELATED, "no single sentence states what was asked"
    return Verdict.ANSWERED, "a passage states it"
