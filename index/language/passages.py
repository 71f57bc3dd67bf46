"""Splitting documents into passages of whole sentences.

A passage is the unit BM25 ranks and a hit cites, so it must be small enough to read in a
Discord embed (~100–400 characters) yet never cut a sentence in half -- except a "sentence"
with no end in sight (a 1,000,000-character line), which is cut at commas or spaces so no
passage grows without bound.
"""

from __future__ import annotations

import re

from index.models import Passage

MIN_CHARS = 100
MAX_CHARS = 400
HARD_MAX_CHARS = 1000  # a single sentence longer than this is cut at a comma or space

# A sentence ends after 。！？!? (plus closing quotes/brackets that belong to it) or a newline.
_SENTENCE_END = re.compile(r"[。．！？!?]+[」』）)\]】〉》\"']*|\n+")
_SOFT_BREAK = re.compile(r"[、，,;；:：\s]")


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """(start, end) offsets of sentences in text[start:end], whitespace-only pieces dropped."""
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    pos = start
    for m in _SENTENCE_END.finditer(text, start, end):
        _add_trimmed(text, pos, m.end(), spans)
        pos = m.end()
    _add_trimmed(text, pos, end, spans)
    return spans


def _add_trimmed(text: str, s: int, e: int, spans: list[tuple[int, int]]) -> None:
    while s < e and text[s].isspace():
        s += 1
    while e > s and text[e - 1].isspace():
        e -= 1
    if s < e:
        spans.extend(_cut_long(text, s, e))


def _cut_long(text: str, s: int, e: int) -> list[tuple[int, int]]:
    """Cut an over-long sentence into pieces of at most HARD_MAX_CHARS, at soft breaks."""
    pieces: list[tuple[int, int]] = []
    while e - s > HARD_MAX_CHARS:
        cut = s + HARD_MAX_CHARS
        soft = [m.end() for m in _SOFT_BREAK.finditer(text, s + MAX_CHARS, cut)]
        if soft:
            cut = soft[-1]
        pieces.append((s, cut))
        s = cut
    pieces.append((s, e))
    return pieces


def split_passages(text: str) -> list[Passage]:
    """Group sentences into passages: close one once it has MIN_CHARS and the next
    sentence would push it past MAX_CHARS; a paragraph break closes it when it is big enough."""
    passages: list[Passage] = []
    cur_start: int | None = None
    cur_end = 0
    for s, e in split_sentences(text):
        if cur_start is not None:
            size = cur_end - cur_start
            paragraph_break = "\n\n" in text[cur_end:s]
            if (size >= MIN_CHARS and (e - cur_start > MAX_CHARS or paragraph_break)) or (
                e - cur_start > HARD_MAX_CHARS
            ):
                passages.append(_passage(text, len(passages), cur_start, cur_end))
                cur_start = None
        if cur_start is None:
            cur_start = s
        cur_end = e
    if cur_start is not None:
        passages.append(_passage(text, len(passages), cur_start, cur_end))
    return passages


def _passage(text: str, ordinal: int, start: int, end: int) -> Passage:
    return Passage(ordinal=ordinal, start=start, end=end, text=text[start:end])


def line_of(text: str, offset: int) -> int:
    """1-based line number of the character at `offset`."""
    return text.count("\n", 0, offset) + 1
