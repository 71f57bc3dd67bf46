from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from index.language.passages import (
    HARD_MAX_CHARS,
    MAX_CHARS,
    line_of,
    split_passages,
    split_sentences,
)
from tests.conftest import BUNDLED


def bundled_texts():
    return [p.read_text(encoding="utf-8") for p in sorted(BUNDLED.glob("*.txt"))]


def test_offsets_point_into_the_document():
    for text in bundled_texts():
        passages = split_passages(text)
        assert passages
        for i, p in enumerate(passages):
            assert p.ordinal == i
            assert text[p.start : p.end] == p.text


def test_passages_are_in_order_and_cover_all_sentences():
    for text in bundled_texts():
        passages = split_passages(text)
        for a, b in zip(passages, passages[1:], strict=False):
            assert a.end <= b.start
        covered = "".join(p.text for p in passages)
        assert re.sub(r"\s", "", covered) == re.sub(r"\s", "", text)


def test_passage_sizes_are_readable():
    sizes = [len(p.text) for t in bundled_texts() for p in split_passages(t)]
    assert max(sizes) <= HARD_MAX_CHARS
    # Most passages fall in the 100–400 band; short ones are whole short documents' ends.
    in_band = sum(1 for s in sizes if s <= MAX_CHARS)
    assert in_band / len(sizes) > 0.8


def test_sentences_are_never_cut():
    text = "一つ目の文です。" * 30 + "二つ目！" + "三つ目？\n" + "四つ目の文。" * 40
    for p in split_passages(text):
        assert p.text.endswith(("。", "！", "？"))


def test_endless_line_is_cut_into_bounded_passages():
    text = "あ" * 1_000_000
    passages = split_passages(text)
    assert all(len(p.text) <= HARD_MAX_CHARS for p in passages)
    assert sum(len(p.text) for p in passages) == len(text)


def test_closing_quote_stays_with_its_sentence():
    text = "彼は「行く。」と言った。次の文。"
    spans = split_sentences(text)
    assert text[spans[0][0] : spans[0][1]] == "彼は「行く。」"


def test_line_of():
    assert line_of("a\nb\nc", 0) == 1
    assert line_of("a\nb\nc", 4) == 3


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from("あいう漢字abc 。！？!?\n、"), max_size=3000))
def test_offsets_hold_for_any_text(text):
    for p in split_passages(text):
        assert text[p.start : p.end] == p.text
        assert p.text.strip() == p.text
