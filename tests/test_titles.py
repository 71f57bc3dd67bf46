"""Titles a reader would give the documents, without a catalog entry."""

from __future__ import annotations

import pytest

from index.storage.titles import TITLE_CHARS, title_from_html, title_of
from tests.conftest import BUNDLED


def test_first_line_that_reads_like_a_title():
    assert title_of("\n\n  最初の行  \n次", "f.txt") == "最初の行"
    assert title_of("   \n", "f.txt") == "f.txt"


def test_long_lines_are_cut_at_the_first_sentence_or_with_an_ellipsis():
    assert title_of("短い見出しです。そして本文が続く。", "f.txt") == "短い見出しです"
    title = title_of("あ" * 200, "f.txt")
    assert len(title) == TITLE_CHARS and title.endswith("…")


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("エントランスへはここをク\n\n本当の見出し\n", "本当の見出し"),
        ("https://example.org\nhttp://example.com/b\n\n記事の見出し\n", "記事の見出し"),
        ("参考:Some English source\n見出しはこちら\n", "見出しはこちら"),
        ("Home > World > Asia\nThe headline\n", "The headline"),
        ("# Markdown の見出し\n本文\n", "Markdown の見出し"),
        ("前書き\n## 二番目の見出し ##\n", "二番目の見出し"),
        (
            "ロシア主導の軍事ブロックは\nなぜ介入したのか?\n\n本文",
            "ロシア主導の軍事ブロックはなぜ介入したのか?",
        ),
    ],
)
def test_navigation_urls_and_references_are_skipped(text, title):
    assert title_of(text, "f.txt") == title


def test_html_title_tag():
    assert title_from_html("<html><head><title> A &amp; B </title></head></html>") == "A & B"
    assert title_from_html("<html><body>no title</body></html>") is None


def test_every_bundled_document_has_a_sensible_title():
    """No navigation link, no URL, no reference line; something a reader would call it."""
    for path in sorted(BUNDLED.glob("*.txt")):
        title = title_of(path.read_text(encoding="utf-8"), path.name)
        assert title != path.name and len(title) >= 10, path.name
        assert not title.startswith(("http", "参考")) and "ここをク" not in title, title
