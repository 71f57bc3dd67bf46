"""Immutable segments of the inverted index, and merging them in bounded memory.

Why segments: at ten million passages a build that changes one file must not rewrite every
posting. A segment holds only what does not depend on the rest of the corpus — each
posting's term frequency and each passage's length — so it stays valid while other passages
come and go; BM25's global statistics (N, avgdl, df) are taken over the live passages of the
generation that uses it (`bm25.Postings`), and a removed passage is only marked in that
generation's deletion mask. Block maxima (`blocks.py`) let the top-k kernel skip blocks of
postings that cannot reach the top k.

Merging is streamed by term ranges, so neither a full build nor a merge ever holds more than
one range of postings in memory, however large the segments are.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from index.retrieval.blocks import block_maxima

MERGE_POSTINGS = 8_000_000  # postings handled at once when merging (a few hundred MB)


@dataclass
class Segment:
    """Postings of a fixed set of passages; local passage numbers 0..n-1. Arrays may be
    memory-mapped files (`storage/segments.py`)."""

    name: str
    passage_ids: np.ndarray  # int64[n]: passages.id of each local passage
    doc_len: np.ndarray  # int32[n]: tokens per passage
    offsets: np.ndarray  # int64[V+1]: postings of term t are [offsets[t], offsets[t+1])
    docs: np.ndarray  # int32[P]: local passage number, ascending within a term
    tfs: np.ndarray  # uint16[P]
    block_offsets: np.ndarray  # int64[V+1]: blocks of term t (see blocks.py)
    block_max: np.ndarray  # float32[B]: a block's largest tf part, under `avgdl`
    avgdl: float  # the average length the block maxima were computed under
    stored: bool = False  # written to disk already (loaded from, or saved to, its files)
    _term_max: np.ndarray | None = field(default=None, repr=False)

    @property
    def n(self) -> int:
        return len(self.doc_len)

    @property
    def vocabulary_size(self) -> int:
        return len(self.offsets) - 1

    def term_max(self) -> np.ndarray:
        """float32[V]: each term's largest tf part (the maximum of its blocks)."""
        if self._term_max is None:
            out = np.zeros(self.vocabulary_size, dtype=np.float32)
            counts = np.diff(self.block_offsets)
            if len(self.block_max):
                starts = self.block_offsets[:-1][counts > 0]
                out[counts > 0] = np.maximum.reduceat(self.block_max, starts)
            self._term_max = out
        return self._term_max

    def span(self, t: int) -> tuple[int, int]:
        """Where term t's postings are ([lo, hi) into docs/tfs; empty when unknown here)."""
        if t < 0 or t >= self.vocabulary_size:
            return 0, 0
        return int(self.offsets[t]), int(self.offsets[t + 1])

    def live_df(self, deleted: np.ndarray | None, vocabulary_size: int) -> np.ndarray:
        """int64[vocabulary_size]: how many live passages of this segment hold each term."""
        out = np.zeros(vocabulary_size, dtype=np.int64)
        counts = np.diff(self.offsets)
        if deleted is None or not deleted.any():
            out[: len(counts)] = counts
            return out
        for lo_t, hi_t in _term_ranges([self], MERGE_POSTINGS):
            lo, hi = int(self.offsets[lo_t]), int(self.offsets[hi_t])
            terms = np.repeat(np.arange(lo_t, hi_t), counts[lo_t:hi_t])
            live = ~deleted[self.docs[lo:hi]]
            out[lo_t:hi_t] += np.bincount(terms[live] - lo_t, minlength=hi_t - lo_t)
        return out


def invert(
    name: str,
    flat_terms: np.ndarray,
    passage_offsets: np.ndarray,
    passage_ids: np.ndarray,
    vocabulary_size: int,
    k1: float,
    b: float,
) -> Segment:
    """A segment from a forward index (terms of passage i are flat[po[i]:po[i+1]]).

    One vectorized sort of (term, passage) keys; callers bound memory by handing in a
    bounded number of passages (the build cuts the corpus into chunks)."""
    n = len(passage_offsets) - 1
    doc_len = np.diff(passage_offsets).astype(np.int32)
    passage_of = np.repeat(np.arange(n, dtype=np.int64), doc_len)
    keys = flat_terms.astype(np.int64) * max(n, 1) + passage_of
    del passage_of
    uniq, counts = np.unique(keys, return_counts=True)
    del keys
    terms = uniq // max(n, 1)
    docs = (uniq % max(n, 1)).astype(np.int32)
    del uniq
    offsets = np.zeros(vocabulary_size + 1, dtype=np.int64)
    np.cumsum(np.bincount(terms, minlength=vocabulary_size), out=offsets[1:])
    tfs = np.minimum(counts, np.iinfo(np.uint16).max).astype(np.uint16)
    avgdl = float(doc_len.mean()) if n else 1.0
    block_offsets, block_max = block_maxima(offsets, docs, tfs, doc_len, k1, b, avgdl)
    return Segment(
        name=name,
        passage_ids=np.asarray(passage_ids, dtype=np.int64),
        doc_len=doc_len,
        offsets=offsets,
        docs=docs,
        tfs=tfs,
        block_offsets=block_offsets,
        block_max=block_max,
        avgdl=avgdl,
    )


@dataclass
class MergedHead:
    """What a merge knows before streaming postings: the merged passages."""

    passage_ids: np.ndarray
    doc_len: np.ndarray
    avgdl: float


