"""Block-max pruning must not change the top k: the kernel with block bounds, without them and
with a threshold all equal a brute-force ranking, ties included."""

from __future__ import annotations

import numpy as np
import pytest

from index.retrieval.blocks import BLOCK, block_maxima

K1, B = 1.5, 0.75


def slow_block_maxima(offsets, docs, tfs, doc_len, k1, b, avgdl):
    """One block at a time, in plain Python floats."""
    base = int(offsets[0])
    bounds, maxima = [0], []
    for t in range(len(offsets) - 1):
        lo, hi = int(offsets[t]) - base, int(offsets[t + 1]) - base
        for start in range(lo, hi, BLOCK):
            best = 0.0
            for p in range(start, min(start + BLOCK, hi)):
                tf = float(tfs[p])
                norm = k1 * (1 - b + b * float(doc_len[docs[p]]) / avgdl)
                best = max(best, tf * (k1 + 1) / (tf + norm))
            maxima.append(best)
        bounds.append(len(maxima))
    return np.array(bounds), np.array(maxima)


def synthetic_index(rng, n_docs=5000, vocab=300):
    """Postings with a Zipf-like spread of df, the first terms in 50-95 % of passages, tf 1-5,
    and few distinct lengths so that equal scores are common."""
    doc_len = rng.choice([5, 12, 30, 80], size=n_docs).astype(np.int32)
    df = np.maximum(1, (n_docs * 0.4 / np.arange(1, vocab + 1) ** 1.1).astype(int))
    df[:4] = (n_docs * np.array([0.95, 0.8, 0.65, 0.5])).astype(int)
    df[10] = 2 * BLOCK  # a list that fills its last block exactly
    df[11] = 0  # and one with no postings
    terms = [np.sort(rng.choice(n_docs, size=d, replace=False)) for d in df]
    # One term dense in the first passages and sparse after: blocks of very uneven reach.
    terms[12] = np.concatenate(
        [
            rng.choice(1400, 1200, replace=False),
            1400 + rng.choice(n_docs - 1400, 300, replace=False),
        ]
    )
    terms[12].sort()
    df[12] = len(terms[12])
    offsets = np.zeros(vocab + 1, dtype=np.int64)
    np.cumsum(df, out=offsets[1:])
    docs = np.concatenate(terms).astype(np.int32)
    tfs = np.minimum(rng.geometric(0.6, size=len(docs)), 5).astype(np.uint16)
    return doc_len, offsets, docs, tfs


@pytest.fixture(scope="module")
def index():
    rng = np.random.default_rng(11)
    doc_len, offsets, docs, tfs = synthetic_index(rng)
    n = len(doc_len)
    avgdl = float(doc_len.sum()) / n
    norm = K1 * (1 - B + B * doc_len / avgdl)
    df = np.diff(offsets)
    raw = np.log(n - df + 0.5) - np.log(df + 0.5)
    eps = 0.25 * raw[df > 0].mean()
    idf = np.where(raw < 0, eps, raw)  # the epsilon floor: frequent terms weigh alike
    block_offsets, block_max = block_maxima(offsets, docs, tfs, doc_len, K1, B, avgdl)
    return {
        "doc_len": doc_len,
        "offsets": offsets,
        "docs": docs,
        "tfs": tfs,
        "avgdl": avgdl,
        "norm": norm,
        "idf": idf,
        "block_offsets": block_offsets,
        "block_max": block_max,
    }


# ---- block_maxima ------------------------------------------------------------------------


def test_block_maxima_equal_a_per_block_reference(index):
    ix = index
    args = (ix["offsets"], ix["docs"], ix["tfs"], ix["doc_len"], K1, B, ix["avgdl"])
    bounds, exact = slow_block_maxima(*args)
    np.testing.assert_array_equal(ix["block_offsets"], bounds)
    got = ix["block_max"]
    assert got.dtype == np.float32 and ix["block_offsets"].dtype == np.int64
    assert np.all(got.astype(np.float64) >= exact)  # rounded up, never below
    assert np.all(np.nextafter(got, np.float32(-np.inf)).astype(np.float64) < exact)  # tight
    df = np.diff(ix["offsets"])
    assert df[11] == 0 and ix["block_offsets"][12] == ix["block_offsets"][11]
    assert df[10] == 2 * BLOCK and np.diff(ix["block_offsets"])[10] == 2


