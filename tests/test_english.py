"""English words of a question -> groups of the bundled corpus's Japanese terms."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from index.language import lexicon, translate_select
from index.language.english import TermGroup, english_groups
from index.language.lemmas import STOP_WORDS, is_english_word, lemmatize
from index.language.lexicon import (
    GENERIC_TERMS,
    GLOSSARY_PATH,
    glossary,
    glossary_key,
    headword_term,
)
from index.language.passages import split_passages
from index.language.tokenize import tokenize
from index.language.translate_select import ListPassages, cohesion, revise

CORPUS = Path(__file__).resolve().parent.parent / "corpus"



@pytest.fixture(scope="module")
def passages() -> ListPassages:
    """The bundled corpus's passages, as the index splits them, for co-occurrence."""
    texts = [
        tokenize(p.text)
        for path in sorted(CORPUS.glob("*.txt"))
        for p in split_passages(path.read_text(encoding="utf-8"))
    ]
    return ListPassages.from_texts(texts)


@pytest.fixture(scope="module")
def ask(vocabulary, names):
    """Question -> {label: group}, the way search calls english_groups (with the question's
    text, so phrasal verbs are seen; pass corpus= for the corpus-aware choice)."""

    def run(question: str, **kwargs) -> dict[str, TermGroup]:
        terms = list(dict.fromkeys(tokenize(question)))
        kwargs.setdefault("text", question)
        groups, _ = english_groups(terms, vocabulary.__contains__, names, **kwargs)
        return {g.label: g for g in groups}

    return run


@pytest.fixture
def no_glossary(monkeypatch):
    """JMdict alone, as for a word the glossary does not list."""
    monkeypatch.setattr(lexicon, "glossary", lambda path=GLOSSARY_PATH: {})


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
        ("died", "die"),
        ("bombed", "bomb"),  # not the lexicon's "bombe"
        ("formed", "form"),
        ("based", "base"),
        ("spokesmen", "spokesman"),
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
    assert len(ask("country")["country"].terms) == 6


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
    # The documents write both; the closer spelling comes first.
    assert ask("What happened in Almaty?")["almaty"].terms[:2] == ("アルマティ", "アルマトイ")
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


def test_nur_sultan_reaches_the_city_written_as_one_word(ask):
    """ヌルスルタン is one term now (a katakana run is one word, however UniDic cuts it),
    and its Latin spelling reaches it."""
    assert "ヌルスルタン" in ask("Nursultan")["nursultan"].terms


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
    assert "上" not in ask("summit")["summit"].terms
    # As the main sense of a word they stay: hand -> 手.
    assert ask("hand")["hand"].terms[0] == "手"


def test_far_behind_alternatives_are_dropped(ask):
    # 代表 comes only from 代表取締役 (company president), far behind 大統領.
    assert "代表" not in ask("president")["president"].terms
    # A loanword's low-ranked katakana (arrive -> アライブ) does not open the sound match
    # (アライブ ~ アラブ).
    assert "アラブ" not in ask("arrive")["arrive"].terms


# --- the news glossary ---------------------------------------------------------------------


def test_glossary_file_is_well_formed():
    keys = []
    for line in GLOSSARY_PATH.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        english_side, tab, japanese = line.partition("\t")
        assert tab and japanese.split(), line
        keys.append(glossary_key(english_side))
        for headword in japanese.split():
            got = headword_term(headword)
            assert got is not None, (line, headword)  # the tokenizer keeps something of it
            assert got[0] not in GENERIC_TERMS, (line, headword)
    assert len(keys) == len(set(keys)) == len(glossary())
    assert 50 <= len(keys) <= 300  # a small hand-kept list, not a second dictionary


def test_glossary_keys_are_normalized_like_questions():
    assert glossary_key("Talks") == "talks"  # a word as written: talks is not talk
    assert glossary_key("state of emergency") == "state emergency"
    assert glossary_key("broke out") == "break out"
    assert glossary_key("death toll") == "death toll"


