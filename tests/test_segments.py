"""Segmented postings: any split into segments, any deletions, any merge must score exactly
like one inversion of the live passages (and so like rank_bm25 over the live corpus)."""

from __future__ import annotations

import numpy as np
import pytest

from index.retrieval import bm25
from index.retrieval.bm25 import Postings, build_postings
from index.retrieval.segment import invert, merge, plan_merges
from index.storage.generation import GenerationFiles
from index.storage.segments import SegmentFiles

VOCAB = 300


def corpus(rng: np.random.Generator, n: int) -> list[np.ndarray]:
    """Passages of Zipf-drawn terms (some in most passages), a few empty."""
    weights = 1 / np.arange(1, VOCAB + 1)
    return [
        rng.choice(VOCAB, size=rng.integers(0, 40), p=weights / weights.sum()).astype(np.int32)
        for _ in range(n)
    ]


def forward(passages: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    offsets = np.concatenate([[0], np.cumsum([len(p) for p in passages])]).astype(np.int64)
    flat = np.concatenate(passages) if passages else np.zeros(0, np.int32)
    return flat.astype(np.int32), offsets


def segmented(passages, cuts, ids=None):
    """Segments over consecutive runs of `passages` cut at `cuts`."""
    ids = np.arange(len(passages)) if ids is None else ids
    bounds = [0, *cuts, len(passages)]
    segs = []
    for i, (a, z) in enumerate(zip(bounds, bounds[1:], strict=False)):
        flat, offsets = forward(passages[a:z])
        segs.append(invert(f"s{i}", flat, offsets, ids[a:z], VOCAB, bm25.K1, bm25.B))
    return segs


def random_queries(rng, count):
    for _ in range(count):
        q = rng.choice(VOCAB, size=rng.integers(1, 5), replace=False).tolist()
        yield q + rng.choice(4, size=rng.integers(0, 3)).tolist()


@pytest.fixture(params=["compiled", "numpy"])
def kernel(request, monkeypatch):
    if request.param == "numpy":
        monkeypatch.setattr(bm25, "_topk", None)
    else:
        assert bm25._topk is not None, "the C kernel was not built (setup.py)"
    return request.param


def test_segments_with_deletions_score_like_one_inversion_of_the_live_passages(kernel):
    rng = np.random.default_rng(11)
    passages = corpus(rng, 1200)
    segs = segmented(passages, [500, 900, 1150])
    dead = rng.random(len(passages)) < 0.2
    masks = [dead[a:z] for a, z in [(0, 500), (500, 900), (900, 1150), (1150, 1200)]]
    ours = Postings(segs, masks, vocabulary_size=VOCAB)
    live = np.flatnonzero(~dead)
    fresh = build_postings(*forward([passages[i] for i in live]), VOCAB)
    assert ours.n == fresh.n == len(live)
    np.testing.assert_array_equal(ours.dfs, fresh.dfs)
    for q in random_queries(rng, 150):
        np.testing.assert_allclose(ours.get_scores(q)[live], fresh.get_scores(q), atol=1e-9)
        got = ours.top_k([[t] for t in q], 10)
        want = fresh.top_k([[t] for t in q], 10)
        assert [live.tolist().index(s) for s, _ in got] == [i for i, _ in want], q
        np.testing.assert_allclose([s for _, s in got], [s for _, s in want], atol=1e-9)
        grouped = ours.top_k([q[:2], q[2:]], 5, weights=[1.0, 0.5])
        expected = fresh.top_k([q[:2], q[2:]], 5, weights=[1.0, 0.5])
        assert [live[i] for i, _ in expected] == [s for s, _ in grouped], q
        assert ours.group_df(q) == fresh.group_df(q)


def test_top_k_never_returns_a_deleted_passage_even_when_few_match(kernel):
    passages = [np.array([1, 2], np.int32), np.array([1], np.int32)]
    passages += [np.array([t], np.int32) for t in (3, 4, 5)]
    seg = segmented(passages, [])[0]
    ours = Postings([seg], [np.array([True, False, False, False, False])], vocabulary_size=VOCAB)
    assert [s for s, _ in ours.top_k([[1], [2]], 10)] == [1]
    assert ours.top_k([[2]], 10) == []
    assert ours.df(1) == 1 and ours.n == 4


def test_a_merge_equals_inverting_the_live_passages(tmp_path):
    rng = np.random.default_rng(5)
    passages = corpus(rng, 900)
    ids = np.arange(10_000, 10_900)
    segs = segmented(passages, [300, 600], ids)
    dead = rng.random(len(passages)) < 0.3
    masks = [dead[:300], dead[300:600], dead[600:]]
    head, ranges = merge(list(zip(segs, masks, strict=True)), VOCAB, bm25.K1, bm25.B)
    files = SegmentFiles(tmp_path / "merged")
    files.save_merged(head, ranges)
    merged = files.load()
    live = np.flatnonzero(~dead)
    flat, offsets = forward([passages[i] for i in live])
    fresh = invert("fresh", flat, offsets, ids[live], VOCAB, bm25.K1, bm25.B)
    for name in ("passage_ids", "doc_len", "offsets", "docs", "tfs", "block_offsets"):
        np.testing.assert_array_equal(getattr(merged, name), getattr(fresh, name), err_msg=name)
    np.testing.assert_array_equal(merged.block_max, fresh.block_max)


def test_merging_in_small_term_ranges_gives_the_same_segment(tmp_path, monkeypatch):
    from index.retrieval import segment

    rng = np.random.default_rng(2)
    passages = corpus(rng, 400)
    segs = segmented(passages, [150, 151, 390])
    parts = [(s, None) for s in segs]
    whole = SegmentFiles(tmp_path / "whole")
    whole.save_merged(*merge(parts, VOCAB, bm25.K1, bm25.B))
    monkeypatch.setattr(segment, "MERGE_POSTINGS", 50)
    pieces = SegmentFiles(tmp_path / "pieces")
    pieces.save_merged(*merge(parts, VOCAB, bm25.K1, bm25.B))
    a, b = whole.load(), pieces.load()
    for name in ("offsets", "docs", "tfs", "block_offsets", "block_max"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


def test_tiered_policy_merges_runs_of_one_tier_and_rewrites_mostly_deleted_segments():
    assert plan_merges([1_000_000, 5, 6, 7], [0, 0, 0, 0]) == []
    assert plan_merges([1_000_000] + [10] * 8, [0] * 9) == [(1, 9)]
    assert plan_merges([100, 100], [0, 60]) == [(1, 2)]
    # Built up one file at a time, a corpus keeps few segments.
    live: list[int] = []
    for _ in range(500):
        live.append(20)
        for start, end in reversed(plan_merges(live, [0] * len(live))):
            live[start:end] = [sum(live[start:end])]
    assert sum(live) == 500 * 20 and len(live) <= 8 * 3


def test_generation_round_trip_and_damage_refused(tmp_path):
    rng = np.random.default_rng(1)
    passages = corpus(rng, 200)
    segs = segmented(passages, [120])
    postings = Postings(segs, [None, np.arange(80) % 3 == 0], vocabulary_size=VOCAB)
    files = GenerationFiles(tmp_path / "000001")
    files.directory.mkdir()
    files.save_postings(postings)
    loaded = files.load_postings()
    assert (loaded.n, loaded.slots) == (postings.n, postings.slots)
    for q in random_queries(rng, 20):
        assert loaded.top_k([[t] for t in q], 5) == postings.top_k([[t] for t in q], 5)
    docs = files.segment("s1").path("docs")
    docs.write_bytes(docs.read_bytes()[:-4])
    with pytest.raises(ValueError, match="s1"):
        files.load_postings()


def test_translation_choice_reads_passages_beyond_the_live_count():
    """Slots of deleted passages stay numbered, so a live passage's slot can exceed the
    number of live passages: the sense choice must size its bitmaps by slots."""
    from index.language.translate_select import IndexPassages, cohesion

    vocab = {"議長": 1, "椅子": 2, "CSTO": 3, "会議": 4}
    passages = [np.array([4], np.int32)] * 6 + [np.array([1, 3], np.int32)] * 2
    seg = segmented(passages, [])[0]
    dead = np.zeros(len(passages), bool)
    dead[:3] = True
    corpus = IndexPassages(Postings([seg], [dead], vocabulary_size=VOCAB), vocab)
    assert corpus.n == 5 and corpus.slots == 8
    found = cohesion([["議長", "椅子"], []], [["議長"], ["CSTO"]], corpus)
    chair, seat = found[0]
    assert chair.support == 2 and seat.df == 0


@pytest.mark.parametrize("share", [0, 10**9], ids=["sorted", "mask"])
def test_groups_of_terms_merge_alike_sorted_or_in_a_mask(share, monkeypatch):
    """A group's passages, frequency and summed tf, against sets built by hand, whichever
    way the lists are merged (long lists go through a mask over the segment)."""
    monkeypatch.setattr(bm25, "DENSE_SHARE", share)
    rng = np.random.default_rng(5)
    passages = corpus(rng, 900)
    segs = segmented(passages, [400, 700])
    dead = rng.random(len(passages)) < 0.15
    ours = Postings(segs, [dead[:400], dead[400:700], dead[700:]], vocabulary_size=VOCAB)
    for _ in range(60):
        group = rng.choice(VOCAB, size=rng.integers(2, 5), replace=False).tolist()
        holders = [i for i, p in enumerate(passages) if set(p.tolist()) & set(group)]
        live = [i for i in holders if not dead[i]]
        assert ours.group_docs(group).tolist() == live
        assert ours.group_df(group) == len(live)
        for s, (a, z) in enumerate([(0, 400), (400, 700), (700, 900)]):
            docs, tf = ours._segment_group(s, group)
            want = {i - a: int(np.isin(passages[i], group).sum()) for i in holders if a <= i < z}
            assert docs.tolist() == sorted(want)
            assert tf.tolist() == [want[d] for d in sorted(want)]
