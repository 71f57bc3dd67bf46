from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from index.language.tokenize import MAX_TAGGER_CHARS, normalize, tokenize, tokenize_spans


def test_content_words_only_as_lemmas():
    terms = tokenize("カザフスタンで拘束された人数は")
    assert terms == ["カザフスタン", "拘束", "人数"]


def test_verbs_become_dictionary_form():
    assert "派遣" in tokenize("部隊を派遣した")
    assert "認める" in tokenize("要請を認めた")


def test_numbers_match_across_widths_and_commas():
    assert tokenize("8000人") == tokenize("8,000人") == tokenize("８０００人")
    assert "8000" in tokenize("およそ８，０００人")


def test_latin_and_cyrillic_are_lower_case():
    assert tokenize("CSTO と NATO") == ["csto", "nato"]
    assert tokenize("Казахстан") == ["казахстан"]


def test_english_function_words_are_dropped():
    assert tokenize("who is the chair of the CSTO") == ["chair", "csto"]


def test_question_words_and_particles_are_dropped():
    assert tokenize("誰がどこでいつ?") == []


def test_spans_point_at_the_original_text():
    text = "ＣＳＴＯの議長は８，０００人を派遣した"
    for tok in tokenize_spans(text):
        assert text[tok.start : tok.end] == tok.surface
    surfaces = [t.surface for t in tokenize_spans(text)]
    assert "ＣＳＴＯ" in surfaces and "８，０００" in surfaces


def test_long_text_is_tagged_in_bounded_pieces():
    # One unbroken line far beyond what MeCab survives in a single call.
    text = "カザフスタン" * (MAX_TAGGER_CHARS * 3)
    assert tokenize(text).count("カザフスタン") >= MAX_TAGGER_CHARS * 2


def test_normalize_nfkc_lower():
    assert normalize("ＡＢＣ１２３") == "abc123"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=500))
def test_any_text_tokenizes_with_valid_spans(text):
    for tok in tokenize_spans(text):
        assert 0 <= tok.start < tok.end <= len(text)
        assert tok.term
