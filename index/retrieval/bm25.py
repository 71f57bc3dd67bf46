"""Okapi BM25 over segmented postings, with exactly rank_bm25.BM25Okapi's scores.

rank_bm25 scores every passage for every query in Python; that cannot serve ten million
passages. Here a query touches only the postings of its own terms:

    idf(t)   = ln(N - df + 0.5) - ln(df + 0.5), floored at epsilon * mean idf when negative
    score(d) = Σ_t idf(t) · tf(t,d) · (k1 + 1) / (tf(t,d) + k1 · (1 - b + b · |d| / avgdl))

The postings are immutable segments (`segment.py`) plus, per generation, a deletion mask per
segment. N, avgdl and df are taken over the live passages only, so scores equal rank_bm25's
over the live corpus however the passages are spread over segments. Passages are numbered
across segments in segment order ("slots"; a deleted passage keeps its slot, unreturned).

A query term may be a *group* of alternative terms (an English word's translations): the
group counts as one term whose tf is the sum over its alternatives and whose df is the number
of passages holding any of them, so a word with twelve translations weighs like one word.
"""

from __future__ import annotations

import heapq

import numpy as np

from index.retrieval.segment import Segment, invert

try:  # the compiled MaxScore kernel (setup.py); the NumPy path gives the same results
    from index.retrieval import _topk
except ImportError:  # pragma: no cover - depends on the install
    _topk = None

K1 = 1.5
B = 0.75
EPSILON = 0.25
FORMAT = 3
SLACK = 1 + 1e-5  # bounds a little above the float32 maxima keep pruning exact


def idf_of(df: np.ndarray | int, n: int) -> np.ndarray:
    """rank_bm25's raw idf, before the epsilon floor."""
    df = np.asarray(df, dtype=np.float64)
    return np.log(n - df + 0.5) - np.log(df + 0.5)


GROUP_DF_CACHE = 4096  # groups whose frequency a generation remembers
DENSE_SHARE = 32  # lists holding more than 1/DENSE_SHARE of a segment are merged in a mask


def _dense(spans: list[tuple[int, int]], n: int) -> bool:
    """Whether lists of these spans are cheaper merged in a mask over n passages than sorted."""
    return sum(hi - lo for lo, hi in spans) * DENSE_SHARE >= n