@pytest.mark.parametrize(
    ("question", "word", "expected", "not_expected"),
    [
        # JMdict ranks the everyday sense first: 話 for "talks", 聞く for "ask".
        ("Where were the talks held?", "talks", "協議", "話"),
        ("Where were the talks held?", "held", "行う", "持つ"),
        ("Who asked the CSTO to send troops?", "asked", "要請", "聞く"),
        ("Who asked the CSTO to send troops?", "send", "派遣", None),
        ("How many people died in the unrest?", "died", "死者", None),  # JMdict: 死ぬ, 死亡
        ("How many people died in the unrest?", "unrest", "騒乱", None),
        ("Which airport will the peacekeepers guard?", "peacekeepers", "維持", None),
        ("Why are CSTO members obliged to help?", "members", "加盟", "総勢"),
        ("Why are CSTO members obliged to help?", "help", "支援", "どう"),
    ],
)
def test_glossary_gives_the_news_sense(ask, question, word, expected, not_expected):
    terms = ask(question)[word].terms
    assert expected in terms, terms
    assert not_expected is None or not_expected not in terms, terms


def test_glossary_replaces_jmdict_only_where_the_corpus_has_its_words():
    groups, _ = english_groups(["talks"], {"話"}.__contains__, None)
    assert groups[0].terms == ("話",)  # no 協議 / 会談 / 交渉 here: JMdict's talk -> 話
    groups, _ = english_groups(["talks"], {"話", "会談"}.__contains__, None)
    assert groups[0].terms == ("会談",)


# --- phrases, derived forms, compounds --------------------------------------------------------


def test_phrasal_verbs_are_read_from_the_question_text(ask):
    groups = ask("Why did protests break out in Kazakhstan?")
    assert "発生" in groups["break out"].terms
    assert "break" not in groups
    assert groups["break out"].lemma == "break out"
    # The tokenizer drops "out"; without the text the verb is translated alone.
    assert "break out" not in ask("Why did protests break out?", text=None)
    # A particle that is only a preposition here changes nothing.
    assert "troops" in ask("How many troops are out there?")


def test_phrasal_verbs_also_reach_their_nouns(ask, no_glossary):
    # JMdict has no "break out" for 発生, but glosses it "outbreak".
    assert ask("Why did protests break out?")["break out"].terms == ("発生",)


def test_agent_nouns_fall_back_to_the_activity(ask, no_glossary):
    # No "peacekeeper" in JMdict: peacekeepers -> peacekeeping -> 平和維持 -> 維持.
    assert ask("Where are the peacekeepers?")["peacekeepers"].terms[0] == "維持"
    assert ask("who killed the protesters?")["protesters"].terms[0] == "抗議"


def test_the_shared_piece_of_compound_glosses_is_the_meaning(ask):
    # Russian: ロシア語, ロシア文字, ロシア軍隊, ロシア革命 -- the word is ロシア, not 文字 or 革命.
    terms = ask("Russian")["russian"].terms
    assert terms[0] == "ロシア"
    assert not {"文字", "革命", "軍隊"} & set(terms)


def test_multi_word_names_before_of(ask):
    # JMdict: 米国 / アメリカ "United States of America".
    assert ask("What did the United States demand?")["united states"].terms[0] == "アメリカ"


# --- corpus-aware choice -------------------------------------------------------------------


def test_the_corpus_adds_the_sense_the_other_words_use(ask, passages):
    question = "What did Kazakhstan's deputy defense minister promise?"
    # deputy -> 代理, 副 in JMdict's order; the corpus writes 国防次官 (deputy defense
    # minister), and 次官 meets 国防 and カザフスタン far more often than chance.
    assert "次官" not in ask(question)["deputy"].terms
    assert ask(question, corpus=passages)["deputy"].terms[0] == "次官"
    # "the area around Lake Sev": the corpus says セブ湖周辺.
    area = ask("How high is the area around Lake Sev?", corpus=passages)["area"]
    assert area.terms[0] == "周辺"


