"""Our scores must equal rank_bm25.BM25Okapi's, passage for passage."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from index.language.tokenize import tokenize
from index.retrieval.bm25 import build_postings
from index.storage.generation import GenerationFiles

QUERIES = [
    "CSTOの議長は誰?",
    "カザフスタンで拘束された人数は",
    "ロシア",
    "燃料価格の高騰に反発した市民",
    "アゼルバイジャン軍がセブ湖周辺を占領",
    "ロシア ロシア 存在しない語xyzzy",
    "トカエフ大統領 治安部隊 発砲",
]


def stored_passages(db_path):
    """Passage texts in the generation's order, read straight from the database."""
    con = sqlite3.connect(db_path)
    gen = int(con.execute("SELECT value FROM meta WHERE key='generation'").fetchone()[0])
    postings = GenerationFiles.of(db_path, gen).load_postings()
    text = dict(con.execute("SELECT id, text FROM passages"))
    vocab = dict(con.execute("SELECT term, id FROM terms"))
    con.close()
    return [text[int(i)] for i in postings.passage_ids], vocab, postings


def test_scores_equal_rank_bm25_on_bundled_corpus(bundled_engine_paths):
    _, db = bundled_engine_paths
    texts, vocab, postings = stored_passages(db)
    reference = BM25Okapi([tokenize(t) for t in texts])  # tokenized independently of the build
    assert postings.n == len(texts) == reference.corpus_size
    for query in QUERIES:
        terms = tokenize(query)
        ours = postings.get_scores([vocab.get(t, -1) for t in terms])
        theirs = reference.get_scores(terms)
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6, err_msg=query)
        top = postings.top_k([[vocab.get(t, -1)] for t in terms], 5)
        expected = sorted(range(len(theirs)), key=lambda i: (-theirs[i], i))[:5]
        if any(theirs > 0):
            assert [i for i, _ in top] == [i for i in expected if theirs[i] > 0][: len(top)]


def test_negative_idf_uses_epsilon_floor():
    docs = [["common", "a"], ["common", "b"], ["common", "c"], ["rare", "common"]]
    vocab = {t: i for i, t in enumerate(sorted({t for d in docs for t in d}))}
    flat = np.array([vocab[t] for d in docs for t in d], dtype=np.int32)
    offsets = np.cumsum([0] + [len(d) for d in docs])
    postings = build_postings(flat, offsets, len(vocab))
    reference = BM25Okapi(docs)
    for q in (["common"], ["rare"], ["common", "rare", "a"]):
        np.testing.assert_allclose(
            postings.get_scores([vocab[t] for t in q]), reference.get_scores(q), atol=1e-9
        )


def test_group_of_alternatives_scores_as_one_term():
    """A group's tf is summed and its df is the union: exactly BM25 over a merged term."""
    docs = [["議長", "x"], ["椅子", "y"], ["議長", "椅子", "z"], ["w"], ["v"], ["u"]]
    vocab = {t: i for i, t in enumerate(sorted({t for d in docs for t in d}))}
    flat = np.array([vocab[t] for d in docs for t in d], dtype=np.int32)
    offsets = np.cumsum([0] + [len(d) for d in docs])
    postings = build_postings(flat, offsets, len(vocab))
    # The same corpus with both alternatives rewritten to one symbol.
    merged = BM25Okapi([["CHAIR" if t in ("議長", "椅子") else t for t in d] for d in docs])
    expected = merged.get_scores(["CHAIR"])
    dense = np.zeros(len(docs))
    for index, score in postings.top_k([[vocab["議長"], vocab["椅子"]]], len(docs)):
        dense[index] = score
    np.testing.assert_allclose(dense, expected, atol=1e-9)
    # ... which is not what two separate terms would score.
    separate = postings.get_scores([vocab["議長"], vocab["椅子"]])
    assert not np.allclose(separate, expected)


def saved(postings, tmp_path) -> GenerationFiles:
    files = GenerationFiles(tmp_path / "g")
    files.directory.mkdir()
    files.save_postings(postings)
    return files


def test_save_and_load_round_trip(tmp_path):
    flat = np.array([0, 1, 1, 2, 0], dtype=np.int32)
    postings = build_postings(flat, np.array([0, 2, 4, 5]), 3)
    files = saved(postings, tmp_path)
    loaded = files.load_postings()
    for t in range(3):
        np.testing.assert_array_equal(loaded.get_scores([t]), postings.get_scores([t]))


def test_damaged_arrays_are_refused(tmp_path):
    postings = build_postings(np.array([0, 1], dtype=np.int32), np.array([0, 1, 2]), 2)
    files = saved(postings, tmp_path)
    np.save(files.path("df.npy"), np.array([0], dtype=np.int64))
    with pytest.raises(ValueError, match="do not match"):
        files.load_postings()


def test_top_k_larger_than_corpus(bundled_engine_paths):
    _, db = bundled_engine_paths
    _, vocab, postings = stored_passages(db)
    hits = postings.top_k([[vocab["ロシア"]]], 10_000)
    assert len(hits) == postings.df(vocab["ロシア"])
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)


@pytest.mark.parametrize("kernel", ["compiled", "numpy"])
def test_pruned_top_k_equals_exhaustive_ranking(kernel, monkeypatch):
    """Dynamic pruning must not change the top k: compare with a full dense ranking."""
    from index.retrieval import bm25

    if kernel == "numpy":
        monkeypatch.setattr(bm25, "_topk", None)
    else:
        assert bm25._topk is not None, "the C kernel was not built (setup.py)"
    rng = np.random.default_rng(7)
    n_docs, vocab_size = 3000, 400
    # Zipf-like term draws so some terms are in most passages and others in a few.
    weights = 1 / np.arange(1, vocab_size + 1)
    lengths = rng.integers(5, 40, n_docs)
    flat = rng.choice(vocab_size, size=lengths.sum(), p=weights / weights.sum()).astype(np.int32)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    postings = build_postings(flat, offsets, vocab_size)
    for _ in range(200):
        q = rng.choice(vocab_size, size=rng.integers(1, 6), replace=False).tolist()
        q += rng.choice(5, size=rng.integers(0, 3)).tolist()  # very frequent terms too
        dense = postings.get_scores(q)
        expected = sorted(range(n_docs), key=lambda i: (-dense[i], i))
        expected = [i for i in expected if dense[i] != 0][:10]
        got = postings.top_k([[t] for t in q], 10)
        assert [i for i, _ in got] == expected, q
        np.testing.assert_allclose([s for _, s in got], dense[expected], atol=1e-9)
        group = postings.top_k([q[:2]], 5)  # a group of alternatives, too
        g = sorted(set(q[:2]))
        merged = build_postings(np.where(np.isin(flat, g), g[0], flat), offsets, vocab_size)
        dense_g = merged.get_scores([g[0]])
        expected_g = [i for i in sorted(range(n_docs), key=lambda i: (-dense_g[i], i))][:5]
        assert [i for i, _ in group] == [i for i in expected_g if dense_g[i] != 0]
