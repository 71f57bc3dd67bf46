"""Writing changed documents: tokenizing workers in, passage rows out, memory flat.

Changed files stream through the tokenizing workers (processes when there is much to do) with
a bounded number of batches in flight, so memory stays flat however large the corpus; each
finished batch is mapped onto the global vocabulary and written as document and passage rows
(uncommitted: the build commits them with the generation's `meta`).
"""

from __future__ import annotations

import asyncio
import os
from collections import deque
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context

import aiosqlite
import numpy as np

from index.errors import BuildFailed
from index.models import Document
from index.storage import queries
from index.storage.analyse import AnalysedBatch, analyse_batch
from index.storage.faults import fault
from index.storage.scan import ChangeScan

# Above this many bytes to tokenize, worker processes pay for their start-up.
PARALLEL_CHARS = 2_000_000


class DocumentWriter:
    def __init__(self, db: aiosqlite.Connection, generation: int, scan: ChangeScan) -> None:
        self.db = db
        self.generation = generation
        self.scan = scan
        self.report = scan.report

    async def write(self, changed: list, catalog: dict) -> None:
        """Tokenize and store the changed files (the scan's (file, size) pairs)."""
        if not changed:
            return
        vocab = await queries.vocabulary(self.db)
        total = sum(size for _, size in changed)
        workers = os.cpu_count() or 1
        parallel = total > PARALLEL_CHARS and workers > 1
        executor: Executor = (
            ProcessPoolExecutor(workers, mp_context=get_context("spawn"))
            if parallel
            else ThreadPoolExecutor(1)
        )
        loop = asyncio.get_running_loop()
        in_flight: deque = deque()
        done_bytes = 0
        try:
            batches = self.scan.batches(changed, catalog)
            # Reading and decoding a batch is CPU work too: a thread.
            while (batch := await asyncio.to_thread(next, batches, None)) is not None:
                texts = [d.text for d in batch]
                in_flight.append((batch, loop.run_in_executor(executor, analyse_batch, texts)))
                while len(in_flight) > (2 * workers if parallel else 1):
                    done_bytes += await self._store(in_flight.popleft(), vocab)
                    self._tokenized(done_bytes, total)
                    fault("mid_tokenize")
            while in_flight:
                done_bytes += await self._store(in_flight.popleft(), vocab)
                self._tokenized(done_bytes, total)
                fault("mid_tokenize")
        except BrokenProcessPool as exc:
            raise BuildFailed(
                "a tokenizing worker process died (killed, or out of memory?); the previous "
                "index is still live: run the build again, with more memory if it recurs"
            ) from exc
        finally:
            executor.shutdown(wait=False, cancel_futures=True)
            _discard(in_flight)
        self._tokenized(total, total)

    def _tokenized(self, done: int, total: int) -> None:
        self.scan.progress(done, total, "bytes", passages=self.report.passages_tokenized)

    async def _store(self, item, vocab: dict[str, int]) -> int:
        """One finished batch as rows; returns its size in bytes (for progress)."""
        batch, future = item
        analysed: AnalysedBatch = await future
        new_terms = [t for t in analysed.terms if t not in vocab]
        if new_terms:
            base = len(vocab)
            await queries.add_terms(self.db, base, new_terms)
            vocab.update({t: base + i for i, t in enumerate(new_terms)})
        lookup = np.array([vocab[t] for t in analysed.terms], dtype=np.int32)
        global_ids = lookup[analysed.term_ids] if len(lookup) else analysed.term_ids
        pos = 0
        for doc, passages in zip(batch, analysed.passages, strict=True):
            rows = []
            for p in passages:
                blob = global_ids[pos : pos + p.n_terms].tobytes()
                pos += p.n_terms
                text = doc.text[p.start : p.end]
                rows.append((p.ordinal, p.start, p.end, p.line_start, p.line_end, text, blob))
            await self._insert(doc, rows)
            self.report.passages_tokenized += len(rows)
        return sum(len(d.text.encode("utf-8")) for d in batch)

    async def _insert(self, doc: Document, rows: list) -> None:
        old = self.scan.live.get(doc.path)
        if old:
            self.report.changed += 1
            await queries.retire(self.db, self.generation, [old[0]])
        else:
            self.report.added += 1
        await queries.add_document(self.db, doc, self.generation, rows)


def _discard(in_flight: deque) -> None:
    """Cancel batches still in flight after a failure, and mark their errors as seen: a dead
    worker fails every pending future, and asyncio would log each one's traceback."""
    for _, future in in_flight:
        if not future.cancel() and not future.cancelled():
            future.exception()
    in_flight.clear()
