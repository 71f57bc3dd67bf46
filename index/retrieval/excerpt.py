"""Choosing and marking the 1–3 sentences of a passage that best show why it matched.

A whole passage is up to 400 characters; a reader on Discord wants the sentence that holds
the question's words. Windows of consecutive sentences are scored by how much of the query
they cover (weighted by idf), then cut to the length budget with "…" where text was left out.
"""

from __future__ import annotations

from index.language.passages import split_sentences
from index.language.tokenize import Token, tokenize_spans
from index.models import Excerpt

MAX_CHARS = 300
MAX_SENTENCES = 3
ELLIPSIS = "…"


def make_excerpt(
    passage: str,
    group_of: dict[str, int],
    weights: list[float],
    answers: list[tuple[int, int]] = (),
    max_chars: int = MAX_CHARS,
) -> Excerpt:
    """Pick the sentences of `passage` that cover most query weight.

    `group_of` maps a corpus term to the index of the query group it belongs to; `weights`
    gives each group's weight (its idf). `answers` are spans of the passage that answer the
    question's type (a number with a counter for "how many"); a window holding one is
    preferred -- its sentence leads the excerpt -- and the span is reported as `answer_span`.
    """
    tokens = [t for t in tokenize_spans(passage) if t.term in group_of]
    sentences = split_sentences(passage) or [(0, len(passage))]
    best: tuple | None = None
    for i in range(len(sentences)):
        for j in range(i, min(i + MAX_SENTENCES, len(sentences))):
            s, e = sentences[i][0], sentences[j][1]
            if j > i and e - s > max_chars:
                break
            covered = {group_of[t.term] for t in tokens if s <= t.start and t.end <= e}
            weight = sum(weights[g] for g in covered)
            answer = next((a for a in answers if s <= a[0] and a[1] <= e), None)
            key = (answer is not None and weight > 0, round(weight, 9), -(j - i), -s)
            if best is None or key > best[0]:
                best = (key, s, e, answer)
    assert best is not None
    _, s, e, answer = best
    if e - s > max_chars:
        s, e = _window(passage, s, e, tokens, max_chars, answer)
    return _render(passage, s, e, tokens, answer)


def _window(
    passage: str, s: int, e: int, tokens: list[Token], max_chars: int, answer
) -> tuple[int, int]:
    """Cut an over-long sentence to `max_chars` around its first match (or answer)."""
    anchors = [answer[0]] if answer else [t.start for t in tokens if s <= t.start < e]
    centre = anchors[0] if anchors else s
    start = max(s, min(centre - max_chars // 3, e - max_chars))
    return start, min(e, start + max_chars)


def _render(
    passage: str, s: int, e: int, tokens: list[Token], answer: tuple[int, int] | None
) -> Excerpt:
    prefix = ELLIPSIS if s > 0 else ""
    suffix = ELLIPSIS if e < len(passage) else ""
    shift = len(prefix) - s
    marks: list[tuple[int, int]] = []
    for t in tokens:
        if s <= t.start and t.end <= e and (not marks or t.start + shift >= marks[-1][1]):
            marks.append((t.start + shift, t.end + shift))
    span = None
    if answer and s <= answer[0] and answer[1] <= e:
        span = (answer[0] + shift, answer[1] + shift)
    return Excerpt(
        text=prefix + passage[s:e] + suffix, start=s, end=e, marks=tuple(marks), answer_span=span
    )