def test_the_corpus_picks_talks_not_talk(ask, passages, no_glossary):
    # Without the glossary, JMdict's "talk" gives 話 / 語る / 仰る; its "talks" glosses
    # (和平会談, 直接協議) are far down the list. Next to Geneva and Sherman the corpus
    # prefers 協議 and 会談.
    question = "Who met Sherman in Geneva before the talks?"
    assert ask(question)["talks"].terms == ("話", "語る", "仰る")
    talks = ask(question, corpus=passages)["talks"].terms
    assert talks[0] == "協議"
    assert "会談" in talks


def test_the_corpus_keeps_the_dictionary_choice(ask, passages, vocabulary):
    for question in (
        "How many Russian troops are deployed near the Ukrainian border?",
        "Who is the prime minister of Japan?",
        "What did Tokayev order the security forces to do?",
    ):
        plain = ask(question)
        aware = ask(question, corpus=passages)
        assert list(plain) == list(aware)
        for label, group in plain.items():
            # Nothing is dropped; only additions in front may push the tail past the cap.
            kept = aware[label].terms
            assert set(group.terms) <= set(kept) or len(kept) == 6, (label, group, kept)
            assert all(t in vocabulary for t in kept)
    # 日 ("Japan", abbreviated) meets dated passages everywhere; as a lower-ranked sense far
    # more frequent than 日本 it is not taken.
    assert "日" not in ask("Who is the prime minister of Japan?", corpus=passages)["japan"].terms


def test_cohesion_and_revise_on_a_toy_corpus():
    # Word 0 ("talks"): dictionary picks "chat"; "negotiation" meets word 1 ("geneva").
    corpus = ListPassages(
        {"chat": [0, 1], "negotiation": [2, 3, 4], "geneva": [3, 4, 5], "rare": [5]}, n=20
    )
    found = cohesion([["chat", "negotiation", "rare"], []], [["chat"], ["geneva"]], corpus)
    chat, negotiation, rare = found[0]
    assert found[1] is None  # nothing to choose for word 1
    assert negotiation.lift > translate_select.ADD > chat.lift
    assert (negotiation.support, negotiation.df, rare.support) == (2, 3, 1)
    assert revise(["chat"], ["chat", "negotiation", "rare"], found[0]) == ["negotiation", "chat"]
    # One meeting is not enough, however strong the lift.
    assert revise(["chat"], ["chat", "rare"], [chat, rare]) == ["chat"]
    # Without another word carrying weight there is nothing to judge.
    assert cohesion([["chat", "negotiation"]], [["chat"]], corpus) == [None]


def test_index_passages_read_the_postings():
    from index.retrieval.bm25 import build_postings

    vocabulary = {"a": 0, "b": 1, "c": 2}
    texts = [["a", "b"], ["b"], ["c", "a"]]
    flat = np.array([vocabulary[t] for terms in texts for t in terms], dtype=np.int32)
    offsets = np.cumsum([0] + [len(t) for t in texts])
    corpus = translate_select.IndexPassages(build_postings(flat, offsets, 3), vocabulary)
    assert corpus.n == 3
    assert corpus.passages("a").tolist() == [0, 2]
    assert corpus.passages("b").tolist() == [0, 1]
    assert corpus.passages("zzz").tolist() == []


@pytest.mark.perf
def test_english_groups_stay_fast(vocabulary, names, passages):
    questions = [
        "Why are CSTO members obliged to help Armenia this time, unlike in the Nagorno-Karabakh"
        " war?",
        "Who is the Russian Defense Ministry spokesman quoted about where the peacekeepers will"
        " be deployed?",
        "When did Pashinyan announce that CSTO troops would be sent to Kazakhstan?",
    ]
    prepared = [(q, list(dict.fromkeys(tokenize(q)))) for q in questions]
    for q, terms in prepared:  # warm the caches
        english_groups(terms, vocabulary.__contains__, names, text=q, corpus=passages)
    start = time.perf_counter()
    rounds = 20
    for _ in range(rounds):
        for q, terms in prepared:
            english_groups(terms, vocabulary.__contains__, names, text=q, corpus=passages)
    per_question = (time.perf_counter() - start) / (rounds * len(prepared))
    assert per_question < 0.030, f"{per_question * 1000:.1f} ms per question"  # ~3 ms here
