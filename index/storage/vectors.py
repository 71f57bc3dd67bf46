"""Passage vectors of an index generation: carried over when unchanged, encoded when new.

Encoding costs about 6 ms a passage on this class of machine, so a rebuild must never
re-encode what it already has: vectors are stored per generation, in passage order, next to
the BM25 arrays (`vectors.npy`, float16) with `vectors.json` naming the model, and the next
build copies the rows of passages that survived by passage id.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from index.retrieval import semantic

FILE = "vectors.npy"
MANIFEST = "vectors.json"
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


def load(directory: Path, rows: int) -> tuple[np.ndarray, str] | None:
    """(vectors, model name) of a generation, None when it has none; ValueError when the
    manifest promises vectors that are missing or do not fit the generation."""
    manifest = directory / MANIFEST
    if not manifest.exists():
        return None
    try:
        meta = json.loads(manifest.read_text())
        vectors = np.load(directory / FILE, mmap_mode="r")
    except (OSError, ValueError) as exc:
        raise ValueError(
            f"passage vectors in {directory} are missing or unreadable: {exc}"
        ) from exc
    if vectors.ndim != 2 or len(vectors) != rows or vectors.shape[1] != meta.get("dim"):
        raise ValueError(f"passage vectors in {directory} do not match the passages")
    return vectors, str(meta.get("model", ""))


def build(
    directory: Path,
    passage_ids: np.ndarray,
    previous: tuple[np.ndarray, np.ndarray, str] | None,
    texts: Texts,
    progress: Progress,
) -> int:
    """Write the vectors of `passage_ids` into `directory`; returns how many were encoded.

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
    _save(directory, out, encoder)
    return len(todo)


def _save(directory: Path, vectors: np.ndarray, encoder: semantic.Encoder) -> None:
    with open(directory / FILE, "wb") as fh:
        np.save(fh, vectors)
        fh.flush()
        os.fsync(fh.fileno())
    manifest = {"model": encoder.name, "dim": encoder.dim, "rows": len(vectors)}
    (directory / MANIFEST).write_text(json.dumps(manifest))