def test_block_maxima_of_a_term_range_slice(index):
    ix = index
    t0, t1 = 5, 40  # includes the empty term and the exact multiple of BLOCK
    offsets = ix["offsets"][t0 : t1 + 1]
    lo, hi = int(offsets[0]), int(offsets[-1])
    assert lo > 0
    bounds, maxima = block_maxima(
        offsets, ix["docs"][lo:hi], ix["tfs"][lo:hi], ix["doc_len"], K1, B, ix["avgdl"]
    )
    whole = ix["block_offsets"]
    assert bounds[0] == 0
    np.testing.assert_array_equal(bounds, whole[t0 : t1 + 1] - whole[t0])
    np.testing.assert_array_equal(maxima, ix["block_max"][whole[t0] : whole[t1]])


def test_block_maxima_edge_cases():
    doc_len = np.array([3, 7, 1], dtype=np.int32)
    empty = block_maxima(
        np.array([4, 4, 4]), np.zeros(0, np.int32), np.zeros(0, np.uint16), doc_len, K1, B, 2.0
    )
    np.testing.assert_array_equal(empty[0], [0, 0, 0])
    assert len(empty[1]) == 0
    one = block_maxima(
        np.array([0, 2]),
        np.array([0, 2], np.int32),
        np.array([1, 3], np.uint16),
        doc_len,
        K1,
        B,
        2.0,
    )
    np.testing.assert_array_equal(one[0], [0, 1])
    with pytest.raises(ValueError):
        block_maxima(
            np.array([1, 3]),
            np.array([0, 2, 2], np.int32),
            np.ones(3, np.uint16),
            doc_len,
            K1,
            B,
            2.0,
        )


# ---- the kernel --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kernel():
    return pytest.importorskip("index.retrieval._topk")


def query_lists(ix, terms, weights, merge_first=False):
    """(docs, tfs, idf, weight, ub, block_max, block_scale) per list, the first list optionally
    a union of two terms with summed tf (a group of alternatives)."""
    lists = []
    parts = (
        [[terms[0], terms[1]]] + [[t] for t in terms[2:]] if merge_first else [[t] for t in terms]
    )
    for group, w in zip(parts, weights, strict=False):
        spans = [(ix["offsets"][t], ix["offsets"][t + 1]) for t in group]
        docs = np.concatenate([ix["docs"][lo:hi] for lo, hi in spans])
        tfs = np.concatenate([ix["tfs"][lo:hi] for lo, hi in spans]).astype(np.int64)
        if len(group) > 1:
            docs, inverse = np.unique(docs, return_inverse=True)
            tfs = np.bincount(inverse, weights=tfs, minlength=len(docs)).astype(np.int64)
        docs = docs.astype(np.int32)
        tfs = tfs.astype(np.uint16)
        idf = float(ix["idf"][group[0]])
        if len(group) == 1:
            t = group[0]
            blocks = ix["block_max"][ix["block_offsets"][t] : ix["block_offsets"][t + 1]]
        else:
            _, blocks = block_maxima(
                np.array([0, len(docs)]), docs, tfs, ix["doc_len"], K1, B, ix["avgdl"]
            )
        scale = abs(idf * w)
        ub = float(blocks.max()) * scale * (1 + 1e-5) + 1e-9 if len(blocks) else 0.0
        lists.append((docs, tfs, idf, w, ub, np.ascontiguousarray(blocks, np.float32), scale))
    return lists


