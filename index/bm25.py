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

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

K1 = 1.5
B = 0.75
EPSILON = 0.25
FORMAT = 1


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
    tfs: np.ndarray  # float32[P]: term frequency in that passage
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
        self._local = threading.local()

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
            (self.docs[self.offsets[t] : self.offsets[t + 1]], self.tfs[self.offsets[t] : self.offsets[t + 1]])
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

    def _scratch(self) -> np.ndarray:
        """A per-thread dense accumulator, zeroed again after each query (only touched cells)."""
        acc = getattr(self._local, "acc", None)
        if acc is None or len(acc) != self.n:
            acc = np.zeros(self.n, dtype=np.float64)
            self._local.acc = acc
        return acc

    def score_groups(
        self, groups: list[list[int]], weights: list[float] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(touched passages, their scores); passages no group touches score 0."""
        acc = self._scratch()
        touched: list[np.ndarray] = []
        for i, terms in enumerate(groups):
            docs, contrib = self.contributions(terms)
            if len(docs) == 0:
                continue
            if weights is not None:
                contrib = contrib * weights[i]
            acc[docs] += contrib
            touched.append(docs)
        if not touched:
            return np.zeros(0, np.int32), np.zeros(0)
        cand = touched[0] if len(touched) == 1 else np.unique(np.concatenate(touched))
        scores = acc[cand].copy()
        acc[cand] = 0.0
        return cand, scores

    def top_k(
        self, groups: list[list[int]], k: int, weights: list[float] | None = None, offset: int = 0
    ) -> list[tuple[int, float]]:
        """The best passages as (passage index, score), ties broken by passage order."""
        cand, scores = self.score_groups(groups, weights)
        want = k + offset
        if len(cand) == 0 or want <= 0:
            return []
        if len(cand) > want:
            part = np.argpartition(-scores, want - 1)[:want]
            cand, scores = cand[part], scores[part]
        order = np.lexsort((cand, -scores))[offset:want]
        return [(int(cand[i]), float(scores[i])) for i in order]

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
    return Postings(doc_len=doc_len, offsets=offsets, docs=docs, tfs=counts.astype(np.float32))


ARRAYS = ("doc_len", "offsets", "docs", "tfs")


def save_postings(postings: Postings, directory: Path) -> None:
    """Write the arrays and fsync them, so a later rename publishes complete files."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in ARRAYS:
        path = directory / f"{name}.npy"
        with open(path, "wb") as fh:
            np.save(fh, getattr(postings, name))
            fh.flush()
            os.fsync(fh.fileno())
    meta = {"format": FORMAT, "k1": postings.k1, "b": postings.b, "epsilon": postings.epsilon,
            "n": postings.n, "vocabulary": postings.vocabulary_size}
    (directory / "postings.json").write_text(json.dumps(meta))


def load_postings(directory: Path, mmap: bool = True) -> Postings:
    """Map a generation's arrays; raises ValueError when they are missing or inconsistent."""
    try:
        meta = json.loads((directory / "postings.json").read_text())
        arrays = {
            name: np.load(directory / f"{name}.npy", mmap_mode="r" if mmap else None)
            for name in ARRAYS
        }
    except (OSError, ValueError) as exc:
        raise ValueError(f"index arrays in {directory} are missing or unreadable: {exc}") from exc
    if (
        meta.get("format") != FORMAT
        or len(arrays["doc_len"]) != meta["n"]
        or len(arrays["offsets"]) != meta["vocabulary"] + 1
        or len(arrays["docs"]) != len(arrays["tfs"])
        or (len(arrays["offsets"]) and int(arrays["offsets"][-1]) != len(arrays["docs"]))
    ):
        raise ValueError(f"index arrays in {directory} do not match each other")
    return Postings(**arrays, k1=meta["k1"], b=meta["b"], epsilon=meta["epsilon"])
