from __future__ import annotations

from index.retrieval.excerpt import ELLIPSIS, MAX_CHARS, make_excerpt

PASSAGE = (
    "カザフスタン政府は燃料価格の統制を解除した。"
    "抗議運動は全土に広がった。"
    "内務省は10日、これまでにおよそ8000人を拘束したと発表しました。"
    "大統領府は外国人を含むとしている。"
)


def groups(*terms: str) -> tuple[dict[str, int], list[float]]:
    return {t: i for i, t in enumerate(terms)}, [1.0] * len(terms)


def test_picks_sentence_with_the_query_terms_and_marks_them():
    group_of, weights = groups("拘束", "内務")
    ex = make_excerpt(PASSAGE, group_of, weights)
    assert "8000人を拘束" in ex.text
    assert ex.text.startswith(ELLIPSIS)  # the passage's first sentences were left out
    marked = [ex.text[s:e] for s, e in ex.marks]
    assert marked == ["内務", "拘束"]
    assert PASSAGE[ex.start : ex.end] in ex.text


def test_marked_wraps_each_match():
    group_of, weights = groups("拘束")
    ex = make_excerpt(PASSAGE, group_of, weights)
    assert "**拘束**" in ex.marked("**", "**")


def test_excerpt_fits_the_budget_with_ellipses():
    long = "前置きの文です。" * 10 + "長い" * 400 + "拘束した。" + "後ろの文です。" * 10
    group_of, weights = groups("拘束")
    ex = make_excerpt(long, group_of, weights)
    assert len(ex.text) <= MAX_CHARS + 2 * len(ELLIPSIS)
    assert ex.text.startswith(ELLIPSIS) and ex.text.endswith(ELLIPSIS)
    assert any(ex.text[s:e] == "拘束" for s, e in ex.marks)


def test_several_sentences_when_they_cover_more_terms():
    group_of, weights = groups("燃料", "抗議")
    ex = make_excerpt(PASSAGE, group_of, weights)
    assert "燃料" in ex.text and "抗議" in ex.text
    assert not ex.text.startswith(ELLIPSIS) and ex.text.endswith(ELLIPSIS)


def test_answer_span_preference_is_reported():
    group_of, weights = groups("発表")

    i = PASSAGE.find("8000人")
    ex = make_excerpt(PASSAGE, group_of, weights, answers=[(i, i + 5)])
    assert ex.answer_span is not None
    s, e = ex.answer_span
    assert ex.text[s:e] == "8000人"
