"""Okapi BM25 over compact postings, with exactly rank_bm25.BM25Okapi's scores.

rank_bm25 scores every passage for every query in Python; that cannot serve a million
passages. Here a query touches only the postings of its own terms:

    idf(t)   = ln(N - df + 0.5) - ln(df + 0.5), floored at epsilon * mean idf when negative
    score(d) = Σ_t idf(t) · tf(t,d) · (k1 + 1) / (tf(t,d) + k1 · (1 - b + b · |d| / avgdl))

A query term may be a *group* of alternative terms (an English word's translations): the
group counts as one term whose tf is the sum over its alternatives and whose df is the number
of passages holding any of them, so a word with twelve translations weighs like one word.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

try:  # the compiled MaxScore kernel (setup.py); the NumPy path gives the same results
    from index.retrieval import _topk
except ImportError:  # pragma: no cover - depends on the install
    _topk = None

K1 = 1.5
B = 0.75
EPSILON = 0.25
FORMAT = 2


def idf_of(df: np.ndarray | int, n: int) -> np.ndarray:
    """rank_bm25's raw idf, before the epsilon floor."""
    df = np.asarray(df, dtype=np.float64)
    return np.log(n - df + 0.5) - np.log(df + 0.5)


@dataclass
class Postings:
    """The inverted index of one generation. Arrays may be memory-mapped files."""

    doc_len: np.ndarray  # int32[N]: tokens per passage
    offsets: np.ndarray  # int64[V+1]: postings of term t are [offsets[t], offsets[t+1])
    docs: np.ndarray  # int32[P]: passage index, ascending within a term
    tfs: np.ndarray  # uint16[P]: term frequency in that passage
    impacts: np.ndarray | None = None  # float32[P]: the posting's score contribution
    max_impact: np.ndarray | None = None  # float32[V]: a term's largest contribution
    k1: float = K1
    b: float = B
    epsilon: float = EPSILON

    def __post_init__(self) -> None:
        n = len(self.doc_len)
        self.n = n
        self.avgdl = float(self.doc_len.sum(dtype=np.int64)) / n if n else 0.0
        df = np.diff(self.offsets)
        raw = idf_of(df, n)
        present = df > 0
        # rank_bm25 averages over the terms it has seen, i.e. those with df > 0.
        self.average_idf = float(raw[present].sum() / present.sum()) if present.any() else 0.0
        self.eps_idf = self.epsilon * self.average_idf
        self.idf = np.where(present, np.where(raw < 0, self.eps_idf, raw), 0.0)
        # The per-passage length normalisation, computed once instead of per posting.
        if n:
            self.norm = self.k1 * (1 - self.b + self.b * self.doc_len / self.avgdl)
        else:
            self.norm = np.zeros(0)
        if self.impacts is None or self.max_impact is None:
            self.impacts, self.max_impact = self._impacts()
        self._local = threading.local()

    def _impacts(self) -> tuple[np.ndarray, np.ndarray]:
        """Every posting's contribution, precomputed once per generation in one vectorized
        pass: a query then gathers instead of computing, and each term's maximum is the
        upper bound dynamic pruning needs."""
        df = np.diff(self.offsets)
        term_of = np.repeat(np.arange(len(df), dtype=np.int32), df)
        tf = self.tfs.astype(np.float64)
        impacts = self.idf[term_of] * (tf * (self.k1 + 1) / (tf + self.norm[self.docs]))
        impacts = impacts.astype(np.float32)
        max_impact = np.zeros(len(df), dtype=np.float32)
        if len(impacts):
            starts = self.offsets[:-1][df > 0]
            max_impact[df > 0] = np.maximum.reduceat(impacts, starts)
        return impacts, max_impact

    @property
    def vocabulary_size(self) -> int:
        return len(self.offsets) - 1

    def df(self, term: int) -> int:
        if term < 0 or term >= self.vocabulary_size:
            return 0
        return int(self.offsets[term + 1] - self.offsets[term])

    def group_idf(self, df: int) -> float:
        if df == 0:
            return 0.0
        raw = float(idf_of(df, self.n))
        return self.eps_idf if raw < 0 else raw

    def _group(self, terms: list[int]) -> tuple[np.ndarray, np.ndarray, float]:
        """(passages, summed tf, idf) of a group of alternative terms."""
        parts = [
            (
                self.docs[self.offsets[t] : self.offsets[t + 1]],
                self.tfs[self.offsets[t] : self.offsets[t + 1]],
            )
            for t in dict.fromkeys(terms)
            if 0 <= t < self.vocabulary_size and self.offsets[t + 1] > self.offsets[t]
        ]
        if not parts:
            return np.zeros(0, np.int32), np.zeros(0, np.float32), 0.0
        if len(parts) == 1:
            docs, tfs = parts[0]
            term = next(t for t in terms if 0 <= t < self.vocabulary_size and self.df(t))
            return np.asarray(docs), np.asarray(tfs, dtype=np.float64), float(self.idf[term])
        docs = np.concatenate([p[0] for p in parts])
        tfs = np.concatenate([p[1] for p in parts]).astype(np.float64)
        uniq, inverse = np.unique(docs, return_inverse=True)
        summed = np.bincount(inverse, weights=tfs, minlength=len(uniq))
        return uniq.astype(np.int32), summed, self.group_idf(len(uniq))

    def contributions(self, terms: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """(passages, score contribution) of one query group."""
        docs, tf, idf = self._group(terms)
        if len(docs) == 0 or idf == 0.0:
            return docs[:0], np.zeros(0)
        return docs, idf * (tf * (self.k1 + 1) / (tf + self.norm[docs]))

    def _scratch(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-thread dense accumulator and seen-mask, reset after each query (only the cells
        it touched), so a query never pays for a pass over all N passages."""
        local = self._local
        if getattr(local, "n", -1) != self.n:
            local.acc = np.zeros(self.n, dtype=np.float64)
            local.seen = np.zeros(self.n, dtype=bool)
            local.n = self.n
        return local.acc, local.seen

    def _approximate(self, terms: list[int]) -> tuple[np.ndarray, np.ndarray, float]:
        """(passages, float32 contributions, upper bound) of a group, from the impacts."""
        terms = [t for t in dict.fromkeys(terms) if 0 <= t < self.vocabulary_size and self.df(t)]
        if len(terms) == 1:
            t = terms[0]
            lo, hi = self.offsets[t], self.offsets[t + 1]
            return self.docs[lo:hi], self.impacts[lo:hi], float(self.max_impact[t])
        docs, contrib = self.contributions(terms)
        return docs, contrib, float(contrib.max()) if len(contrib) else 0.0

    def top_k(
        self, groups: list[list[int]], k: int, weights: list[float] | None = None, offset: int = 0
    ) -> list[tuple[int, float]]:
        """The best passages as (passage index, exact score), ties broken by passage order.

        MaxScore-style pruning, vectorized: groups are accumulated rarest first; once the
        k-th best partial score exceeds what all remaining groups together could add, no
        untouched passage can enter the top k, and the remaining (frequent) groups are only
        looked up for the passages already touched. Selection uses float32 impacts; the
        survivors are rescored exactly in float64, so returned scores equal rank_bm25's.
        """
        want = k + offset
        if want <= 0:
            return []
        weights = weights or [1.0] * len(groups)
        if _topk is not None and self.n:
            return self._top_k_compiled(groups, want, weights)[offset:]
        parts = [(*self._approximate(g), w) for g, w in zip(groups, weights, strict=True)]
        parts = [p for p in parts if len(p[0])]
        if not parts:
            return []
        parts.sort(key=lambda p: len(p[0]))
        acc, seen = self._scratch()
        touched: list[np.ndarray] = []
        remaining_bound = sum(p[2] * p[3] for p in parts)
        i = 0
        try:
            while i < len(parts):
                docs, contrib, bound, w = parts[i]
                acc[docs] += contrib * w if w != 1.0 else contrib
                fresh = docs[~seen[docs]]
                seen[fresh] = True
                touched.append(fresh)
                remaining_bound -= bound * w
                i += 1
                if i < len(parts) and self._can_prune(acc, touched, want, remaining_bound):
                    break
            cand = np.concatenate(touched) if len(touched) > 1 else touched[0]
            for docs, contrib, _, w in parts[i:]:
                self._add_lookup(acc, seen, cand, docs, contrib, w)
            scores = acc[cand]
            margin = want + 10
            if len(cand) > margin:
                keep = np.argpartition(-scores, margin - 1)[:margin]
                cand = cand[keep]
        finally:
            for t in touched:
                acc[t] = 0.0
                seen[t] = False
        cand = np.sort(cand)  # exact lookups below use binary search
        exact = self._exact_scores(cand, groups, weights)
        order = np.lexsort((cand, -exact))[offset:want]
        return [(int(cand[j]), float(exact[j])) for j in order]

    def _top_k_compiled(
        self, groups: list[list[int]], want: int, weights: list[float]
    ) -> list[tuple[int, float]]:
        lists = []
        for terms, w in zip(groups, weights, strict=True):
            terms = [
                t for t in dict.fromkeys(terms) if 0 <= t < self.vocabulary_size and self.df(t)
            ]
            if not terms or w == 0:
                continue
            if len(terms) == 1:
                t = terms[0]
                lo, hi = self.offsets[t], self.offsets[t + 1]
                docs, tfs = self.docs[lo:hi], self.tfs[lo:hi]
                idf, bound = float(self.idf[t]), float(self.max_impact[t])
            else:
                docs, tfs, idf = self._group(terms)
                tfs = np.minimum(tfs, np.iinfo(np.uint16).max).astype(np.uint16)
                bound = float((idf * tfs * (self.k1 + 1) / (tfs + self.norm[docs])).max())
            # A bound slightly above the float32 maximum keeps pruning exact.
            bound = abs(bound * w) * (1 + 1e-5) + 1e-9
            lists.append(
                (
                    np.ascontiguousarray(docs, np.int32),
                    np.ascontiguousarray(tfs, np.uint16),
                    idf,
                    w,
                    bound,
                )
            )
        if not lists:
            return []
        norm = np.ascontiguousarray(self.norm, dtype=np.float64)
        docs_b, scores_b = _topk.topk(lists, norm, self.k1, want)
        docs = np.frombuffer(docs_b, dtype=np.int32)
        scores = np.frombuffer(scores_b, dtype=np.float64)
        return [(int(d), float(s)) for d, s in zip(docs, scores, strict=True)]

    @staticmethod
    def _can_prune(acc: np.ndarray, touched: list[np.ndarray], want: int, bound: float) -> bool:
        seen_count = sum(len(t) for t in touched)
        if seen_count < want:
            return False
        cand = np.concatenate(touched) if len(touched) > 1 else touched[0]
        kth = np.partition(acc[cand], seen_count - want)[seen_count - want]
        return bool(kth > bound * (1 + 1e-5) + 1e-9)

    @staticmethod
    def _add_lookup(
        acc: np.ndarray,
        seen: np.ndarray,
        cand: np.ndarray,
        docs: np.ndarray,
        contrib: np.ndarray,
        w: float,
    ) -> None:
        """Add a group's contributions to the candidate passages only."""
        if len(cand) * 16 < len(docs):
            pos = np.searchsorted(docs, cand)
            pos[pos == len(docs)] = 0
            hit = docs[pos] == cand
            acc[cand[hit]] += contrib[pos[hit]] * w
        else:
            mask = seen[docs]  # a scan beats lookups when the candidates are many
            acc[docs[mask]] += contrib[mask] * w

    def _exact_scores(
        self, cand: np.ndarray, groups: list[list[int]], weights: list[float]
    ) -> np.ndarray:
        """float64 scores of a few (sorted) passages, summed in query order as rank_bm25 does."""
        out = np.zeros(len(cand))
        for g, w in zip(groups, weights, strict=True):
            docs, contrib = self.contributions(g) if len(g) > 1 else self._term_exact(g, cand)
            if len(docs) == 0:
                continue
            pos = np.searchsorted(docs, cand)
            pos[pos == len(docs)] = 0
            hit = docs[pos] == cand
            out[hit] += contrib[pos[hit]] * w
        return out

    def _term_exact(self, g: list[int], cand: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Exact contributions of one term, computed only at the candidates' postings."""
        if not g or not (0 <= g[0] < self.vocabulary_size) or not self.df(g[0]):
            return np.zeros(0, np.int32), np.zeros(0)
        t = g[0]
        lo, hi = self.offsets[t], self.offsets[t + 1]
        docs = self.docs[lo:hi]
        pos = np.searchsorted(docs, cand)
        pos[pos == len(docs)] = 0
        hit = docs[pos] == cand
        sel_docs = docs[pos[hit]]
        tf = self.tfs[lo:hi][pos[hit]].astype(np.float64)
        contrib = self.idf[t] * (tf * (self.k1 + 1) / (tf + self.norm[sel_docs]))
        return sel_docs, contrib

    def get_scores(self, terms: list[int]) -> np.ndarray:
        """Dense scores for every passage, one term per query token (rank_bm25's API)."""
        out = np.zeros(self.n)
        for t in terms:
            docs, contrib = self.contributions([t])
            out[docs] += contrib
        return out


def build_postings(
    flat_terms: np.ndarray, passage_offsets: np.ndarray, vocabulary_size: int
) -> Postings:
    """Invert a forward index (terms of passage i are flat_terms[po[i]:po[i+1]]).

    One vectorized sort of (term, passage) keys: the same pass serves a full build and an
    incremental one, because unchanged passages keep their term ids.
    """
    n = len(passage_offsets) - 1
    doc_len = np.diff(passage_offsets).astype(np.int32)
    passage_of = np.repeat(np.arange(n, dtype=np.int64), doc_len)
    keys = flat_terms.astype(np.int64) * max(n, 1) + passage_of
    uniq, counts = np.unique(keys, return_counts=True)
    terms = uniq // max(n, 1)
    docs = (uniq % max(n, 1)).astype(np.int32)
    offsets = np.zeros(vocabulary_size + 1, dtype=np.int64)
    np.cumsum(np.bincount(terms, minlength=vocabulary_size), out=offsets[1:])
    tfs = np.minimum(counts, np.iinfo(np.uint16).max).astype(np.uint16)
    return Postings(doc_len=doc_len, offsets=offsets, docs=docs, tfs=tfs)


def update_postings(
    old: Postings,
    old_ids: np.ndarray,
    new_ids: np.ndarray,
    added: dict[int, np.ndarray],
    vocabulary_size: int,
) -> Postings | None:
    """The postings of a new generation from the previous one, without re-inverting.

    `old_ids` / `new_ids` are passage ids in each generation's order; `added` holds the
    term ids of every passage that is new. Surviving postings keep their order (passages
    are ordered by document path and position, so removing and inserting documents never
    reorders survivors); the few new ones are merged in by binary search. BM25's global
    statistics then change every impact, which Postings recomputes in one vectorized pass.
    Returns None when the generations do not line up (the caller inverts from scratch).
    """
    n = len(new_ids)
    order = np.argsort(old_ids, kind="stable")
    pos = np.minimum(np.searchsorted(old_ids[order], new_ids), max(len(old_ids) - 1, 0))
    found = old_ids[order][pos] == new_ids if len(old_ids) else np.zeros(n, dtype=bool)
    old_index = order[pos]
    if np.any(np.diff(old_index[found]) <= 0) or (~found).sum() != len(added):
        return None
    new_of_old = np.full(old.n, -1, dtype=np.int64)
    new_of_old[old_index[found]] = np.flatnonzero(found)
    mapped = new_of_old[old.docs]
    keep = mapped >= 0
    df = np.diff(old.offsets)
    terms = np.repeat(np.arange(len(df), dtype=np.int64), df)[keep]
    docs = mapped[keep]
    tfs = np.asarray(old.tfs)[keep]
    add_terms, add_docs, add_tfs, add_len = _invert_added(new_ids, found, added, n)
    keys = terms * n + docs  # ascending: by term, then passage
    at = np.searchsorted(keys, add_terms * n + add_docs)
    terms = np.insert(terms, at, add_terms)
    docs = np.insert(docs, at, add_docs).astype(np.int32)
    tfs = np.insert(tfs, at, add_tfs).astype(np.uint16)
    offsets = np.zeros(vocabulary_size + 1, dtype=np.int64)
    np.cumsum(np.bincount(terms, minlength=vocabulary_size), out=offsets[1:])
    doc_len = np.zeros(n, dtype=np.int32)
    doc_len[found] = np.asarray(old.doc_len)[old_index[found]]
    doc_len[~found] = add_len
    return Postings(
        doc_len=doc_len,
        offsets=offsets,
        docs=docs,
        tfs=tfs,
        k1=old.k1,
        b=old.b,
        epsilon=old.epsilon,
    )


def _invert_added(new_ids, found, added, n):
    """(terms, passages, tfs) postings of the new passages, sorted by term then passage,
    and each new passage's length."""
    positions = np.flatnonzero(~found)
    lists = [np.asarray(added[int(new_ids[p])], dtype=np.int64) for p in positions]
    lengths = np.array([len(t) for t in lists], dtype=np.int32)
    if not lists or not lengths.sum():
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0, dtype=np.uint16), lengths
    flat = np.concatenate(lists)
    passage = np.repeat(positions.astype(np.int64), lengths)
    uniq, counts = np.unique(flat * n + passage, return_counts=True)
    return uniq // n, uniq % n, np.minimum(counts, np.iinfo(np.uint16).max), lengths


ARRAYS = ("doc_len", "offsets", "docs", "tfs", "impacts", "max_impact")


def consistent(arrays: dict[str, np.ndarray], n: int, vocabulary: int) -> bool:
    """Whether loaded arrays fit together and the sizes recorded with them (a torn or
    foreign generation must be refused, not scored)."""
    offsets = arrays["offsets"]
    return (
        len(arrays["doc_len"]) == n
        and len(offsets) == vocabulary + 1
        and len(arrays["docs"]) == len(arrays["tfs"]) == len(arrays["impacts"])
        and len(arrays["max_impact"]) == vocabulary
        and (not len(offsets) or int(offsets[-1]) == len(arrays["docs"]))
    )
