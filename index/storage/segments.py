"""Segment files: one immutable directory per segment, shared by every generation using it.

`shirabe.db.gen/segments/000007-000/` holds a segment's arrays as raw little-endian files
(so a merge can append to them term range by term range, never holding a whole segment in
memory) and `segment.json` with their lengths. A segment is written into `<name>.tmp/`,
fsynced and renamed into place before any generation refers to it; readers map the files
read-only. Deletions never touch a segment: they live in the generation (`generation.py`).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from index.retrieval.segment import MergedHead, MergedRange, Segment

FORMAT = 1
META = "segment.json"
ARRAYS: dict[str, tuple[str, type]] = {  # Segment field -> (file, dtype)
    "passage_ids": ("passage_ids.i64", np.int64),
    "doc_len": ("doc_len.i32", np.int32),
    "offsets": ("offsets.i64", np.int64),
    "docs": ("docs.i32", np.int32),
    "tfs": ("tfs.u16", np.uint16),
    "block_offsets": ("block_offsets.i64", np.int64),
    "block_max": ("block_max.f32", np.float32),
}


class SegmentFiles:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def __str__(self) -> str:
        return str(self.directory)

    def path(self, field: str) -> Path:
        """An array by its Segment field name, or `META`."""
        return self.directory / (ARRAYS[field][0] if field in ARRAYS else field)

    # ---- writing ---------------------------------------------------------------------
    def save(self, seg: Segment) -> None:
        """Write an in-memory segment whole."""
        with _Writer(self.directory) as w:
            for field in ARRAYS:
                w.append(field, getattr(seg, field))
            w.finish(seg.avgdl)
        seg.stored = True

    def save_merged(self, head: MergedHead, ranges: Iterator[MergedRange]) -> None:
        """Write a merged segment as its term ranges arrive (memory: one range)."""
        offsets, block_offsets = [np.zeros(1, np.int64)], [np.zeros(1, np.int64)]
        with _Writer(self.directory) as w:
            w.append("passage_ids", head.passage_ids)
            w.append("doc_len", head.doc_len)
            for r in ranges:
                w.append("docs", r.docs)
                w.append("tfs", r.tfs)
                w.append("block_max", r.block_max)
                offsets.append(offsets[-1][-1] + np.cumsum(r.counts))
                block_offsets.append(block_offsets[-1][-1] + np.cumsum(r.block_counts))
            w.append("offsets", np.concatenate(offsets))
            w.append("block_offsets", np.concatenate(block_offsets))
            w.finish(head.avgdl)

    # ---- reading ---------------------------------------------------------------------
    def load(self) -> Segment:
        """Map the segment; ValueError when files are missing, truncated or inconsistent."""
        try:
            meta = json.loads(self.path(META).read_text())
            if not isinstance(meta, dict) or meta.get("format") != FORMAT:
                raise ValueError(f"{META} is not a segment manifest of format {FORMAT}")
            arrays = {
                f: _map(self.path(f), dtype, int(meta[f])) for f, (_, dtype) in ARRAYS.items()
            }
            avgdl = float(meta["avgdl"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"index segment {self} is missing or unreadable: {exc}") from exc
        seg = Segment(name=self.directory.name, avgdl=avgdl, stored=True, **arrays)
        if not _consistent(seg):
            raise ValueError(f"index segment {self} does not match itself")
        return seg


class _Writer:
    """Appends arrays to a segment's `.tmp` directory; `finish` fsyncs and renames it."""

    def __init__(self, directory: Path) -> None:
        self.final = directory
        self.tmp = directory.with_name(directory.name + ".tmp")
        self.lengths = dict.fromkeys(ARRAYS, 0)
        self.handles: dict[str, object] = {}

    def __enter__(self) -> _Writer:
        if self.tmp.exists():
            shutil.rmtree(self.tmp)
        self.tmp.mkdir(parents=True)
        for field, (name, _) in ARRAYS.items():
            self.handles[field] = open(self.tmp / name, "wb")  # noqa: SIM115 - closed in __exit__
        return self

    def append(self, field: str, array: np.ndarray) -> None:
        dtype = np.dtype(ARRAYS[field][1]).newbyteorder("<")
        data = np.ascontiguousarray(array, dtype=dtype)
        self.handles[field].write(data.tobytes())
        self.lengths[field] += len(data)

    def finish(self, avgdl: float) -> None:
        for handle in self.handles.values():
            handle.flush()
            os.fsync(handle.fileno())
        meta = {"format": FORMAT, "avgdl": avgdl, **self.lengths}
        with open(self.tmp / META, "w") as fh:
            fh.write(json.dumps(meta))
            fh.flush()
            os.fsync(fh.fileno())
        if self.final.exists():
            shutil.rmtree(self.final)
        os.rename(self.tmp, self.final)
        _fsync_dir(self.final.parent)

    def __exit__(self, *exc) -> None:
        for handle in self.handles.values():
            handle.close()
        if self.tmp.exists():
            shutil.rmtree(self.tmp, ignore_errors=True)


def _map(path: Path, dtype: type, length: int) -> np.ndarray:
    """A read-only map of a raw array file that must hold exactly `length` items."""
    itemsize = np.dtype(dtype).itemsize
    size = path.stat().st_size
    if size != length * itemsize:
        raise ValueError(f"{path.name} holds {size} bytes, not {length} × {itemsize}")
    if length == 0:
        return np.zeros(0, dtype=dtype)
    mapped = np.memmap(path, dtype=np.dtype(dtype).newbyteorder("<"), mode="r", shape=(length,))
    # A plain ndarray over the same map: np.memmap's slicing costs microseconds a call, and
    # a question slices a few dozen times.
    return mapped.view(np.ndarray)


def _consistent(seg: Segment) -> bool:
    offsets, blocks = seg.offsets, seg.block_offsets
    return (
        len(seg.passage_ids) == len(seg.doc_len)
        and len(offsets) >= 1
        and len(blocks) == len(offsets)
        and int(offsets[0]) == 0
        and int(offsets[-1]) == len(seg.docs) == len(seg.tfs)
        and int(blocks[-1]) == len(seg.block_max)
    )


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
