"""Untrusted text made safe for Discord markdown, and cut to limits without breaking it.

Corpus text is untrusted layout-wise: a stray `*`, `|`, `#` or `<@123>` in a news article must
not turn a reply into a spoiler, a header or a mention. So corpus and question text is escaped
character by character first, and only then are our own bold marks added around the matched
terms, at offsets shifted by the escaping.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace

from index.models import Excerpt

CONTENT_LIMIT = 2000  # Discord's limit on a message's content
ELLIPSIS = "…"

# --- escaping ---------------------------------------------------------------------------

# Characters that start or end Discord markdown anywhere in a line: bold/italic, underline,
# strike, code, spoiler, masked links, custom emoji / mentions / timestamps (`<...>`), and the
# line-start forms (quote `>`, header `#`, list / subtext `-`), escaped everywhere for safety.
_SPECIAL = frozenset("\\*_~`|[]<>#-")
_URL = re.compile(r"https?://[^\s<]+[^<.,:;\"')\]\s]")
_LIST_NUMBER_DOT = re.compile(r"(?m)^[ \t]*\d+(\.)(?=\s)")
_MASS_MENTION = re.compile(r"@(?=everyone|here)")


def _escape_map(text: str) -> tuple[str, list[int]]:
    """Escaped `text`, and where each original offset (0..len) lands in the escaped text.

    URLs are left alone (a backslash inside one would break the link); `@everyone`/`@here`
    get a zero-width space so they cannot even look like a mass mention.
    """
    keep = set()
    for m in _URL.finditer(text):
        keep.update(range(m.start(), m.end()))
    dots = {m.start(1) for m in _LIST_NUMBER_DOT.finditer(text)}
    mass = {m.start() for m in _MASS_MENTION.finditer(text)}
    out: list[str] = []
    offsets: list[int] = []
    pos = 0
    for i, ch in enumerate(text):
        offsets.append(pos)
        if i in keep:
            piece = ch
        elif ch in _SPECIAL or i in dots:
            piece = "\\" + ch
        elif i in mass:
            piece = "@\u200b"
        else:
            piece = ch
        out.append(piece)
        pos += len(piece)
    offsets.append(pos)
    return "".join(out), offsets


def escape_markdown(text: str) -> str:
    """`text` with every Discord markdown and mention trigger made literal."""
    return _escape_map(text)[0]


def _normalized_marks(marks: Sequence[tuple[int, int]], length: int) -> list[tuple[int, int]]:
    """Sorted, clipped, non-empty marks with touching or overlapping ones merged.

    Touching marks would render as `**a****b**`, which Discord does not read as two bolds.
    """
    spans = sorted((max(0, s), min(length, e)) for s, e in marks)
    merged: list[tuple[int, int]] = []
    for s, e in spans:
        if e <= s:
            continue
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def render_excerpt(excerpt: Excerpt) -> str:
    """The excerpt escaped, then with matched terms in bold (`Excerpt.marked("**", "**")`)."""
    marks = _normalized_marks(excerpt.marks, len(excerpt.text))
    escaped, offsets = _escape_map(excerpt.text)
    shifted = tuple((offsets[s], offsets[e]) for s, e in marks)
    return replace(excerpt, text=escaped, marks=shifted, answer_span=None).marked("**", "**")


def shorten_excerpt(excerpt: Excerpt, chars: int) -> Excerpt:
    """A window of at most `chars` raw characters (plus ellipses), kept around the first mark."""
    text_ = excerpt.text
    if len(text_) <= chars:
        return excerpt
    chars = max(chars, 1)
    first = min((s for s, _ in excerpt.marks), default=0)
    start = max(0, min(first - chars // 4, len(text_) - chars))
    end = start + chars
    body = text_[start:end]
    lead = ELLIPSIS if start > 0 and not body.startswith(ELLIPSIS) else ""
    tail = ELLIPSIS if end < len(text_) else ""
    shift = len(lead) - start
    marks = tuple(
        (max(s, start) + shift, min(e, end) + shift)
        for s, e in excerpt.marks
        if e > start and s < end
    )
    return replace(excerpt, text=lead + body + tail, marks=marks, answer_span=None)


def fit_rendered(excerpt: Excerpt, budget: int, render: Callable[[Excerpt], str]) -> str:
    """The longest window of `excerpt` whose rendering fits in `budget` characters.

    Rendering grows with the window (escapes and marks only add characters), so a binary
    search over the raw window length finds it; only candidates that fit are ever returned.
    """
    full = render(excerpt)
    if len(full) <= budget:
        return full
    best = ELLIPSIS if budget >= len(ELLIPSIS) else ""
    lo, hi = 1, len(excerpt.text) - 1
    while lo <= hi:
        mid = (lo + hi) // 2
        candidate = render(shorten_excerpt(excerpt, mid))
        if len(candidate) <= budget:
            best, lo = candidate, mid + 1
        else:
            hi = mid - 1
    return best


def one_line(excerpt: Excerpt) -> Excerpt:
    """The excerpt with line breaks as spaces, for list rows; offsets are unchanged."""
    return replace(excerpt, text=re.sub(r"\s", " ", excerpt.text))


# --- plain clipping (guards for text we build ourselves) ----------------------------------


def clip(text_: str, limit: int) -> str:
    """`text_` cut to `limit` characters with an ellipsis, never ending in a lone backslash."""
    if len(text_) <= limit:
        return text_
    cut = text_[: max(0, limit - 1)]
    trailing = len(cut) - len(cut.rstrip("\\"))
    if trailing % 2:
        cut = cut[:-1]
    if len(re.findall(r"(?<!\\)\*\*", cut)) % 2:  # an unclosed bold would swallow the rest
        i = cut.rfind("**")
        cut = cut[:i] + cut[i + 2 :]
    return cut + ELLIPSIS


def plain(text_: str, limit: int = CONTENT_LIMIT) -> str:
    """Untrusted text for a message body: escaped and clipped."""
    return clip(escape_markdown(text_), limit)
