"""The files of one index generation: the one place their names are spelled.

A generation is a directory beside the database (`shirabe.db.gen/000007/`) holding the BM25
arrays, the passage order and, when re-ranking is built, the passage vectors. A build writes
them into `000007.tmp/`, fsyncs them, and renames the directory into place before the SQLite
commit that makes the generation live; readers map them read-only. Engine, build, bench and
tests all go through `GenerationFiles`, so a file's name or format changes in one place.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from index.retrieval import bm25

PASSAGE_IDS = "passage_ids.npy"  # passage index -> passages.id
POSTINGS_META = "postings.json"  # BM25 parameters and array sizes
VECTORS = "vectors.npy"  # float16 passage vectors, in passage order
VECTORS_META = "vectors.json"  # the encoder that made them


def generations_dir(db_path: Path) -> Path:
    return db_path.parent / f"{db_path.name}.gen"


class GenerationFiles:
    """One generation's directory (live, or the `.tmp` one a build is writing)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @classmethod
    def of(cls, db_path: Path, number: int) -> GenerationFiles:
        return cls(generations_dir(db_path) / f"{number:06d}")

    def __str__(self) -> str:
        return str(self.directory)

    def path(self, name: str) -> Path:
        """A BM25 array by its `Postings` field name (docs, offsets...), or a file above."""
        return self.directory / (name if "." in name else f"{name}.npy")

    # ---- writing ---------------------------------------------------------------------
    def scratch(self) -> GenerationFiles:
        """The directory a build writes this generation into, emptied."""
        tmp = GenerationFiles(self.directory.with_name(self.directory.name + ".tmp"))
        if tmp.directory.exists():
            shutil.rmtree(tmp.directory)
        tmp.directory.mkdir(parents=True)
        return tmp

    def save_postings(self, postings: bm25.Postings, passage_ids: np.ndarray) -> None:
        """The BM25 arrays and the passage order, fsynced so a rename publishes them whole."""
        for name in bm25.ARRAYS:
            _save_array(self.path(name), getattr(postings, name))
        _save_array(self.path(PASSAGE_IDS), passage_ids)
        meta = {
            "format": bm25.FORMAT,
            "k1": postings.k1,
            "b": postings.b,
            "epsilon": postings.epsilon,
            "n": postings.n,
            "vocabulary": postings.vocabulary_size,
        }
        self.path(POSTINGS_META).write_text(json.dumps(meta))

    def save_vectors(self, vectors: np.ndarray, model: str) -> None:
        _save_array(self.path(VECTORS), vectors)
        meta = {"model": model, "dim": int(vectors.shape[1]), "rows": len(vectors)}
        self.path(VECTORS_META).write_text(json.dumps(meta))

    def publish_as(self, target: GenerationFiles) -> None:
        """Rename this (finished scratch) directory to `target`; the commit that follows
        makes it live."""
        if target.directory.exists():
            shutil.rmtree(target.directory)
        os.rename(self.directory, target.directory)
        dir_fd = os.open(target.directory.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    # ---- reading ---------------------------------------------------------------------
    def load_postings(self, mmap: bool = True) -> bm25.Postings:
        """Map the BM25 arrays; ValueError when they are missing or inconsistent."""
        try:
            meta = json.loads(self.path(POSTINGS_META).read_text())
            if not isinstance(meta, dict):
                raise ValueError(f"{POSTINGS_META} is not an object")
            arrays = {
                name: np.load(self.path(name), mmap_mode="r" if mmap else None)
                for name in bm25.ARRAYS
            }
            params = {key: float(meta[key]) for key in ("k1", "b", "epsilon")}
            consistent = meta["format"] == bm25.FORMAT and bm25.consistent(
                arrays, int(meta["n"]), int(meta["vocabulary"])
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"index arrays in {self} are missing or unreadable: {exc}") from exc
        if not consistent:
            raise ValueError(f"index arrays in {self} do not match each other")
        return bm25.Postings(**arrays, **params)

    def load_passage_ids(self, mmap: bool = True) -> np.ndarray:
        """ValueError when missing (OSError is folded in, as for the arrays)."""
        try:
            return np.load(self.path(PASSAGE_IDS), mmap_mode="r" if mmap else None)
        except (OSError, ValueError) as exc:
            raise ValueError(f"index arrays in {self} are missing: {exc}") from exc

    def load_vectors(self, rows: int | None = None) -> tuple[np.ndarray, str] | None:
        """(vectors, model name), None when the generation has none; ValueError when the
        manifest promises vectors that are missing or do not fit the generation (`rows`
        passages, when given)."""
        manifest = self.path(VECTORS_META)
        if not manifest.exists():
            return None
        try:
            meta = json.loads(manifest.read_text())
            vectors = np.load(self.path(VECTORS), mmap_mode="r")
        except (OSError, ValueError) as exc:
            raise ValueError(f"passage vectors in {self} are missing or unreadable: {exc}") from exc
        rows = len(vectors) if rows is None else rows
        if vectors.ndim != 2 or len(vectors) != rows or vectors.shape[1] != meta.get("dim"):
            raise ValueError(f"passage vectors in {self} do not match the passages")
        return vectors, str(meta.get("model", ""))


def remove_stale(db_path: Path, keep: int) -> None:
    """Delete generation directories other than `keep` (orphans of killed builds included)."""
    root = generations_dir(db_path)
    if not root.is_dir():
        return
    keep_name = GenerationFiles.of(db_path, keep).directory.name
    for child in root.iterdir():
        if child.name != keep_name:
            shutil.rmtree(child, ignore_errors=True)


def _save_array(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as fh:
        np.save(fh, array)
        fh.flush()
        os.fsync(fh.fileno())
