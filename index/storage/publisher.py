"""Publishing a generation: new segments for new passages, deletion masks for removed ones,
merges by the tiered policy, and the manifest renamed into place before the commit that makes
it live.

Nothing here is proportional to the corpus except a full build, and that streams: passages
are inverted CHUNK at a time into segments, and merges run term range by term range. A build
that changes one file writes one small segment, a mask per segment that lost passages, and
document frequencies updated from the changed passages' terms alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiosqlite
import numpy as np

from index.errors import EmptyCorpus
from index.models import ReindexReport
from index.retrieval import bm25
from index.retrieval.segment import Segment, invert, merge, plan_merges
from index.storage import queries
from index.storage.faults import fault
from index.storage.generation import GenerationFiles

Progress = Callable[..., None]
CHUNK = 1_000_000  # passages inverted at once in a full build (about 1 GB at its peak)


@dataclass
class Layout:
    """The segments of the generation being built, with deletion masks and frequencies."""

    segments: list[Segment] = field(default_factory=list)
    deleted: list[np.ndarray | None] = field(default_factory=list)
    dfs: np.ndarray | None = None

    def live(self) -> list[int]:
        return [s.n - _dead(m) for s, m in zip(self.segments, self.deleted, strict=True)]

    def dead(self) -> list[int]:
        return [_dead(m) for m in self.deleted]


class Publisher:
    def __init__(
        self,
        db: aiosqlite.Connection,
        db_path: Path,
        report: ReindexReport,
        progress: Progress,
    ) -> None:
        self.db = db
        self.db_path = db_path
        self.report = report
        self.progress = progress
        self._named = 0

    async def publish(self, generation: int, corpus: Path, previous_live: int) -> int:
        """Write the generation's segments and manifest, then rename its directory into
        place. `previous_live` is the live passage count the database recorded for the
        previous generation. Returns how many passages are live."""
        self.report.documents = await queries.count_live_documents(self.db)
        vocabulary = await queries.vocabulary_size(self.db)
        self.generation = generation
        target = GenerationFiles.of(self.db_path, generation)
        previous = GenerationFiles.of(self.db_path, generation - 1)
        layout = await self._carry(previous, previous_live, vocabulary)
        if layout is None:  # no usable previous generation, or most of it is gone
            layout = Layout()
            await self._invert_all(layout, vocabulary)
        live = sum(layout.live())
        if not live:
            raise EmptyCorpus(
                f"the corpus at {corpus} has no indexable text; the previous index was kept"
            )
        self.report.passages = live
        fault("mid_publish")
        await asyncio.to_thread(self._merge, layout, vocabulary)
        postings = bm25.Postings(layout.segments, layout.deleted, layout.dfs, vocabulary)
        scratch = target.scratch()
        await asyncio.to_thread(scratch.save_postings, postings)
        await asyncio.to_thread(scratch.publish_as, target)
        return live

    def _name(self) -> str:
        self._named += 1
        return f"{self.generation:06d}-{self._named - 1:03d}"

    async def _carry(
        self, previous: GenerationFiles, previous_live: int, vocabulary: int
    ) -> Layout | None:
        """The previous generation's segments with this build's removals masked, plus
        segments of the passages this build added; None when there is no usable previous
        generation, when it is not the one the database recorded, or when most of it is gone
        (then everything is inverted anew).

        Only the changed passages are read: never every live id of a huge corpus, nor a
        count over the documents table (its rows hold whole texts: gigabytes to read)."""
        try:
            old = await asyncio.to_thread(previous.load_postings)
        except ValueError:
            return None
        removed = await queries.passage_ids_retired(self.db, self.generation)
        added = await queries.passage_ids_added(self.db, self.generation)
        if old.vocabulary_size > vocabulary or old.n != previous_live:
            return None
        if len(removed) * 2 > old.n:
            return None
        layout = await asyncio.to_thread(_masked, old, removed)
        if layout is None:
            return None
        await self._invert_some(layout, added, removed, vocabulary)
        return layout

    async def _invert_all(self, layout: Layout, vocabulary: int) -> None:
        """Every live passage, CHUNK at a time, in index order (the one step that reads
        every id; the passages' terms stream)."""
        layout.dfs = np.zeros(vocabulary, dtype=np.int64)
        ids = await queries.live_passage_ids(self.db)
        start = 0
        async for blobs in queries.live_term_blobs(self.db, CHUNK):
            chunk_ids = ids[start : start + len(blobs)]
            start += len(blobs)
            seg = await asyncio.to_thread(self._segment, blobs, chunk_ids, vocabulary)
            _add_df(layout.dfs, seg)
            layout.segments.append(seg)
            layout.deleted.append(None)

    async def _invert_some(
        self, layout: Layout, new_ids: np.ndarray, removed: np.ndarray, vocabulary: int
    ) -> None:
        """The new passages as segments; frequencies moved by the new and removed passages."""
        dfs = np.zeros(vocabulary, dtype=np.int64)
        dfs[: len(layout.dfs)] = layout.dfs
        for start in range(0, len(removed), 10_000):
            chunk = [int(i) for i in removed[start : start + 10_000]]
            terms = await queries.term_ids_of(self.db, chunk)
            dfs -= _distinct_counts(terms.values(), vocabulary)
        for start in range(0, len(new_ids), CHUNK):
            chunk_ids = new_ids[start : start + CHUNK]
            blobs: list[bytes] = []
            for at in range(0, len(chunk_ids), 10_000):
                part = [int(i) for i in chunk_ids[at : at + 10_000]]
                terms = await queries.term_ids_of(self.db, part)
                blobs.extend(terms[i].tobytes() for i in part)
            seg = await asyncio.to_thread(self._segment, blobs, chunk_ids, vocabulary)
            _add_df(dfs, seg)
            layout.segments.append(seg)
            layout.deleted.append(None)
        layout.dfs = dfs

    def _segment(self, blobs: list[bytes], ids: np.ndarray, vocabulary: int) -> Segment:
        """Invert and store one chunk; the returned segment is the mapped files."""
        lengths = np.fromiter((len(b) // 4 for b in blobs), dtype=np.int64, count=len(blobs))
        offsets = np.zeros(len(blobs) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        flat = np.frombuffer(b"".join(blobs), dtype=np.int32)
        target = GenerationFiles.of(self.db_path, self.generation)
        return stored_segment(target, self._name(), flat, offsets, ids, vocabulary)

    def _merge(self, layout: Layout, vocabulary: int) -> None:
        target = GenerationFiles.of(self.db_path, self.generation)
        self.report.segments_merged += merge_layout(layout, vocabulary, target, self._name)


def stored_segment(
    target: GenerationFiles,
    name: str,
    flat: np.ndarray,
    offsets: np.ndarray,
    ids: np.ndarray,
    vocabulary: int,
) -> Segment:
    """Invert a chunk of passages into a segment on disk; returns it mapped."""
    seg = invert(name, flat, offsets, ids, vocabulary, bm25.K1, bm25.B)
    files = target.segment(seg.name)
    files.save(seg)
    return files.load()


def merge_layout(
    layout: Layout, vocabulary: int, target: GenerationFiles, name: Callable[[], str]
) -> int:
    """Merge what the tiered policy asks for, last range first (indexes stay valid);
    returns how many segments were merged away."""
    merged = 0
    for start, end in reversed(plan_merges(layout.live(), layout.dead())):
        parts = list(zip(layout.segments[start:end], layout.deleted[start:end], strict=True))
        head, ranges = merge(parts, vocabulary, bm25.K1, bm25.B)
        files = target.segment(name())
        files.save_merged(head, ranges)
        layout.segments[start:end] = [files.load()]
        layout.deleted[start:end] = [None]
        merged += end - start
    return merged


def build_segments(
    directory: Path, flat: np.ndarray, offsets: np.ndarray, vocabulary: int
) -> bm25.Postings:
    """A whole generation at `directory` from a forward index (passage i's terms are
    flat[offsets[i]:offsets[i+1]], its id i), chunked and merged as a full build does: the
    bench times it as shirabe's indexing of given tokens."""
    target = GenerationFiles(directory)
    target.directory.mkdir(parents=True, exist_ok=True)
    counter = iter(range(1_000_000))

    def name() -> str:
        return f"{directory.name}-{next(counter):03d}"

    layout = Layout(dfs=np.zeros(vocabulary, dtype=np.int64))
    n = len(offsets) - 1
    for start in range(0, n, CHUNK):
        stop = min(start + CHUNK, n)
        lo, hi = int(offsets[start]), int(offsets[stop])
        ids = np.arange(start, stop, dtype=np.int64)
        seg = stored_segment(
            target, name(), flat[lo:hi], offsets[start : stop + 1] - lo, ids, vocabulary
        )
        _add_df(layout.dfs, seg)
        layout.segments.append(seg)
        layout.deleted.append(None)
    merge_layout(layout, vocabulary, target, name)
    postings = bm25.Postings(layout.segments, layout.deleted, layout.dfs, vocabulary)
    target.save_postings(postings)
    return postings


def _masked(old: bm25.Postings, removed: np.ndarray) -> Layout | None:
    """The old segments with `removed` passages masked (a segment left with no live
    passage is dropped); None when a removed passage is not live in them (the previous
    generation does not match the database). Runs in a thread."""
    slots = np.flatnonzero(np.isin(old.passage_ids, removed))
    layout = Layout(dfs=np.asarray(old.dfs))
    masked = 0
    for i, seg in enumerate(old.segments):
        lo, hi = old.bases[i], old.bases[i + 1]
        here = slots[(slots >= lo) & (slots < hi)] - lo
        before = old.deleted[i]
        mask = np.zeros(seg.n, bool) if before is None else before.copy()
        masked += int(np.count_nonzero(~mask[here]))
        mask[here] = True
        if mask.all():
            continue  # nothing of it is live any more
        layout.segments.append(seg)
        layout.deleted.append(mask if mask.any() else None)
    return layout if masked == len(removed) else None


def _add_df(dfs: np.ndarray, seg: Segment) -> None:
    counts = np.diff(np.asarray(seg.offsets))
    dfs[: len(counts)] += counts


def _distinct_counts(term_lists, vocabulary: int) -> np.ndarray:
    """How many of the passages hold each term (each passage counted once per term)."""
    lists = [np.unique(t) for t in term_lists]
    flat = np.concatenate(lists) if lists else np.zeros(0, np.int64)
    return np.bincount(flat, minlength=vocabulary).astype(np.int64)


def _dead(mask: np.ndarray | None) -> int:
    return 0 if mask is None else int(np.count_nonzero(mask))
