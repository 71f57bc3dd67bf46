"""Splitting and tokenizing documents: the work a build hands to its worker processes."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

import numpy as np

from index.language.passages import split_passages
from index.language.tokenize import tokenize
from index.storage.faults import WORKER_FAULT, fault

_NEWLINE = re.compile("\n")


@dataclass
class AnalysedPassage:
    ordinal: int
    start: int
    end: int
    line_start: int
    line_end: int
    n_terms: int


@dataclass
class AnalysedBatch:
    """A worker's output for several documents: passage positions, and every term as an
    index into the batch's own small vocabulary, so only distinct terms cross the process
    boundary as strings and the main process maps them to global ids in one vectorized step."""

    passages: list[list[AnalysedPassage]]  # per document
    terms: list[str]  # the batch's distinct terms
    term_ids: np.ndarray  # int32, every passage's terms in order, as indexes into `terms`


def analyse(text: str, local: dict[str, int], out_ids: list[int]) -> list[AnalysedPassage]:
    """Split and tokenize one document, appending its term indexes to `out_ids`."""
    newlines = [m.start() for m in _NEWLINE.finditer(text)]  # not a loop over every char
    passages = []
    for p in split_passages(text):
        terms = tokenize(p.text)
        out_ids.extend(local.setdefault(t, len(local)) for t in terms)
        passages.append(
            AnalysedPassage(
                ordinal=p.ordinal,
                start=p.start,
                end=p.end,
                line_start=bisect.bisect_right(newlines, p.start - 1) + 1,
                line_end=bisect.bisect_right(newlines, p.end - 1) + 1,
                n_terms=len(terms),
            )
        )
    return passages


def analyse_batch(texts: list[str]) -> AnalysedBatch:
    """Runs in a worker process for big builds (a thread for small ones)."""
    fault(WORKER_FAULT)
    local: dict[str, int] = {}
    ids: list[int] = []
    passages = [analyse(t, local, ids) for t in texts]
    return AnalysedBatch(passages, list(local), np.array(ids, dtype=np.int32))
