"""Question types in English and Japanese, and answer spans in corpus sentences."""

from __future__ import annotations

import pytest

from index.language.qtype import QType, answer_spans, detect


@pytest.mark.parametrize(
    ("question", "qtype"),
    [
        ("who chairs CSTO?", QType.WHO),
        ("Whose troops occupied the lake?", QType.WHO),
        ("Which leader asked for help?", QType.WHO),
        ("how many people were detained in Kazakhstan?", QType.HOW_MANY),
        ("How much did fuel prices rise?", QType.HOW_MANY),
        ("where did Azerbaijan's troops occupy?", QType.WHERE),
        ("Which country chairs the CSTO?", QType.WHERE),
        ("when did CSTO announce the deployment?", QType.WHEN),
        ("What year was the CSTO founded?", QType.WHEN),
        ("why did protests start in Kazakhstan?", QType.WHY),
        ("What caused the unrest?", QType.WHY),
        ("What did Tokayev ask the CSTO for?", QType.WHAT),
        ("How did Pashinyan respond?", QType.WHAT),
        # The first question word wins; "how many" is one cue, not "how".
        ("Who decided when to deploy?", QType.WHO),
        ("When did who arrive?", QType.WHEN),
        ("ＷＨＯ chairs it?", QType.WHO),  # full-width letters are normalized
        ("CSTOの議長は誰ですか", QType.WHO),
        ("だれが要請した？", QType.WHO),
        ("何人が拘束された？", QType.HOW_MANY),
        ("拘束されたのは何名ですか", QType.HOW_MANY),
        ("部隊はどれくらい派遣された", QType.HOW_MANY),
        ("部隊はどこに派遣された？", QType.WHERE),
        ("いつ発表した？", QType.WHEN),
        ("CSTOは何年に設立された", QType.WHEN),
        ("なぜ抗議が始まったのか", QType.WHY),
        ("どうして価格が上がった", QType.WHY),
        ("何故", QType.WHY),
        ("トカエフは何を要請した？", QType.WHAT),
        # A name is asked for a person only when a person is named by role.
        ("What is the name of Kazakhstan's deputy defense minister?", QType.WHO),
        ("部隊を率いた司令官の名前は?", QType.WHO),
        ("作戦の名前はなんですか?", QType.WHAT),  # なんで(す) is not "why"
        ("What is the capital of Armenia?", QType.WHERE),
        ("What's the name of the Russian commander?", QType.WHO),
        ("Where’s the CSTO based?", QType.WHERE),
    ],
)
def test_detect(question, qtype):
    assert detect(question) is qtype


@pytest.mark.parametrize(
    "question", ["Tell me about the CSTO", "CSTOについて", "いつも通り", "somewhere", ""]
)
def test_detect_none_without_a_question_word(question):
    assert detect(question) is None


def test_qtype_is_a_string():
    assert QType.WHO == "who"
    assert QType("how_many") is QType.HOW_MANY


def spans_text(sentence: str, qtype: QType) -> list[str]:
    spans = answer_spans(sentence, qtype)
    # Sorted, non-overlapping, inside the sentence.
    assert spans == sorted(spans)
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        assert end < start
    assert all(0 <= s < e <= len(sentence) for s, e in spans)
    return [sentence[s:e] for s, e in spans]


def test_who_name_with_title():
    sentence = "CSTOの現議長であるアルメニアのニコル・パシヤン首相は、支援の派遣を確認した。"
    found = spans_text(sentence, QType.WHO)
    assert "ニコル・パシヤン首相" in found
    assert "現議長" in found


def test_who_titles_alone_and_person_names():
    sentence = "CSTOの議長を務めているアルメニアのパシニャン首相は要請を受け入れた。"
    assert spans_text(sentence, QType.WHO) == ["議長", "パシニャン首相"]
    sentence = "要するにプーチンみたいな汚れには汚れた仲間しか集まらない"
    assert spans_text(sentence, QType.WHO) == ["プーチン"]


def test_who_country_abbreviation_between_name_and_title():
    sentence = "協議に先立ち、シャーマン米国務副長官は9日、ジュネーブでリャブコフ外務次官と会談。"
    assert spans_text(sentence, QType.WHO) == ["シャーマン米国務副長官", "リャブコフ外務次官"]


def test_who_ignores_offices_and_lone_honorifics():
    assert spans_text("大統領府は9日の発表で声明を出した。", QType.WHO) == []
    assert spans_text("日本大使館によりますと、被害はない。", QType.WHO) == []
    assert spans_text("宇に幸あれ。", QType.WHO) == []


