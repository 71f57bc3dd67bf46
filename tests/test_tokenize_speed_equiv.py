"""The build's fast paths give exactly what the plain rules give.

`tokenize` decides each tagger node once per distinct (surface, features) pair and reuses the
decision (`_NodeCache`); `analyse` finds line numbers without a per-character loop. These
tests pin that the shortcuts change nothing: same terms, spans, tags and line numbers.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from index.language import tokenize as tok
from index.language.passages import line_of, split_passages
from index.storage.analyse import analyse_batch

BUNDLED = Path(__file__).resolve().parent.parent / "corpus"

TRICKY = [
    "",
    " \n\n\t\n",
    "ＣＳＴＯの議長は８，０００人を派遣した。iPhone15とＧａｌａｘｙ　Ｓ２４😀を比較！",
    "ｶﾞｷﾞｸﾞ ﾊﾟｿｺﾝ、半角ｶﾀｶﾅの文。ﾃｽﾄﾃﾞｽ",
    "パシニャン首相とブリンケン国務長官 が会談。コレはアレだ。",
    "カザフスタンカザフスタンカザフスタンカザフスタンカザフスタン",
    "王毅外相は北京で記者会見を開いた。who is the chair of the CSTO?",
    "line one\nline two\r\n\r\nparagraph two\n\n\n\nthird",
]


def texts() -> list[str]:
    return [p.read_text(encoding="utf-8") for p in sorted(BUNDLED.glob("*.txt"))] + TRICKY


@pytest.fixture
def fresh_cache(monkeypatch: pytest.MonkeyPatch):
    """A node cache of the given size for the test, so the module's own is left alone."""

    def make(size: int) -> tok._NodeCache:
        cache = tok._NodeCache(size)
        monkeypatch.setattr(tok, "_node_cache", cache)
        return cache

    return make


def spans(text: str) -> list[tuple[str, int, int, str, str]]:
    return [(t.term, t.start, t.end, t.pos, t.surface) for t in tok._spans(text)]


def test_every_cached_node_decision_equals_the_rules(fresh_cache) -> None:
    cache = fresh_cache(1_000_000)
    for text in texts():
        tok.tokenize(text)
    assert len(cache.hot) > 1000
    tagger = tok._tagger()
    for text in texts():
        norm = tok._DIGIT_COMMA.sub("", unicodedata.normalize("NFKC", text).lower())
        for node in (node for _, piece in tok._pieces(norm) for node in tagger(piece)):
            cached = cache.hot[(node.surface, node.feature_raw)]
            assert cached == tok._node_info(node.surface, node.feature)


def test_terms_and_spans_do_not_depend_on_the_cache(fresh_cache) -> None:
    fresh_cache(1_000_000)
    first = [(tok.tokenize(t), spans(t)) for t in texts()]
    warm = [(tok.tokenize(t), spans(t)) for t in texts()]  # every node a cache hit
    fresh_cache(3)  # generations swapped every few nodes: almost every node a miss
    tiny = [(tok.tokenize(t), spans(t)) for t in texts()]
    assert first == warm == tiny
    assert sum(len(terms) for terms, _ in first) > 1000


def test_terms_are_the_spans_terms_on_plain_text() -> None:
    # The index path (no offset map) and the spans path share the node rules; on text that
    # NFKC does not compose across characters they give the same terms.
    for text in texts()[: -len(TRICKY)]:
        assert tok.tokenize(text) == [t.term for t in tok.tokenize_spans(text)]


def test_katakana_runs_keep_their_rules(fresh_cache) -> None:
    fresh_cache(1_000_000)
    runs = []
    for _ in range(2):  # cold, then from the cache
        assert "パシニャン" in tok.tokenize("パシニャン首相が来た")
        assert tok.tokenize("それはダメだ、バカな話") == ["ダメ", "バカ", "話"]  # not 駄目, 馬鹿
        # more than MAX_RUN_NODES katakana nodes: kept as the tagger cut them
        long_run = tok.tokenize("カザフスタン" * 8)
        assert len(long_run) > 1 and "".join(long_run) == "カザフスタン" * 8
        runs.append(long_run)
    assert runs[0] == runs[1]


def test_analysed_line_numbers_match_line_of() -> None:
    docs = texts()
    batch = analyse_batch(docs)
    for text, passages in zip(docs, batch.passages, strict=True):
        assert [(p.start, p.end) for p in passages] == [
            (p.start, p.end) for p in split_passages(text)
        ]
        for p in passages:
            assert p.line_start == line_of(text, p.start)
            assert p.line_end == text.count("\n", 0, p.end) + 1


def test_analysed_term_ids_spell_each_passages_terms() -> None:
    docs = texts()
    batch = analyse_batch(docs)
    assert len(set(batch.terms)) == len(batch.terms)
    pos = 0
    for text, passages in zip(docs, batch.passages, strict=True):
        for p in passages:
            ids = batch.term_ids[pos : pos + p.n_terms]
            pos += p.n_terms
            assert [batch.terms[i] for i in ids] == tok.tokenize(text[p.start : p.end])
    assert pos == len(batch.term_ids)
