"""Per-block score bounds for block-max pruning in the C top-k kernel.

A term's single upper bound is set by its best posting anywhere, so a very frequent term
looks as valuable in every stretch of passages as at its one outlier. Cutting each postings
list into blocks of BLOCK postings and bounding every block separately lets the kernel skip
stretches where the term cannot lift any passage into the top k (as Lucene and tantivy do).
The bounds carry no idf: the caller scales them per query, so one array serves any weighting.
"""

from __future__ import annotations

import numpy as np

BLOCK = 128


def block_maxima(
    offsets: np.ndarray,
    docs: np.ndarray,
    tfs: np.ndarray,
    doc_len: np.ndarray,
    k1: float,
    b: float,
    avgdl: float,
) -> tuple[np.ndarray, np.ndarray]:
    """(block_offsets int64[V+1], block_max float32[NB]): term t's blocks are
    block_max[block_offsets[t]:block_offsets[t+1]].

    `offsets` may be a term-range slice of a larger index, with `docs` and `tfs` the matching
    slice of postings: positions count from offsets[0]. Each bound is rounded up to float32,
    so pruning with it never drops a passage the exact double score would keep.
    """
    offsets = np.asarray(offsets, dtype=np.int64)
    if len(offsets) == 0:
        return np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.float32)
    relative = offsets - offsets[0]
    total = int(relative[-1])
    if len(docs) != total or len(tfs) != total:
        raise ValueError(
            f"{len(docs)} docs and {len(tfs)} tfs for offsets spanning {total} postings"
        )
    df = np.diff(relative)
    per_term = (df + BLOCK - 1) // BLOCK
    block_offsets = np.zeros(len(df) + 1, dtype=np.int64)
    np.cumsum(per_term, out=block_offsets[1:])
    n_blocks = int(block_offsets[-1])
    if n_blocks == 0:
        return block_offsets, np.zeros(0, dtype=np.float32)
    term_of_block = np.repeat(np.arange(len(df), dtype=np.int64), per_term)
    starts = relative[term_of_block] + (np.arange(n_blocks) - block_offsets[term_of_block]) * BLOCK
    exact = np.maximum.reduceat(_tf_parts(docs, tfs, doc_len, k1, b, avgdl), starts)
    rounded = exact.astype(np.float32)
    low = rounded.astype(np.float64) < exact
    rounded[low] = np.nextafter(rounded[low], np.float32(np.inf))
    return block_offsets, rounded


def _tf_parts(
    docs: np.ndarray, tfs: np.ndarray, doc_len: np.ndarray, k1: float, b: float, avgdl: float
) -> np.ndarray:
    """Every posting's tf * (k1 + 1) / (tf + norm) in double, with bm25.Postings' expression
    for the norm, so each value is the one the kernel multiplies by idf."""
    norm = k1 * (1 - b + b * np.asarray(doc_len, dtype=np.float64) / avgdl)
    tf = np.asarray(tfs, dtype=np.float64)
    return tf * (k1 + 1) / (tf + norm[np.asarray(docs)])
