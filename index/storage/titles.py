"""A document's title as a reader would name it, when the catalog does not say.

The first line of a saved web page is often not its title: a navigation link
(「エントランスへはここをク」), the site's URL, a "参考:" reference. So the title is the Markdown
heading (without its `#`), the HTML `<title>`, or the first line that reads like a title —
a headline broken over two short lines is joined — cut at its first sentence or 80 characters.
"""

from __future__ import annotations

import html
import re

TITLE_CHARS = 80
TITLES_VERSION = "2"  # bump when the rules change: every title is recomputed on the next build
SCAN_LINES = 30  # a title is looked for in the first lines only

_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$")
_HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.I | re.S)
_URL = re.compile(r"^(?:https?://|www\.)\S*$", re.I)
# Navigation and furniture of saved pages: links to the entrance / top / menu, breadcrumbs,
# "reference:" and "related article:" lines.
_FURNITURE = re.compile(
    r"ここをク|クリック|エントランス|トップページ|トップへ|ホームへ|メニュー|ログイン|ページの先頭"
    r"|^(?:参考|関連記事|出典|引用|翻訳|追記|home|menu|login|skip to)\b|[›»]|\s>\s",
    re.I,
)
_SENTENCE_END = re.compile(r"[。！？!?]")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")
MIN_CHARS = 4


def title_from_html(raw: str) -> str | None:
    """The page's `<title>`, unescaped and on one line, if it has a usable one."""
    found = _HTML_TITLE.search(raw)
    if not found:
        return None
    title = " ".join(html.unescape(found.group(1)).split())
    return _cut(title) if len(title) >= MIN_CHARS else None


def title_of(text: str, fallback: str) -> str:
    """The title of a document's text (see the module docstring); `fallback` (its path)
    when no line reads like one."""
    lines = [line.strip() for line in text.split("\n")[:SCAN_LINES]]
    for line in lines:
        if heading := _HEADING.match(line):
            return _cut(heading.group(1))
    for i, line in enumerate(lines):
        if _reads_like_title(line):
            return _cut(_joined(line, lines[i + 1] if i + 1 < len(lines) else ""))
    return fallback


def _reads_like_title(line: str) -> bool:
    return (
        len(line) >= MIN_CHARS
        and not _URL.match(line)
        and not _FURNITURE.search(line)
        and any(ch.isalnum() for ch in line)
    )


def _joined(line: str, following: str) -> str:
    """A headline set over two short lines (「ロシア主導の軍事ブロックは」「なぜ…のか?」) is
    one title: join the next line of the same paragraph when this one does not end a
    sentence and both fit."""
    if not following or _SENTENCE_END.search(line[-1:]) or not _reads_like_title(following):
        return line
    if len(line) + len(following) > TITLE_CHARS:
        return line
    glue = "" if _CJK.search(line[-1:]) and _CJK.search(following[:1]) else " "
    return line + glue + following


def _cut(title: str) -> str:
    """At the first sentence end, or at TITLE_CHARS with an ellipsis."""
    end = _SENTENCE_END.search(title)
    if end and end.end() <= TITLE_CHARS:
        title = title[: end.end()].rstrip("。")
    return title if len(title) <= TITLE_CHARS else title[: TITLE_CHARS - 1] + "…"