@dataclass
class MergedRange:
    """One term range of a merged segment's postings, to be appended in order."""

    counts: np.ndarray  # postings per term of the range
    docs: np.ndarray
    tfs: np.ndarray
    block_counts: np.ndarray  # blocks per term of the range
    block_max: np.ndarray


def merge(
    parts: list[tuple[Segment, np.ndarray | None]],
    vocabulary_size: int,
    k1: float,
    b: float,
) -> tuple[MergedHead, Iterator[MergedRange]]:
    """Merge consecutive segments (with their deletion masks) into one, dropping deleted
    passages: the head at once, then the postings term range by term range."""
    live = [_live_mask(seg, deleted) for seg, deleted in parts]
    renumber, base = [], 0
    for mask in live:
        renumber.append((np.cumsum(mask) - 1 + base).astype(np.int32))
        base += int(mask.sum())
    doc_len = np.concatenate([seg.doc_len[m] for (seg, _), m in zip(parts, live, strict=True)])
    ids = np.concatenate([seg.passage_ids[m] for (seg, _), m in zip(parts, live, strict=True)])
    avgdl = float(doc_len.mean()) if len(doc_len) else 1.0
    head = MergedHead(ids.astype(np.int64), doc_len.astype(np.int32), avgdl)
    segments = [seg for seg, _ in parts]

    def ranges() -> Iterator[MergedRange]:
        for lo_t, hi_t in _term_ranges(segments, MERGE_POSTINGS, vocabulary_size):
            yield _merge_range(parts, live, renumber, head, lo_t, hi_t, k1, b)

    return head, ranges()


def _merge_range(parts, live, renumber, head, lo_t, hi_t, k1, b) -> MergedRange:
    """Postings of terms [lo_t, hi_t) from every part, renumbered, in (term, passage)
    order: parts are in passage order, so a stable sort by term keeps passages ascending."""
    terms, docs, tfs = [], [], []
    for (seg, _), mask, new_number in zip(parts, live, renumber, strict=True):
        a, z = min(lo_t, seg.vocabulary_size), min(hi_t, seg.vocabulary_size)
        lo, hi = int(seg.offsets[a]), int(seg.offsets[z])
        if lo == hi:
            continue
        d = np.asarray(seg.docs[lo:hi])
        keep = mask[d]
        terms.append(
            np.repeat(np.arange(a, z, dtype=np.int32), np.diff(seg.offsets[a : z + 1]))[keep]
        )
        docs.append(new_number[d[keep]])
        tfs.append(np.asarray(seg.tfs[lo:hi])[keep])
    width = hi_t - lo_t
    if not terms:
        empty = np.zeros(0, np.int32)
        zeros = np.zeros(width, np.int64)
        return MergedRange(zeros, empty, np.zeros(0, np.uint16), zeros, np.zeros(0, np.float32))
    term = np.concatenate(terms)
    order = np.argsort(term, kind="stable")
    docs_out = np.concatenate(docs)[order]
    tfs_out = np.concatenate(tfs)[order]
    counts = np.bincount(term - lo_t, minlength=width).astype(np.int64)
    offsets = np.zeros(width + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    block_offsets, block_max = block_maxima(
        offsets, docs_out, tfs_out, head.doc_len, k1, b, head.avgdl
    )
    return MergedRange(counts, docs_out, tfs_out, np.diff(block_offsets), block_max)


def _live_mask(seg: Segment, deleted: np.ndarray | None) -> np.ndarray:
    return np.ones(seg.n, dtype=bool) if deleted is None else ~np.asarray(deleted, dtype=bool)


def _term_ranges(
    segments: list[Segment], budget: int, vocabulary_size: int | None = None
) -> Iterator[tuple[int, int]]:
    """Consecutive term ranges holding about `budget` postings over all segments."""
    vocab = vocabulary_size or max(s.vocabulary_size for s in segments)
    total = np.zeros(vocab + 1, dtype=np.int64)
    for seg in segments:
        upto = min(seg.vocabulary_size, vocab)
        total[: upto + 1] += np.asarray(seg.offsets[: upto + 1])
        total[upto + 1 :] += int(seg.offsets[upto])
    start = 0
    while start < vocab:
        stop = int(np.searchsorted(total, total[start] + budget, side="right")) - 1
        stop = min(max(stop, start + 1), vocab)
        yield start, stop
        start = stop


def plan_merges(live: list[int], deleted: list[int], factor: int = 8) -> list[tuple[int, int]]:
    """Which consecutive segments to merge ([start, end) ranges), by a simple tiered policy.

    A segment's tier is the order of magnitude (base `factor`) of its live passages; when
    `factor` consecutive segments share a tier they become one of the next tier, so a corpus
    built up one file at a time keeps O(log n) segments and each posting is rewritten
    O(log n) times. A segment more than a third deleted is rewritten on its own."""
    tiers = [_tier(n, factor) for n in live]
    merges: list[tuple[int, int]] = []
    i = 0
    while i < len(live):
        j = i
        while j < len(live) and tiers[j] == tiers[i] and j - i < factor:
            j += 1
        if j - i == factor:
            merges.append((i, j))
            i = j
        elif deleted[i] * 3 > live[i] + deleted[i]:
            merges.append((i, i + 1))
            i += 1
        else:
            i += 1
    return merges


def _tier(n: int, factor: int) -> int:
    tier = 0
    while n >= factor:
        n //= factor
        tier += 1
    return tier