def test_how_many_number_with_counter():
    sentence = "内務省は10日、これまでにおよそ8000人を拘束したと発表しました。"
    assert spans_text(sentence, QType.HOW_MANY) == ["およそ8000人"]
    sentence = "アルメニア、キルギスタン、タジキスタンはそれぞれ100人から200人を派遣し、"
    assert spans_text(sentence, QType.HOW_MANY) == ["100人", "200人"]
    assert spans_text("総勢約2,600人の軍人で構成", QType.HOW_MANY) == ["約2,600人"]
    assert spans_text("旧ソ連の6カ国で構成され", QType.HOW_MANY) == ["6カ国"]
    assert spans_text("LPGの価格が昨年と比較して2倍に高騰", QType.HOW_MANY) == ["2倍"]
    assert spans_text("死者は８０００人に上った", QType.HOW_MANY) == ["８０００人"]
    assert spans_text("数百人が集まった", QType.HOW_MANY) == ["数百人"]


def test_how_many_spans_of_time():
    """30年近く and 2日程度 count years and days; 2022年 and 6日 alone are dates."""
    assert spans_text("旧ソ連末期から30年近く支配してきた", QType.HOW_MANY) == ["30年近く"]
    assert spans_text("暴動発生から2日程度で占拠された", QType.HOW_MANY) == ["2日程度"]
    assert spans_text("2022年に6日から始まった", QType.HOW_MANY) == []


def test_how_many_ignores_dates_and_plain_numbers():
    assert spans_text("2022年1月6日に発表した。", QType.HOW_MANY) == []
    assert spans_text("一部の勢力は抵抗した。", QType.HOW_MANY) == []


def test_where_place_names_and_suffixes():
    sentence = "石油を産出するマンギスタウ州ではLPGの価格が昨年と比較して2倍に高騰した。"
    assert "マンギスタウ州" in spans_text(sentence, QType.WHERE)
    sentence = "特にカザフスタン最大の都市アルマトイではアルマトイ国際空港が占拠された。"
    found = spans_text(sentence, QType.WHERE)
    assert "アルマトイ国際空港" in found
    assert "カザフスタン" in found
    sentence = "ロシアがセヴァン湖に行くためにはジョージアを通るからかな。"
    assert "セヴァン湖" in spans_text(sentence, QType.WHERE)


def test_when_dates():
    assert spans_text("独立系メディア E-wave Tokyo 2022年1月9日", QType.WHEN) == ["2022年1月9日"]
    sentence = "集団安全保障条約機構(CSTO)は6日、部隊を派遣すると発表した。"
    assert spans_text(sentence, QType.WHEN) == ["6日"]
    sentence = "カザフスタンで今月2日に始まった抗議活動は、昨年から続いていた。"
    assert spans_text(sentence, QType.WHEN) == ["今月2日", "昨年"]
    assert spans_text("ソ連崩壊後の1992年に設立された", QType.WHEN) == ["1992年"]
    assert spans_text("木曜日に到着した", QType.WHEN) == ["木曜日"]
    assert spans_text("2日間続いた", QType.WHEN) == []


def test_why_reason_clauses():
    sentence = (
        "州政府もLPG価格の高騰に合わせて電気料金値上げの検討を始めたため住民の抗議運動に発展した。"
    )
    assert spans_text(sentence, QType.WHY) == [
        "州政府もLPG価格の高騰に合わせて電気料金値上げの検討を始めたため"
    ]
    sentence = "今回はアルメニア領が侵されたため、ロシアが参戦する。"
    assert spans_text(sentence, QType.WHY) == ["今回はアルメニア領が侵されたため"]
    sentence = "スペインのフランコ政権は同じ理由でドイツからの参戦要請を断ってる。"
    assert spans_text(sentence, QType.WHY) == [sentence[:-1]]


def test_why_cause_written_with_a_comma():
    sentence = "大統領は、騒乱が発生していることを受け、支援を要請した。"
    assert spans_text(sentence, QType.WHY) == ["騒乱が発生していることを受け"]


def test_why_ignores_from_and_probably():
    assert spans_text("今年1日から導入した。", QType.WHY) == []
    assert spans_text("そうするのでしょうが", QType.WHY) == []


def test_what_has_no_span_type():
    assert answer_spans("トカエフ大統領は7日の演説で命令を出した。", QType.WHAT) == []
