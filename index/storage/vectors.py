"""Passage vectors of an index generation: carried over when unchanged, encoded when new.

Encoding costs about 6 ms a passage on this class of machine, so a rebuild must never
re-encode what it already has: vectors are stored per generation, in passage order, next to
the BM25 arrays (float16, see `GenerationFiles`) with a manifest naming the model, and the
next build copies the rows of passages that survived by passage id.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from index.retrieval import semantic
from index.storage.generation import GenerationFiles

# Above this many passages vectors are not built unless asked for (`--rerank`): at about
# 170 passages/s a million passages would take well over an hour on two cores.
AUTO_LIMIT = 50_000

Texts = Callable[[np.ndarray], list[str]]  # passage ids -> their texts, in that order
Progress = Callable[..., None]


def wanted(requested: bool | None, passages: int) -> bool:
    """Whether this build computes vectors: always when asked, never when refused, and by
    default when the encoder is installed and the corpus is small enough."""
    if requested is not None:
        return requested
    return passages <= AUTO_LIMIT and semantic.available()


def build(
    files: GenerationFiles,
    passage_ids: np.ndarray,
    previous: tuple[np.ndarray, np.ndarray, str] | None,
    texts: Texts,
    progress: Progress,
) -> int:
    """Write the vectors of `passage_ids` into `files`; returns how many were encoded.

    `previous` is (passage ids, vectors, model) of the live generation, reused row by row
    when its model is the current one.
    """
    encoder = semantic.Encoder.load()
    out = np.zeros((len(passage_ids), encoder.dim), dtype=semantic.STORAGE_DTYPE)
    missing = np.ones(len(passage_ids), dtype=bool)
    if previous is not None and previous[2] == encoder.name and len(previous[0]):
        prev_ids, prev_vectors, _ = previous
        order = np.argsort(prev_ids)
        pos = np.searchsorted(prev_ids[order], passage_ids)
        pos[pos == len(prev_ids)] = 0
        found = prev_ids[order][pos] == passage_ids
        out[found] = prev_vectors[order[pos[found]]]
        missing = ~found
    todo = np.flatnonzero(missing)
    for start in range(0, len(todo), semantic.BATCH * 8):
        chunk = todo[start : start + semantic.BATCH * 8]
        out[chunk] = semantic.quantize(encoder.encode(texts(passage_ids[chunk])))
        progress(start + len(chunk), len(todo), "passages encoded")
    files.save_vectors(out, encoder.name)
    return len(todo)