def brute_force(ix, lists, k, threshold=None):
    """Every passage scored, summed in list order, ranked by score then passage."""
    n = len(ix["norm"])
    scores = np.zeros(n)
    touched = np.zeros(n, dtype=bool)
    for docs, tfs, idf, w, *_ in lists:
        tf = tfs.astype(np.float64)
        scores[docs] += (idf * w) * (tf * (K1 + 1) / (tf + ix["norm"][docs]))
        touched[docs] = True
    cand = np.flatnonzero(touched)
    if threshold is not None:
        cand = cand[scores[cand] > threshold]
    order = np.lexsort((cand, -scores[cand]))[:k]
    return cand[order], scores[cand[order]]


def run(kernel, ix, lists, k, threshold=None, blocks=True):
    lists = [tuple(x) if blocks else tuple(x[:5]) for x in lists]
    args = (lists, ix["norm"], K1, k) + (() if threshold is None else (threshold,))
    docs_b, scores_b = kernel.topk(*args)
    return np.frombuffer(docs_b, np.int32), np.frombuffer(scores_b, np.float64)


def check(kernel, ix, lists, k, what) -> int:
    """The kernel with block bounds, without them, and with thresholds, against brute force;
    how many tied neighbours the expected top k has."""
    want_docs, want_scores = brute_force(ix, lists, k)
    for blocks in (True, False):
        docs, scores = run(kernel, ix, lists, k, blocks=blocks)
        np.testing.assert_array_equal(docs, want_docs, err_msg=f"{what} blocks={blocks}")
        np.testing.assert_allclose(scores, want_scores, rtol=0, atol=1e-9)
        if blocks:
            with_blocks = scores
        else:
            np.testing.assert_array_equal(scores, with_blocks)  # the same doubles
    # A threshold from results held elsewhere: strictly better passages only.
    _, full = brute_force(ix, lists, k + 20)
    for threshold in {float(full[min(len(full) - 1, j)]) for j in (0, k // 2, k + 5) if len(full)}:
        expected = brute_force(ix, lists, k, threshold)
        for blocks in (True, False):
            docs, scores = run(kernel, ix, lists, k, threshold, blocks=blocks)
            np.testing.assert_array_equal(docs, expected[0], err_msg=f"{what} > {threshold}")
            np.testing.assert_allclose(scores, expected[1], rtol=0, atol=1e-9)
            assert np.all(scores > threshold)
    return int(np.sum(want_scores[1:] == want_scores[:-1]))


def test_kernel_with_and_without_blocks_equals_brute_force(kernel, index):
    ix = index
    rng = np.random.default_rng(5)
    vocab = len(ix["offsets"]) - 1
    ties = 0
    for q in range(300):
        size = int(rng.integers(1, 7))
        frequent = rng.choice(4, size=int(rng.integers(0, min(size, 4) + 1)), replace=False)
        rest = rng.choice(np.arange(4, vocab), size=size - len(frequent), replace=False)
        terms = [int(t) for t in rng.permutation(np.concatenate([frequent, rest]))]
        weights = [
            1.0 if rng.random() < 0.6 else float(rng.choice([0.3, 0.5, 2.0, 1.7])) for _ in terms
        ]
        lists = query_lists(ix, terms, weights, merge_first=len(terms) >= 2 and q % 5 == 0)
        if q % 7 == 0:  # some lists without block metadata next to lists with it
            lists = [x[:5] if i % 2 else x for i, x in enumerate(lists)]
        k = int(rng.choice([1, 5, 10, 50]))
        ties += check(kernel, ix, lists, k, f"{terms} {weights}")
    assert ties > 50  # the tie order was exercised


@pytest.mark.parametrize(
    "rare, mid, frequent",
    [(2, 0, 3), (1, 1, 2), (0, 1, 3), (0, 2, 2), (0, 0, 4), (0, 0, 1), (3, 0, 0), (0, 1, 0)],
)
def test_query_shapes(kernel, index, rare, mid, frequent):
    """Selective terms scored first (one or several), a mid term with frequent ones (no term
    selective enough), frequent terms alone, one term."""
    ix = index
    df = np.diff(ix["offsets"])
    rare_terms = np.flatnonzero((df > 0) & (df < 40))
    mid_terms = np.flatnonzero((df > 150) & (df < 700))
    rng = np.random.default_rng(rare * 100 + mid * 10 + frequent)
    for _ in range(25):
        terms = [
            *rng.choice(rare_terms, rare, replace=False),
            *rng.choice(mid_terms, mid, replace=False),
            *rng.choice(4, frequent, replace=False),
        ]
        terms = [int(t) for t in rng.permutation(terms)]
        lists = query_lists(ix, terms, [1.0] * len(terms))
        for k in (1, 10):
            check(kernel, ix, lists, k, str(terms))


def test_uneven_blocks(kernel, index):
    """A window can span many short blocks of a list whose blocks are long on average."""
    ix = index
    rng = np.random.default_rng(12)
    for _ in range(40):
        others = rng.choice(np.arange(4, 300), int(rng.integers(0, 3)), replace=False)
        terms = [12, *rng.choice(4, int(rng.integers(1, 4)), replace=False), *others]
        terms = [int(t) for t in rng.permutation(terms)]
        weights = [float(rng.choice([1.0, 3.0])) for _ in terms]
        for k in (1, 10, 30):
            check(kernel, ix, query_lists(ix, terms, weights), k, str(terms))
    # With only a few dozen candidates the windows grow long, over many of its short blocks.
    df = np.diff(ix["offsets"])
    for rare in np.flatnonzero((df >= 30) & (df <= 80))[:20]:
        lists = query_lists(ix, [12, int(rare)], [3.0, 1.0])
        for k in (1, 10):
            check(kernel, ix, lists, k, f"[12, {rare}]")


def test_kernel_corner_cases(kernel, index):
    ix = index
    lists = query_lists(ix, [0, 1, 200], [1.0, 1.0, 1.0])
    assert run(kernel, ix, lists, 0)[0].size == 0
    assert run(kernel, ix, [], 10)[0].size == 0
    everything = run(kernel, ix, lists, len(ix["norm"]) + 5)
    np.testing.assert_array_equal(everything[0], brute_force(ix, lists, len(ix["norm"]))[0])
    assert run(kernel, ix, lists, 10, threshold=1e9)[0].size == 0
    # A threshold of None is the same as none.
    np.testing.assert_array_equal(
        kernel.topk(lists, ix["norm"], K1, 10, None)[0], kernel.topk(lists, ix["norm"], K1, 10)[0]
    )


def test_kernel_releases_buffers_on_every_path(kernel, index):
    """A bytearray cannot be resized while a buffer of it is held: after each call it can."""
    ix = index
    docs, tfs, idf, w, ub, blocks, scale = query_lists(ix, [2], [1.0])[0]
    held = [bytearray(docs.tobytes()), bytearray(tfs.tobytes()), bytearray(blocks.tobytes())]
    good = (held[0], held[1], idf, w, ub, held[2], scale)
    kernel.topk([good], ix["norm"], K1, 10)
    short_blocks = (held[0], held[1], idf, w, ub, held[2][:-4], scale)
    with pytest.raises(ValueError):
        kernel.topk([good, short_blocks], ix["norm"], K1, 10)
    bad_tfs = (held[0], held[1][:-2], idf, w, ub, held[2], scale)
    with pytest.raises(ValueError):
        kernel.topk([good, bad_tfs], ix["norm"], K1, 10)
    with pytest.raises(TypeError):
        kernel.topk([good, (held[0], held[1], idf, w, ub, held[2])], ix["norm"], K1, 10)
    with pytest.raises(TypeError):
        kernel.topk([good, (held[0], held[1], idf, w, ub, held[2], "x")], ix["norm"], K1, 10)
    for buffer in held:
        buffer.extend(b"\0\0\0\0")
