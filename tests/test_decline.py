"""The answer-type checks behind "nothing relevant": who holds the asked role, and the
sentence context that counts as support."""

from __future__ import annotations

import pytest

from index.retrieval.search import Candidate, Ranked, answer_finder, plan_query, prefer_answers


def finder(question: str):
    return answer_finder(plan_query(question, lambda term: True))


def texts(text: str, spans: list[tuple[int, int]]) -> list[str]:
    return [text[a:b] for a, b in spans]


def test_who_answer_must_be_in_a_clause_naming_the_asked_role():
    find = finder("カザフスタンの国防次官の名前は?")
    other = "トカエフ大統領は演説した。カザフスタンの国防次官は、作戦を続けると強調した。"
    assert find(other) == []
    named = "会見したカザフスタンのヌルラン・ベケトフ国防次官は作戦の継続を強調した。"
    assert texts(named, find(named)) == ["ヌルラン・ベケトフ国防次官"]


def test_who_role_may_stand_before_the_name_in_the_same_clause():
    find = finder("CSTOの議長は誰?")
    text = "水曜日遅く、CSTOの現議長であるアルメニアのニコル・パシヤン首相は、派遣を確認した。"
    assert texts(text, find(text)) == ["ニコル・パシヤン首相"]


def test_who_answer_of_another_country_is_not_an_answer():
    text = "水曜日遅く、CSTOの現議長であるアルメニアのニコル・パシヤン首相は、派遣を確認した。"
    assert finder("カザフスタンの首相は誰?")(text) == []
    assert texts(text, finder("アルメニアの首相は誰?")(text)) == ["ニコル・パシヤン首相"]


def test_who_without_a_role_takes_any_person():
    find = finder("誰が派遣を確認した?")
    text = "トカエフ大統領は派遣を確認した。"
    assert texts(text, find(text)) == ["トカエフ大統領"]


def test_support_counts_the_sentence_before_the_answer():
    """「…平和維持軍が…。総勢約2,600人で構成されている。」: the number's sentence leaves
    its subject to the sentence before, which holds the question's words."""
    plan = plan_query("CSTO平和維持軍は何人?", lambda term: True)
    n = len(plan.groups)
    text = "CSTOの平和維持軍が到着した。総勢約2,600人で構成されている。"
    alone = "総勢約2,600人で構成されている。CSTOの平和維持軍が到着した。"
    supports = []
    for passage in (text, alone):
        ranked = Ranked([Candidate(0, 1.0, 1.0)], [[i] for i in range(n)], [1.0] * n, float(n))
        prefer_answers(ranked, {0: passage}, plan)
        supports.append(ranked.pool[0].support)
        assert ranked.pool[0].answering == 1
    # Groups: csto 平和 維持 軍 (何人 asks, it is not searched). With the sentence before:
    # all of them; alone, the number's sentence holds none.
    assert n == 4
    assert supports == [pytest.approx(1.0), pytest.approx(0.0)]
