"""Latin names matched to the bundled corpus's katakana terms."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from index.language.names import NameIndex, comparable, romanize, similarity, skeleton

CORPUS = Path(__file__).resolve().parent.parent / "corpus"



@pytest.mark.parametrize(
    ("katakana", "latin"),
    [
        ("カザフスタン", "kazafusutan"),
        ("トカエフ", "tokaefu"),
        ("パシニャン", "pashinyan"),
        ("アルマトイ", "arumatoi"),
        ("チェック", "chekku"),
        ("ウィーン", "win"),
        ("カシムジョマルト・トカエフ", "kashimujomaruto tokaefu"),
        ("ヴィッテ", "vitte"),
        ("かざふ", "kazafu"),  # hiragana is read as katakana
    ],
)
def test_romanize(katakana, latin):
    assert romanize(katakana) == latin


def test_comparable_forms_meet_across_spellings():
    # English kh and Japanese フ meet at h; a final v is heard as フ.
    assert skeleton(comparable("Kazakhstan")) == skeleton(comparable(romanize("カザフスタン")))
    assert skeleton(comparable("Tokayev")) == skeleton(comparable(romanize("トカエフ")))
    assert skeleton(comparable("Almaty")) == skeleton(comparable(romanize("アルマトイ")))
    assert similarity("Pashinyan", romanize("パシヤン")) > 0.85


@pytest.mark.parametrize(
    ("latin", "expected"),
    [
        ("Kazakhstan", "カザフスタン"),
        ("Tokayev", "トカエフ"),
        ("Tokaev", "トカエフ"),
        ("Pashinyan", "パシニャン"),
        ("Almaty", "アルマティ"),  # the corpus also writes アルマトイ, second
        ("Nazarbayev", "ナザルバエフ"),
        ("Lukashenko", "ルカシェンコ"),
        ("Zelensky", "ゼレンスキー"),
        ("Putin", "プーチン"),
        ("Azerbaijan", "アゼルバイジャン"),
        ("Kyrgyzstan", "キルギスタン"),
        ("Nakhchivan", "ナヒチェバン"),
        ("Stepanakert", "ステパナケルト"),
        ("Mangystau", "マンギスタウ"),
        ("NurSultan", "ヌルスルタン"),  # one term: UniDic's ヌル + スルタン joined
    ],
)
def test_transliterated_names_match_first(names, latin, expected):
    assert expected in names.match(latin)[:1]


def test_both_corpus_spellings_of_pashinyan(names):
    assert set(names.match("Pashinyan")) >= {"パシニャン", "パシヤン"}


def test_a_part_of_a_dotted_name_finds_the_whole(names):
    assert "カシムジョマルト・トカエフ" in names.match("Tokayev")
    assert names.match("kassymjomart") == ["カシムジョマルト・トカエフ"]


@pytest.mark.parametrize(
    "word",
    [
        "chair", "troop", "president", "people", "detain", "protest", "price", "start",
        "occupy", "announce", "leader", "capital", "military", "fuel", "police", "csto",
        "deployment", "government", "security", "the", "of",
    ],
)  # fmt: skip
def test_unrelated_english_words_match_nothing(names, word):
    assert names.match(word) == []


def test_limit_and_short_input(names):
    assert len(names.match("Pashinyan", limit=1)) == 1
    assert names.match("ka") == []
    assert names.match("") == []


def test_only_katakana_terms_are_indexed(vocabulary):
    index = NameIndex.build(["カザフスタン", "議長", "csto", "カザフスタン", "123"])
    assert index.size == 1
    assert index.match("Kazakhstan") == ["カザフスタン"]


@pytest.mark.perf
def test_build_is_fast_on_a_large_vocabulary(vocabulary):
    # ~100k terms, a fifth of them katakana: what a large corpus's vocabulary looks like.
    kana = "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモラリルレロン"
    katakana = [
        kana[i % 41] + kana[(i // 41) % 41] + kana[(i // 1681) % 41] + "ン" for i in range(20000)
    ]
    terms = katakana + [f"語{i}" for i in range(80000)]
    start = time.perf_counter()
    index = NameIndex.build(terms)
    elapsed = time.perf_counter() - start
    assert index.size == len(set(katakana))
    assert elapsed < 4.0, elapsed  # < 1 s on the reference machine; slack for a busy one
    start = time.perf_counter()
    index.match("Kazakhstan")
    assert time.perf_counter() - start < 0.6