class Postings:
    """The inverted index of one generation: segments, their deletion masks, and BM25's
    statistics over the live passages."""

    def __init__(
        self,
        segments: list[Segment],
        deleted: list[np.ndarray | None] | None = None,
        dfs: np.ndarray | None = None,
        vocabulary_size: int | None = None,
        k1: float = K1,
        b: float = B,
        epsilon: float = EPSILON,
    ) -> None:
        self.segments = segments
        self.deleted = list(deleted) if deleted is not None else [None] * len(segments)
        self.k1, self.b, self.epsilon = k1, b, epsilon
        sizes = [s.n for s in segments]
        self.bases = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)])
        self.slots = int(self.bases[-1])
        self.vocabulary_size = (
            vocabulary_size
            if vocabulary_size is not None
            else max((s.vocabulary_size for s in segments), default=0)
        )
        lengths = [self._live_lengths(i) for i in range(len(segments))]
        self.n = sum(len(x) for x in lengths)
        total_len = sum(int(x.sum(dtype=np.int64)) for x in lengths)
        self.avgdl = total_len / self.n if self.n else 0.0
        if dfs is None:
            dfs = self._count_dfs()
        self.dfs = np.asarray(dfs, dtype=np.int64)
        raw = idf_of(self.dfs, self.n)
        present = self.dfs > 0
        # rank_bm25 averages over the terms it has seen, i.e. those with df > 0.
        self.average_idf = float(raw[present].sum() / present.sum()) if present.any() else 0.0
        self.eps_idf = self.epsilon * self.average_idf
        self.idf = np.where(present, np.where(raw < 0, self.eps_idf, raw), 0.0)
        # The per-passage length normalisation, once per generation; a deleted passage's is
        # infinite, so it scores 0 wherever its postings still are.
        self.norms = [self._norm(i) for i in range(len(segments))]
        # Block maxima were computed under the segment's own avgdl. A larger avgdl now
        # raises a tf part tf(k1+1)/(tf + k1(1-b) + k1·b·len/avgdl) by at most the ratio of
        # the two; a smaller one only lowers it.
        self.scales = [max(1.0, self.avgdl / s.avgdl) if s.avgdl else 1.0 for s in segments]
        self._passage_ids: np.ndarray | None = None
        self._group_dfs: dict[tuple[int, ...], int] = {}

    # ---- statistics ------------------------------------------------------------------
    def _live_lengths(self, i: int) -> np.ndarray:
        seg, deleted = self.segments[i], self.deleted[i]
        return np.asarray(seg.doc_len) if deleted is None else np.asarray(seg.doc_len)[~deleted]

    def _count_dfs(self) -> np.ndarray:
        out = np.zeros(self.vocabulary_size, dtype=np.int64)
        for seg, deleted in zip(self.segments, self.deleted, strict=True):
            out += seg.live_df(deleted, self.vocabulary_size)
        return out

    def _norm(self, i: int) -> np.ndarray:
        seg, deleted = self.segments[i], self.deleted[i]
        if not self.n:
            return np.full(seg.n, np.inf)
        norm = self.k1 * (1 - self.b + self.b * np.asarray(seg.doc_len) / self.avgdl)
        if deleted is not None:
            norm[deleted] = np.inf
        return norm

    @property
    def passage_ids(self) -> np.ndarray:
        """int64[slots]: passages.id of every slot (deleted slots keep their old id)."""
        if self._passage_ids is None:
            parts = [np.asarray(s.passage_ids) for s in self.segments]
            self._passage_ids = np.concatenate(parts) if parts else np.zeros(0, np.int64)
        return self._passage_ids

    @property
    def postings_count(self) -> int:
        return sum(len(s.docs) for s in self.segments)

    def is_live(self, slot: int) -> bool:
        i = int(np.searchsorted(self.bases, slot, side="right")) - 1
        deleted = self.deleted[i]
        return deleted is None or not bool(deleted[slot - self.bases[i]])

    def df(self, term: int) -> int:
        if term < 0 or term >= self.vocabulary_size:
            return 0
        return int(self.dfs[term])

    def group_idf(self, df: int) -> float:
        if df == 0:
            return 0.0
        raw = float(idf_of(df, self.n))
        return self.eps_idf if raw < 0 else raw

    def group_df(self, terms: list[int]) -> int:
        """Live passages holding any of `terms` (remembered per group: a question asks for
        its groups' frequencies more than once, and they recur across questions)."""
        terms = self._known(terms)
        if len(terms) <= 1:
            return self.df(terms[0]) if terms else 0
        key = tuple(sorted(terms))
        found = self._group_dfs.get(key)
        if found is None:
            found = sum(len(self._local_union(i, terms)) for i in range(len(self.segments)))
            if len(self._group_dfs) >= GROUP_DF_CACHE:
                self._group_dfs.clear()
            self._group_dfs[key] = found
        return found

    # ---- postings --------------------------------------------------------------------
    def _known(self, terms: list[int]) -> list[int]:
        return [t for t in dict.fromkeys(terms) if 0 <= t < self.vocabulary_size and self.dfs[t]]

    def term_docs(self, term: int) -> np.ndarray:
        """Slots of the live passages holding `term`, ascending (a view of the postings when
        they sit in one segment without deletions)."""
        parts = []
        for i, seg in enumerate(self.segments):
            lo, hi = seg.span(term)
            if lo == hi:
                continue
            docs = seg.docs[lo:hi]
            if self.deleted[i] is not None:
                docs = docs[~self.deleted[i][docs]]
            parts.append(docs if i == 0 else docs.astype(np.int64) + self.bases[i])
        if len(parts) == 1:
            return parts[0]
        return np.concatenate(parts) if parts else np.zeros(0, np.int64)

    def holds_any(self, terms: list[int], slots: np.ndarray) -> np.ndarray:
        """Which of `slots` (ascending or not) hold at least one of `terms`: binary searches
        in the postings, no copy of them."""
        found = np.zeros(len(slots), dtype=bool)
        seg_of = np.searchsorted(self.bases, slots, side="right") - 1
        for i, seg in enumerate(self.segments):
            here = np.flatnonzero(seg_of == i)
            if not len(here):
                continue
            # in the postings' own dtype: searchsorted would otherwise cast the whole list to
            # int64 on every call (tens of milliseconds for a frequent term at 10M)
            local = (slots[here] - self.bases[i]).astype(seg.docs.dtype)
            for lo, hi in map(seg.span, terms):
                if lo == hi:
                    continue
                docs = seg.docs[lo:hi]
                pos = np.minimum(np.searchsorted(docs, local), len(docs) - 1)
                found[here] |= docs[pos] == local
        return found

    def group_docs(self, terms: list[int]) -> np.ndarray:
        """Slots of the live passages holding any of `terms`, ascending."""
        terms = self._known(terms)
        if len(terms) == 1:
            return self.term_docs(terms[0])
        parts = [
            self._local_union(i, terms).astype(np.int64) + self.bases[i]
            for i in range(len(self.segments))
        ]
        return np.concatenate(parts) if parts else np.zeros(0, np.int64)

    def _local_union(self, i: int, terms: list[int]) -> np.ndarray:
        """Live passages of segment i (local numbers) holding any of `terms`, ascending.

        Long lists are merged in a mask over the segment rather than sorted: at ten million
        passages a group holding a term of 8 M postings took seconds to sort, once per
        question, against tens of milliseconds for the mask."""
        seg, deleted = self.segments[i], self.deleted[i]
        spans = [(lo, hi) for lo, hi in map(seg.span, terms) if hi > lo]
        if not spans:
            return np.zeros(0, np.int32)
        if len(spans) == 1:
            docs = seg.docs[spans[0][0] : spans[0][1]]
        elif _dense(spans, seg.n):
            mask = np.zeros(seg.n, dtype=bool)
            for lo, hi in spans:
                mask[seg.docs[lo:hi]] = True
            if deleted is not None:
                mask &= ~deleted
            return np.flatnonzero(mask).astype(np.int32)
        else:
            docs = np.unique(np.concatenate([seg.docs[lo:hi] for lo, hi in spans]))
        return docs if deleted is None else docs[~deleted[docs]]

    def _segment_group(self, i: int, terms: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """(local passages, summed tf) of alternative terms within segment i."""
        seg = self.segments[i]
        spans = [(lo, hi) for lo, hi in map(seg.span, terms) if hi > lo]
        if not spans:
            return np.zeros(0, np.int32), np.zeros(0, np.float64)
        if len(spans) == 1:
            lo, hi = spans[0]
            return np.asarray(seg.docs[lo:hi]), np.asarray(seg.tfs[lo:hi], dtype=np.float64)
        if _dense(spans, seg.n):
            # a passage occurs once in a term's list, so fancy-index addition is exact
            sums = np.zeros(seg.n, dtype=np.float64)
            for lo, hi in spans:
                sums[seg.docs[lo:hi]] += seg.tfs[lo:hi]
            docs = np.flatnonzero(sums)
            return docs.astype(np.int32), sums[docs]
        docs = np.concatenate([seg.docs[lo:hi] for lo, hi in spans])
        tfs = np.concatenate([seg.tfs[lo:hi] for lo, hi in spans]).astype(np.float64)
        uniq, inverse = np.unique(docs, return_inverse=True)
        return uniq.astype(np.int32), np.bincount(inverse, weights=tfs, minlength=len(uniq))

    def _tf_part(self, i: int, docs: np.ndarray, tf: np.ndarray) -> np.ndarray:
        return tf * (self.k1 + 1) / (tf + self.norms[i][docs])

    def _group_idf(self, terms: list[int]) -> float:
        if len(terms) == 1:
            return float(self.idf[terms[0]])
        return self.group_idf(self.group_df(terms))

    # ---- ranking ---------------------------------------------------------------------
    def top_k(
        self, groups: list[list[int]], k: int, weights: list[float] | None = None, offset: int = 0
    ) -> list[tuple[int, float]]:
        """The best live passages as (slot, exact score), ties broken by slot order.

        Segments are searched in slot order, each with the compiled MaxScore kernel (block
        maxima let it skip blocks that cannot reach the top k), the k-th best score so far
        passed on as a threshold: a later segment only contributes passages that beat it,
        and a tie loses to the earlier slot, as it should."""
        want = k + offset
        if want <= 0 or not self.n:
            return []
        weights = weights or [1.0] * len(groups)
        prepared = [
            (terms, self._group_idf(terms), w)
            for terms, w in ((self._known(g), w) for g, w in zip(groups, weights, strict=True))
            if terms and w != 0
        ]
        if not prepared:
            return []
        best: list[tuple[float, int]] = []  # min-heap of (score, -slot): the worst on top
        for i in range(len(self.segments)):
            threshold = best[0][0] if len(best) == want else None
            for slot, score in self._segment_top(i, prepared, want, threshold):
                item = (score, -slot)
                if len(best) < want:
                    heapq.heappush(best, item)
                elif item > best[0]:
                    heapq.heapreplace(best, item)
        ranked = sorted(((-s, -neg) for s, neg in best))
        return [(slot, -score) for score, slot in ranked][offset:]

    def _segment_top(self, i, prepared, want: int, threshold: float | None):
        """(slot, score) of segment i's best live passages (above `threshold` if given)."""
        if _topk is None:
            hits = self._segment_top_numpy(i, prepared, want)
        else:
            hits = self._segment_top_compiled(i, prepared, want, threshold)
            deleted = self.deleted[i]
            if deleted is not None and any(deleted[d] for d, _ in hits):
                # Only when fewer than `want` passages score above 0: ask for enough more
                # that no live zero-score passage is crowded out by deleted ones.
                more = want + int(deleted.sum())
                hits = self._segment_top_compiled(i, prepared, more, threshold)
                hits = [(d, s) for d, s in hits if not deleted[d]][:want]
        base = int(self.bases[i])
        return [(base + d, s) for d, s in hits if threshold is None or s > threshold]

    def _segment_top_compiled(self, i, prepared, want, threshold):
        seg, norm, scale = self.segments[i], self.norms[i], self.scales[i]
        lists = []
        for terms, idf, w in prepared:
            idf_w = abs(idf * w)
            if len(terms) == 1:
                lo, hi = seg.span(terms[0])
                if lo == hi:
                    continue
                t = terms[0]
                blocks = seg.block_max[seg.block_offsets[t] : seg.block_offsets[t + 1]]
                block_scale = idf_w * scale * SLACK
                bound = float(seg.term_max()[t]) * block_scale + 1e-9
                docs, tfs = seg.docs[lo:hi], seg.tfs[lo:hi]
            else:
                docs, tf = self._segment_group(i, terms)
                if not len(docs):
                    continue
                part = self._tf_part(i, docs, tf)
                blocks = _round_up(np.maximum.reduceat(part, np.arange(0, len(part), 128)))
                block_scale = idf_w * SLACK
                bound = float(part.max()) * block_scale + 1e-9
                tfs = np.minimum(tf, np.iinfo(np.uint16).max).astype(np.uint16)
            lists.append(
                (
                    np.ascontiguousarray(docs, np.int32),
                    np.ascontiguousarray(tfs, np.uint16),
                    idf,
                    w,
                    bound,
                    np.ascontiguousarray(blocks, np.float32),
                    block_scale,
                )
            )
        if not lists:
            return []
        args = (lists, norm, self.k1, want) + (() if threshold is None else (threshold,))
        docs_b, scores_b = _topk.topk(*args)
        docs = np.frombuffer(docs_b, dtype=np.int32)
        scores = np.frombuffer(scores_b, dtype=np.float64)
        return [(int(d), float(s)) for d, s in zip(docs, scores, strict=True)]

    def _segment_top_numpy(self, i, prepared, want):
        """The exact top of one segment without the kernel: every matching live passage
        scored (slower on frequent terms, same results)."""
        parts = [(*self._segment_group(i, terms), idf, w) for terms, idf, w in prepared]
        parts = [p for p in parts if len(p[0])]
        if not parts:
            return []
        cand = np.unique(np.concatenate([p[0] for p in parts]))
        deleted = self.deleted[i]
        if deleted is not None:
            cand = cand[~deleted[cand]]
        scores = np.zeros(len(cand))
        for docs, tf, idf, w in parts:
            pos = np.minimum(np.searchsorted(docs, cand), len(docs) - 1)
            hit = docs[pos] == cand
            contrib = (idf * w) * self._tf_part(i, docs[pos[hit]], tf[pos[hit]])
            scores[hit] += contrib
        order = np.lexsort((cand, -scores))[:want]
        return [(int(cand[j]), float(scores[j])) for j in order]

    def get_scores(self, terms: list[int]) -> np.ndarray:
        """Dense scores for every slot, one term per query token (rank_bm25's API)."""
        out = np.zeros(self.slots)
        for t in terms:
            if not (0 <= t < self.vocabulary_size) or not self.dfs[t]:
                continue
            for i, seg in enumerate(self.segments):
                lo, hi = seg.span(t)
                if lo == hi:
                    continue
                docs = np.asarray(seg.docs[lo:hi])
                tf = np.asarray(seg.tfs[lo:hi], dtype=np.float64)
                out[docs + self.bases[i]] += self.idf[t] * self._tf_part(i, docs, tf)
        return out


def _round_up(values: np.ndarray) -> np.ndarray:
    """float32 never below the double it stands for."""
    single = values.astype(np.float32)
    low = single.astype(np.float64) < values
    single[low] = np.nextafter(single[low], np.float32(np.inf))
    return single


def build_postings(
    flat_terms: np.ndarray,
    passage_offsets: np.ndarray,
    vocabulary_size: int,
    passage_ids: np.ndarray | None = None,
) -> Postings:
    """One in-memory segment from a forward index, as a whole generation's postings (tests,
    the bench, small tools); the build writes segments through storage/segments.py."""
    n = len(passage_offsets) - 1
    ids = np.arange(n, dtype=np.int64) if passage_ids is None else passage_ids
    seg = invert("mem", flat_terms, passage_offsets, ids, vocabulary_size, K1, B)
    return Postings([seg], vocabulary_size=vocabulary_size)
