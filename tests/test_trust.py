"""The trust contract: a name typed alone is found; the verdict says honestly whether a
passage states the answer (answered), only relates to it (related), or nothing does."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from bot.json_answer import answer_json
from index.engine import Engine
from index.evaluate import evaluate, lookup_questions
from index.language.tokenize import tokenize
from index.language.vocabulary import VocabularyIndex
from index.settings import DEFAULT
from index.verdict import Signals, Verdict, decide


def ask_all(corpus, db, questions: list[str]):
    async def scenario():
        engine = await Engine.open(corpus, db)
        try:
            return [await engine.ask(q) for q in questions]
        finally:
            await engine.close()

    return asyncio.run(scenario())


@pytest.mark.parametrize(
    ("alone", "in_context"),
    [
        ("パシニャン", "パシニャン首相"),
        ("ブリンケン", "ブリンケン国務長官は"),
        ("王毅", "王毅外相は"),
    ],
)
def test_a_name_alone_gets_the_term_it_gets_in_context(alone, in_context):
    assert tokenize(alone) == [alone]
    assert alone in tokenize(in_context)


def test_proper_nouns_are_their_written_form_not_their_reading():
    assert tokenize("北京で会談")[0] == "北京"


def test_vocabulary_fallback_finds_longer_terms_by_a_piece():
    vocab = VocabularyIndex(["カザフスタン", "アゼルバイジャン", "アゼルバイジャン軍", "ロシア"])
    assert vocab.containing("アゼル") == ["アゼルバイジャン", "アゼルバイジャン軍"]
    assert vocab.extensions("カザフ") == ["カザフスタン"]
    assert vocab.containing("ア") == []  # one character stands for too many terms
    assert vocab.containing("ウクライナ") == []


@pytest.mark.slow
def test_every_name_of_the_corpus_asked_alone_is_in_the_top_3(bundled_engine_paths):
    """Generated from the corpus, so the set grows with it: >= 99 % of its proper nouns and
    katakana words, and >= 90 % of the romanized katakana names (pashinyan)."""
    corpus, db = bundled_engine_paths
    questions = lookup_questions(corpus)
    answers = ask_all(corpus, db, [q.question for q in questions])
    rows = evaluate(list(zip(questions, answers, strict=True)))
    assert rows["lookup-ja"]["answerable"] >= 100
    assert rows["lookup-ja"]["hit@3"] >= 0.99
    assert rows["lookup-latin"]["hit@3"] >= 0.90


def test_shortened_and_latin_names_reach_the_documents(bundled_engine_paths):
    corpus, db = bundled_engine_paths
    answers = ask_all(corpus, db, ["カザフ", "アゼル", "Blinken", "Pashinyan"])
    wanted = ["カザフスタン", "アゼルバイジャン", "ブリンケン", "パシ"]
    for answer, name in zip(answers, wanted, strict=True):
        assert answer.verdict != "nothing", answer.question
        assert name in answer.hits[0].text, answer.question


def test_three_verdicts_on_the_bundled_corpus(bundled_engine_paths):
    corpus, db = bundled_engine_paths
    stated, lacking, small_talk, off_topic = ask_all(
        corpus, db, ["CSTOの議長は誰?", "トカエフ大統領は何歳?", "おはよう", "How do I bake bread?"]
    )
    assert stated.verdict == "answered" and stated.answer is not None
    assert stated.answer.sentence[slice(*stated.answer.span)] == "ニコル・パシヤン首相"
    assert lacking.verdict == "related" and lacking.hits and lacking.answer is None
    for answer in (small_talk, off_topic):
        assert answer.verdict == "nothing" and answer.hits == []
    shown = answer_json(stated)
    assert shown["verdict"] == "answered" and shown["answer"]["text"] == "ニコル・パシヤン首相"


def signals(**kwargs) -> Signals:
    base = dict(matched=True, coverage=1.0, qtype="who", support=1.0, answer_found=True)
    return Signals(**{**base, **kwargs})


def test_the_verdict_rule_reads_only_its_signals_and_settings():
    assert decide(signals(matched=False), DEFAULT)[0] is Verdict.NOTHING
    assert decide(signals(coverage=0.1), DEFAULT)[0] is Verdict.NOTHING
    assert decide(signals(answer_found=False), DEFAULT)[0] is Verdict.RELATED
    assert decide(signals(support=0.3), DEFAULT)[0] is Verdict.RELATED
    assert decide(signals(support=0.3), replace(DEFAULT, min_support=0.2))[0] is Verdict.ANSWERED
    assert decide(signals(), DEFAULT)[0] is Verdict.ANSWERED
    untyped = signals(qtype=None, answer_found=False, support=0.9)
    assert decide(untyped, DEFAULT)[0] is Verdict.ANSWERED
    assert decide(replace(untyped, support=0.5), DEFAULT)[0] is Verdict.RELATED
