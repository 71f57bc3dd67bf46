"""The files of one index generation: the one place their names are spelled.

A generation is a directory beside the database (`shirabe.db.gen/000007/`) holding the
manifest of its segments (which immutable segments of `shirabe.db.gen/segments/` it uses,
see `segments.py`), a deletion mask per segment that lost passages, BM25's document
frequencies over the live passages. A build
writes new segments first, then the generation into `000007.tmp/`, fsyncs it, and renames the
directory into place before the SQLite commit that makes the generation live; readers map
everything read-only. Engine, build, bench and tests all go through `GenerationFiles`, so a
file's name or format changes in one place.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from index.retrieval import bm25
from index.storage.segments import SegmentFiles

POSTINGS_META = "postings.json"  # BM25 parameters, sizes and the segments used
DFS = "df.npy"  # int64 document frequency per term over the live passages
SEGMENTS = "segments"  # the directory of segments, beside the generations


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
        """One of the files named above."""
        return self.directory / name

    # ---- writing ---------------------------------------------------------------------
    def scratch(self) -> GenerationFiles:
        """The directory a build writes this generation into, emptied."""
        tmp = GenerationFiles(self.directory.with_name(self.directory.name + ".tmp"))
        if tmp.directory.exists():
            shutil.rmtree(tmp.directory)
        tmp.directory.mkdir(parents=True)
        return tmp

    def segment(self, name: str) -> SegmentFiles:
        return SegmentFiles(self.directory.parent / SEGMENTS / name)

    def deletion_mask(self, name: str) -> Path:
        return self.directory / f"deleted-{name}.npy"

    def save_postings(self, postings: bm25.Postings) -> None:
        """The manifest, deletion masks and frequencies (and any segment not yet on disk),
        fsynced so a rename publishes them whole."""
        listed = []
        for seg, deleted in zip(postings.segments, postings.deleted, strict=True):
            if not seg.stored:
                self.segment(seg.name).save(seg)
            if deleted is not None:
                _save_array(self.deletion_mask(seg.name), np.asarray(deleted, dtype=bool))
            dead = 0 if deleted is None else int(np.count_nonzero(deleted))
            listed.append({"name": seg.name, "passages": seg.n, "deleted": dead})
        _save_array(self.path(DFS), postings.dfs)
        meta = {
            "format": bm25.FORMAT,
            "k1": postings.k1,
            "b": postings.b,
            "epsilon": postings.epsilon,
            "n": postings.n,
            "slots": postings.slots,
            "vocabulary": postings.vocabulary_size,
            "segments": listed,
        }
        _write_synced(self.path(POSTINGS_META), json.dumps(meta))

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
    def manifest(self) -> dict:
        """The generation's manifest; ValueError when missing or not one."""
        try:
            meta = json.loads(self.path(POSTINGS_META).read_text())
        except (OSError, ValueError) as exc:
            raise ValueError(f"index arrays in {self} are missing or unreadable: {exc}") from exc
        if not isinstance(meta, dict) or meta.get("format") != bm25.FORMAT:
            raise ValueError(
                f"index arrays in {self} are unreadable: not a manifest of format {bm25.FORMAT}"
            )
        return meta

    def segment_names(self) -> list[str]:
        """The segments this generation uses ([] when its manifest is unreadable)."""
        try:
            return [str(s["name"]) for s in self.manifest()["segments"]]
        except (ValueError, KeyError, TypeError):
            return []

    def load_postings(self) -> bm25.Postings:
        """Map the segments and read the masks; ValueError when anything is missing or the
        pieces do not fit together (a torn or foreign generation is refused, not scored)."""
        meta = self.manifest()
        try:
            segments, masks = [], []
            for entry in meta["segments"]:
                seg = self.segment(str(entry["name"])).load()
                mask = None
                if int(entry["deleted"]):
                    mask = np.load(self.deletion_mask(seg.name))
                    if mask.dtype != bool or len(mask) != seg.n:
                        raise ValueError(f"the deletion mask of {seg.name} does not match it")
                if seg.n != int(entry["passages"]):
                    raise ValueError(f"segment {seg.name} does not match the manifest")
                segments.append(seg)
                masks.append(mask)
            dfs = np.load(self.path(DFS))
            vocabulary = int(meta["vocabulary"])
            params = {key: float(meta[key]) for key in ("k1", "b", "epsilon")}
        except (OSError, KeyError, TypeError) as exc:
            raise ValueError(f"index arrays in {self} are missing or unreadable: {exc}") from exc
        if len(dfs) != vocabulary or any(s.vocabulary_size > vocabulary for s in segments):
            raise ValueError(f"index arrays in {self} do not match each other")
        postings = bm25.Postings(segments, masks, dfs, vocabulary, **params)
        if postings.n != int(meta["n"]) or postings.slots != int(meta["slots"]):
            raise ValueError(f"index arrays in {self} do not match each other")
        return postings

    def load_passage_ids(self) -> np.ndarray:
        """passages.id of every slot, in slot order (ValueError as load_postings)."""
        return self.load_postings().passage_ids


def remove_stale(db_path: Path, keep: int) -> None:
    """Delete generation directories other than `keep`, and segments it does not use
    (orphans of killed builds included)."""
    root = generations_dir(db_path)
    if not root.is_dir():
        return
    kept = GenerationFiles.of(db_path, keep)
    for child in root.iterdir():
        if child.name not in (kept.directory.name, SEGMENTS):
            shutil.rmtree(child, ignore_errors=True)
    segments = root / SEGMENTS
    if segments.is_dir():
        used = set(kept.segment_names())
        for child in segments.iterdir():
            if child.name not in used:
                shutil.rmtree(child, ignore_errors=True)


def _save_array(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as fh:
        np.save(fh, array)
        fh.flush()
        os.fsync(fh.fileno())


def _write_synced(path: Path, text: str) -> None:
    with open(path, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
