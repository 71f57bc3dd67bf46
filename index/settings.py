"""Every tunable number of ranking and of the verdict, in one frozen object.

The engine is handed one `Settings`; `shirabe eval`, `scripts/tune_rerank.py` and the tests
make variants with `dataclasses.replace` instead of changing module constants, so what was
measured is exactly what runs. The defaults were chosen on the dev sets
(tests/data/questions.jsonl dev split, questions_discord.jsonl) and reported on the others.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    # Ranking.
    rerank: bool | None = False  # sentence-encoder re-ranking: off, on, None = if installed
    rerank_pool: int = 10  # the head of BM25's candidates re-ordered by fused score
    rerank_weight: float = 0.5  # share of question-passage similarity in the re-ranked score
    answer_bonus: float = 0.3  # fused score x (1 + bonus x support) for an answering passage
    shown: int = 3  # passages whose sentences the verdict reads (a reply shows three)
    # Verdict: "nothing" below this share of the question's weight in the best passage.
    min_coverage: float = 0.15
    # "answered" for who/how-many/where/when/why: a sentence with an answer of the asked type
    # that, with the sentence before it, holds this share of the question's weight.
    min_support: float = 0.7
    # "answered" for other questions: one sentence holds this share of the question's weight.
    min_statement: float = 0.75
    # With re-ranking on: below this question-sentence cosine nothing shown states the fact.
    min_sentence_similarity: float = 0.2


DEFAULT = Settings()
