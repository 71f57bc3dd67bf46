"""Publishing a generation: its BM25 arrays (and passage vectors) written beside the database
and renamed into place, still before the commit that makes it live."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import aiosqlite
import numpy as np

from index.errors import EmptyCorpus
from index.models import ReindexReport
from index.retrieval import bm25, semantic
from index.storage import queries, vectors
from index.storage.generation import GenerationFiles

Progress = Callable[..., None]


class Publisher:
    def __init__(
        self,
        db: aiosqlite.Connection,
        db_path: Path,
        report: ReindexReport,
        progress: Progress,
        want_vectors: bool | None,
    ) -> None:
        self.db = db
        self.db_path = db_path
        self.report = report
        self.progress = progress
        self.want_vectors = want_vectors

    async def publish(self, generation: int, corpus: Path) -> np.ndarray:
        """Invert the live passages' term ids into the generation's arrays, then rename the
        finished directory into place. Returns the passage order."""
        passage_ids = await queries.live_passage_ids(self.db)
        self.report.documents = await queries.count_live_documents(self.db)
        if not len(passage_ids):
            raise EmptyCorpus(
                f"the corpus at {corpus} has no indexable text; the previous index was kept"
            )
        vocabulary_size = await queries.vocabulary_size(self.db)
        self.report.passages = len(passage_ids)
        target = GenerationFiles.of(self.db_path, generation)
        previous = GenerationFiles.of(self.db_path, generation - 1)
        postings = await self._updated(previous, passage_ids, vocabulary_size)
        if postings is None:  # no usable previous generation, or most passages are new
            postings = await self._inverted(vocabulary_size)
        scratch = target.scratch()
        await asyncio.to_thread(scratch.save_postings, postings, passage_ids)
        if vectors.wanted(self.want_vectors, len(passage_ids)):
            await self._vectors(scratch, previous, passage_ids)
        await asyncio.to_thread(scratch.publish_as, target)
        return passage_ids

    async def _updated(
        self, previous: GenerationFiles, passage_ids: np.ndarray, vocabulary: int
    ) -> bm25.Postings | None:
        """The previous generation's postings updated with only the new passages' terms,
        when there is one to update and it is not mostly replaced."""
        try:
            old = await asyncio.to_thread(previous.load_postings)
            old_ids = previous.load_passage_ids(mmap=False)
        except ValueError:
            return None
        if len(old_ids) != old.n or old.vocabulary_size > vocabulary:
            return None
        new = np.setdiff1d(passage_ids, old_ids, assume_unique=True)
        if len(new) > len(passage_ids) // 2:
            return None
        added: dict[int, np.ndarray] = {}
        for start in range(0, len(new), 10_000):
            chunk = [int(i) for i in new[start : start + 10_000]]
            added.update(await queries.term_ids_of(self.db, chunk))
        return await asyncio.to_thread(
            bm25.update_postings, old, old_ids, passage_ids, added, vocabulary
        )

    async def _inverted(self, vocabulary: int) -> bm25.Postings:
        """All live passages' term ids inverted from scratch."""
        blobs = await queries.live_term_blobs(self.db)
        return await asyncio.to_thread(_invert, blobs, vocabulary)

    async def _vectors(
        self, scratch: GenerationFiles, previous: GenerationFiles, passage_ids: np.ndarray
    ) -> None:
        """Passage vectors for re-ranking, reusing the live generation's rows."""
        carried = None
        try:
            old_ids = previous.load_passage_ids(mmap=False)
            loaded = previous.load_vectors(rows=len(old_ids))
            if loaded is not None:
                carried = (old_ids, loaded[0], loaded[1])
        except ValueError:
            carried = None  # nothing usable to carry over: encode everything
        texts = await queries.live_passage_texts(self.db)
        self.report.passages_encoded = await asyncio.to_thread(
            vectors.build,
            scratch,
            passage_ids,
            carried,
            lambda ids: [texts[int(i)] for i in ids],
            self.progress,
        )
        self.report.vector_model = semantic.Encoder.load().name


def _invert(blobs: list[bytes], vocabulary_size: int) -> bm25.Postings:
    lengths = np.fromiter((len(b) // 4 for b in blobs), dtype=np.int64, count=len(blobs))
    offsets = np.zeros(len(blobs) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    flat = np.frombuffer(b"".join(blobs), dtype=np.int32)
    return bm25.build_postings(flat, offsets, vocabulary_size)
