"""English words of a question -> groups of the bundled corpus's Japanese terms."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.english import (
    STOP_WORDS,
    TermGroup,
    english_groups,
    headword_term,
    is_english_word,
    lemmatize,
)
from index.names import NameIndex
from index.tokenize import tokenize

CORPUS = Path(__file__).resolve().parent.parent / "corpus"


@pytest.fixture(scope="module")
def vocabulary() -> set[str]:
    terms: set[str] = set()
    for path in sorted(CORPUS.glob("*.txt")):
        terms.update(tokenize(path.read_text(encoding="utf-8")))
    return terms


@pytest.fixture(scope="module")
def names(vocabulary) -> NameIndex:
    return NameIndex.build(vocabulary)


@pytest.fixture(scope="module")
def ask(vocabulary, names):
    """Question -> {label: group}, the way search calls english_groups."""

    def run(question: str, **kwargs) -> dict[str, TermGroup]:
        terms = list(dict.fromkeys(tokenize(question)))
        groups, _ = english_groups(terms, vocabulary.__contains__, names, **kwargs)
        return {g.label: g for g in groups}

    return run


@pytest.mark.parametrize(
    ("word", "lemma"),
    [
        ("chairs", "chair"),
        ("detained", "detain"),
        ("troops", "troop"),
        ("countries", "country"),
        ("was", "be"),
        ("held", "hold"),
        ("leaders", "leader"),
        ("protests", "protest"),
        ("occupied", "occupy"),
        ("announced", "announce"),
        ("stopped", "stop"),
        ("making", "make"),
        ("used", "use"),
        ("taxes", "tax"),
        ("fled", "flee"),
        ("Killed", "kill"),
        # Not inflections: left alone.
        ("news", "news"),
        ("status", "status"),
        ("crisis", "crisis"),
        ("building", "building"),
        ("speed", "speed"),
        ("chair", "chair"),
    ],
)
def test_lemmatize(word, lemma):
    assert lemmatize(word) == lemma


def test_lemmatize_uses_the_lexicon_to_pick_a_candidate():
    assert lemmatize("detained", lexicon={"detain"}) == "detain"
    assert lemmatize("based", lexicon={"base", "bas"}) == "base"
    # With no lexicon at all the suffix rules still give a stem.
    assert lemmatize("troops", lexicon=set()) == "troop"
    assert lemmatize("detained", lexicon=set()) == "detain"


def test_is_english_word():
    assert is_english_word("csto")
    assert is_english_word("don't")
    assert not is_english_word("議長")
    assert not is_english_word("2022")
    assert not is_english_word("")


def test_stop_words_cover_function_and_question_words():
    for word in ("the", "of", "is", "who", "what", "how", "many", "does", "did", "which"):
        assert word in STOP_WORDS


def test_stop_words_make_no_groups(vocabulary, names):
    terms = ["the", "of", "is", "who", "what", "how", "many", "does", "s", "chair"]
    groups, _ = english_groups(terms, vocabulary.__contains__, names)
    assert [g.label for g in groups] == ["chair"]


def test_who_chairs_csto(ask):
    groups = ask("who chairs CSTO?")
    assert list(groups) == ["chairs", "csto"]
    assert groups["chairs"].source == "jmdict"
    assert groups["chairs"].lemma == "chair"
    assert "議長" in groups["chairs"].terms
    assert groups["csto"] == TermGroup("csto", ("csto",), "term")


@pytest.mark.parametrize(
    ("question", "word", "expected"),
    [
        ("how many people were detained in Kazakhstan?", "detained", "拘束"),
        ("how many people were detained in Kazakhstan?", "people", "人"),
        ("how many people were detained in Kazakhstan?", "kazakhstan", "カザフスタン"),
        ("why did protests start in Kazakhstan?", "protests", "抗議"),
        ("why did protests start in Kazakhstan?", "start", "始まる"),
        ("where did Azerbaijan's troops occupy?", "troops", "部隊"),
        ("where did Azerbaijan's troops occupy?", "occupy", "占領"),
        ("where did Azerbaijan's troops occupy?", "azerbaijan", "アゼルバイジャン"),
        ("when did CSTO announce the deployment?", "announce", "発表"),
        ("when did CSTO announce the deployment?", "deployment", "派遣"),
        ("why did fuel prices rise?", "fuel", "燃料"),
        ("why did fuel prices rise?", "prices", "価格"),
        ("who is the president of Kazakhstan?", "president", "大統領"),
        ("did NATO intervene?", "intervene", "介入"),
        ("who killed the protesters?", "protesters", "抗議"),  # protester -> protest
    ],
)
def test_translations_land_on_corpus_terms(ask, vocabulary, question, word, expected):
    group = ask(question)[word]
    assert expected in group.terms, group
    assert all(t in vocabulary for t in group.terms)


def test_most_likely_translation_comes_first(ask):
    assert ask("fuel")["fuel"].terms[0] == "燃料"
    assert ask("president")["president"].terms[0] == "大統領"
    assert ask("occupy")["occupy"].terms[0] == "占領"


def test_alternatives_are_capped(ask):
    for cap in (1, 2, 6):
        for group in ask("how many people were detained", max_alternatives=cap).values():
            assert 1 <= len(group.terms) <= cap
    assert len(ask("people")["people"].terms) == 6


def test_latin_corpus_words_stay_as_written(ask):
    # lpg is in the corpus as written; JMdict's 液化石油ガス would only give its piece 石油.
    assert ask("What is the LPG price?")["lpg"] == TermGroup("lpg", ("lpg",), "term")
    assert ask("Did NATO intervene?")["nato"].terms == ("nato",)
    # The corpus also writes "kazakhstan" in Latin letters: both spellings count.
    assert set(ask("Kazakhstan")["kazakhstan"].terms) >= {"カザフスタン", "kazakhstan"}


def test_names_match_katakana(ask):
    assert ask("What did Tokayev ask?")["tokayev"].terms[0] == "トカエフ"
    assert ask("What did Tokayev ask?")["tokayev"].source == "name"
    assert set(ask("How did Pashinyan respond?")["pashinyan"].terms) == {"パシニャン", "パシヤン"}
    assert ask("What happened in Almaty?")["almaty"].terms[0] == "アルマトイ"
    # Latin words JMdict knows do not go through the (lenient) sound match.
    assert "パシヤン" not in ask("passion")["passion"].terms


def test_names_can_be_left_out(vocabulary):
    groups, _ = english_groups(["tokayev", "chair"], vocabulary.__contains__, None)
    assert groups[0] == TermGroup("tokayev", ("tokayev",), "term")
    assert "議長" in groups[1].terms


def test_spacing_differences_join_latin_words(ask):
    groups = ask("What did Sev Lake say?")
    assert groups["sev lake"] == TermGroup("sev lake", ("sevlake",), "latin")
    assert "sev" not in groups and "lake" not in groups


def test_a_name_spelled_in_two_words(ask):
    group = ask("Kassym-Jomart")["kassym jomart"]
    assert group.terms == ("カシムジョマルト・トカエフ",)
    assert group.source == "name"


def test_nur_sultan_reaches_both_halves(ask):
    groups = ask("Nur-Sultan")
    assert "ヌル" in groups["nur"].terms
    assert "スルタン" in groups["sultan"].terms


def test_phrases_translate_as_one_group(ask):
    groups = ask("Who is the prime minister of Armenia?")
    assert groups["prime minister"].terms == ("首相",)
    assert "prime" not in groups and "minister" not in groups


def test_split_acronym(ask):
    groups = ask("What did the U.S. say?")
    assert set(groups["us"].terms) <= {"アメリカ", "米国"}
    assert groups["us"].terms


def test_japanese_terms_and_numbers_pass_through(vocabulary, names):
    groups, translations = english_groups(
        ["議長", "2022", "chair", "存在しない語"], vocabulary.__contains__, names
    )
    assert groups[0] == TermGroup("議長", ("議長",), "term")
    assert groups[1] == TermGroup("2022", ("2022",), "term")
    assert groups[3] == TermGroup("存在しない語", ("存在しない語",), "term")
    assert list(translations) == ["chair"]


def test_translations_map_for_display(ask, vocabulary, names):
    terms = list(dict.fromkeys(tokenize("who chairs CSTO in Kazakhstan? flibbertigibbet")))
    _, translations = english_groups(terms, vocabulary.__contains__, names)
    assert "議長" in translations["chairs"]
    assert "カザフスタン" in translations["kazakhstan"]
    assert "csto" not in translations  # found as written: nothing was translated
    assert translations["flibbertigibbet"] == []  # searched for, but nothing in the corpus


def test_has_term_decides_what_is_kept():
    only_chair = {"椅子"}.__contains__
    groups, _ = english_groups(["chair"], only_chair, None)
    assert groups[0].terms == ("椅子",)


def test_duplicate_words_make_one_group(ask):
    groups, _ = english_groups(["chair", "chairs", "chair"], lambda t: t == "議長", None)
    assert [g.label for g in groups] == ["chair", "chairs"]


def test_headword_term_reduces_compounds_to_their_head():
    assert headword_term("議長") == ("議長", False)
    assert headword_term("身柄を拘束する") == ("拘束", True)
    assert headword_term("留め置く") is None or headword_term("留め置く")[0] != "置く"
    assert headword_term("する") is None


def test_generic_terms_do_not_widen_a_group(ask):
    # occupy -> 取る and summit -> 上 are in JMdict but would match half the corpus.
    assert "取る" not in ask("occupy")["occupy"].terms
    assert ask("summit")["summit"].terms == ("summit",)
    # As the main sense of a word they stay: hand -> 手.
    assert ask("hand")["hand"].terms[0] == "手"


def test_far_behind_alternatives_are_dropped(ask):
    # 代表 comes only from 代表取締役 (company president), far behind 大統領.
    assert "代表" not in ask("president")["president"].terms
    # A loanword's low-ranked katakana (arrive -> アライブ) does not open the sound match
    # (アライブ ~ アラブ).
    assert "アラブ" not in ask("arrive")["arrive"].terms
