"""The shipped English -> Japanese table: present, attributed, ranked, and fast to use."""

from __future__ import annotations

import gzip
import time
from pathlib import Path

import pytest

from index import errors
from index.language import jmdict

ROOT = Path(__file__).resolve().parent.parent


def test_table_is_shipped_small_and_attributed():
    assert jmdict.TABLE_PATH.is_file()
    size = jmdict.TABLE_PATH.stat().st_size
    assert size < 5_000_000, f"table grew to {size} bytes"
    table = jmdict.load()
    assert len(table) > 50_000
    assert "JMdict" in table.meta["source"]
    assert "CC BY-SA" in table.meta["licence"]
    licence = " ".join((ROOT / "LICENSES" / "JMdict.txt").read_text(encoding="utf-8").split())
    assert "Electronic Dictionary Research and Development Group" in licence
    assert "CC BY-SA 4.0" in licence


@pytest.mark.parametrize(
    ("english", "japanese"),
    [
        ("chair", "議長"),
        ("fuel", "燃料"),
        ("price", "価格"),
        ("protest", "抗議"),
        ("troop", "部隊"),  # from the gloss "troops", under its lemma
        ("detain", "拘留"),  # "to detain" and "detention"
        ("announce", "発表"),  # derived from the noun gloss "announcement" (a suru-verb)
        ("deploy", "派遣"),  # from "deployment"
        ("occupy", "占領"),  # from "occupying" / "military occupation"
        ("president", "大統領"),
        ("prime minister", "首相"),  # a phrase key
        ("carry out", "実行"),  # a phrasal verb keeps its particle
        ("give up", "諦める"),
        ("pass away", "死亡"),
        ("united state", "アメリカ"),  # "United States of America": the name before "of"
        ("kazakhstan", "カザフスタン"),
    ],
)
def test_lookup_finds_the_common_translation_near_the_top(english, japanese):
    headwords = jmdict.lookup(english)
    assert japanese in headwords[:8], headwords


def test_common_sense_ranks_first():
    # 議長 (chairman; news1/ichi1, nf01) before 椅子 (the furniture) before katakana チェア.
    chair = jmdict.lookup("chair")
    assert chair.index("議長") < chair.index("椅子") < chair.index("チェア")
    scores = [score for _, score in jmdict.lookup_scored("chair")]
    assert scores == sorted(scores)


def test_entries_are_capped_and_japanese():
    table = jmdict.load()
    cap = int(table.meta["cap"])
    for key in ("be", "take", "people", "start", "country"):
        forms = table[key]
        assert 0 < len(forms) <= cap
        for form, _ in forms:
            assert any("\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff" for ch in form)


def test_unknown_key_is_empty():
    assert jmdict.lookup("zzzqqq") == ()
    assert jmdict.lookup_scored("") == ()


@pytest.mark.perf
def test_lookup_is_under_a_millisecond_after_load():
    jmdict.load()
    words = ["chair", "detain", "troop", "price", "fuel", "people", "occupy", "nonexistent"]
    start = time.perf_counter()
    rounds = 200
    for _ in range(rounds):
        for w in words:
            jmdict.lookup(w)
    per_lookup = (time.perf_counter() - start) / (rounds * len(words))
    assert per_lookup < 0.003  # a few µs here; the margin is for a busy machine


def test_parse_reads_meta_and_scores(tmp_path):
    data = "# source: test\n# cap: 2\nchair\t議長:0\t椅子:22\nodd\t無点\n"
    path = tmp_path / "t.tsv.gz"
    path.write_bytes(gzip.compress(data.encode("utf-8")))
    table = jmdict.load(path)
    assert table.meta == {"source": "test", "cap": "2"}
    assert table["chair"] == (("議長", 0.0), ("椅子", 0.22))
    assert table["odd"][0][0] == "無点"  # a cell without a score still reads
    assert "chair" in table and "nope" not in table
    assert len(table) == 2


def test_missing_table_raises_with_instructions(tmp_path):
    with pytest.raises(errors.TableMissing, match="build_en_ja"):
        jmdict.load(tmp_path / "absent.tsv.gz")
