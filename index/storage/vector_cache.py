"""Passage vectors for re-ranking, encoded when a question first needs them, then cached.

Builds encode nothing: at ~150 passages/s a million passages would take hours. A re-ranked
question needs the vectors of BM25's head (`Settings.rerank_pool` passages) and the vectors of
the sentences of the shown ones (the decline rule's best sentence similarity); whichever of
those no one has computed yet is encoded there and then (~5 ms for a 220-character passage),
and kept:

- in memory, an LRU bounded in bytes (MEMORY_BYTES), float16 like the store;
- in the store, the `passage_vectors` table (`vector_store`), written in the background, so
  another process and the next start reuse them.

Entries are keyed by passage id within one encoder and checked against a digest of the
passage's text. Passage ids survive across generations for unchanged passages, so a rebuild
keeps the cache; a changed passage has a new id and is encoded when a question reaches it.
Vectors are always used in their stored float16 form, so an answer does not depend on whether
its vectors were just encoded or came from the cache.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiosqlite
import numpy as np

from index.language.passages import split_sentences
from index.retrieval import semantic
from index.storage import vector_store
from index.storage.vector_store import StoredVectors, StoreWriter, text_digest

MEMORY_BYTES = 64 << 20  # ~60,000 passage vectors, or ~6,000 with their sentences'
ENTRY_OVERHEAD = 200  # bytes of Python objects around an entry's arrays, roughly

Passage = tuple[int, str | None]  # passage id and its text (None: the row is gone)


def sentences_of(text: str) -> list[str]:
    """The sentences of a passage whose vectors the decline rule compares, in order."""
    return [text[s:e] for s, e in split_sentences(text) if text[s:e].strip()]


@dataclass
class CacheStats:
    """What the cache did since the engine opened (for the bench and for logs)."""

    cached: int = 0  # passage vectors a question found cached (in memory or the store)
    from_store: int = 0  # ... of them read from the store
    encoded: int = 0  # passage vectors encoded
    sentences_cached: int = 0  # passages whose sentence vectors were found (memory or store)
    sentences_encoded: int = 0  # passages whose sentences were encoded


@dataclass
class _Entry:
    digest: bytes
    vector: np.ndarray | None = None  # (dim,) float16
    sentences: np.ndarray | None = None  # (sentences, dim) float16
    nbytes: int = field(default=ENTRY_OVERHEAD)

    def size(self) -> int:
        parts = (self.vector, self.sentences)
        return ENTRY_OVERHEAD + sum(p.nbytes for p in parts if p is not None)


class VectorCache:
    """The passage and sentence vectors of one encoder: memory, then store, then encoding.

    Thread-safe: the engine's worker threads encode and look up at once; the LRU is guarded
    by one lock, never held while encoding.
    """

    def __init__(
        self, db_path: Path, encoder: semantic.Encoder, memory_bytes: int = MEMORY_BYTES
    ) -> None:
        self.encoder = encoder
        self.model = vector_store.model_key(encoder.name)
        self.memory_bytes = memory_bytes
        self.stats = CacheStats()
        self.writer = StoreWriter(db_path)
        self._entries: OrderedDict[int, _Entry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @classmethod
    def open(cls, db_path: Path, memory_bytes: int = MEMORY_BYTES) -> VectorCache:
        """A cache for the installed encoder, loading it (~1 s the first time: call it from
        a worker thread). EncoderMissing when it is not installed."""
        return cls(db_path, semantic.Encoder.load(), memory_bytes)

    def close(self, wait: float = vector_store.CLOSE_WAIT_S) -> None:
        """Write what is still pending to the store, waiting `wait` seconds at most."""
        self.writer.close(wait)

    # ---- the three steps of a question --------------------------------------------------
    async def fetch(self, db: aiosqlite.Connection, passages: Sequence[Passage]) -> None:
        """Bring the stored vectors of `passages` that memory lacks into memory: one read
        on the engine's connection, before the CPU work on a worker thread."""
        wanted = {}
        with self._lock:
            for pid, text in passages:
                entry = self._entries.get(pid)
                if text is not None and (entry is None or entry.vector is None):
                    wanted[pid] = text
        stored = await vector_store.read(db, self.model, list(wanted), self.encoder.dim)
        for pid, row in stored.items():
            self._adopt(pid, wanted[pid], row)

    def passage_vectors(self, passages: Sequence[Passage]) -> np.ndarray:
        """Unit float32 rows, one per passage (zeros for a passage whose row is gone),
        encoding those not cached."""
        out = np.zeros((len(passages), self.encoder.dim), dtype=np.float32)
        missing: list[tuple[int, int, str]] = []  # (row of out, passage id, text)
        with self._lock:
            for row, (pid, text) in enumerate(passages):
                entry = self._lookup(pid, text)
                if entry is not None and entry.vector is not None:
                    out[row] = entry.vector
                    self.stats.cached += 1
                elif text is not None:
                    missing.append((row, pid, text))
        if missing:
            encoded = semantic.quantize(self.encoder.encode([t for _, _, t in missing]))
            out[[row for row, _, _ in missing]] = encoded
            self.writer.put(
                [
                    self._put(pid, text_digest(text), vector=vector)
                    for (_, pid, text), vector in zip(missing, encoded, strict=True)
                ]
            )
            self.stats.encoded += len(missing)
        return out

    def sentence_vectors(self, passages: Sequence[Passage]) -> np.ndarray:
        """Unit float32 rows for the sentences of `passages`, in order (`sentences_of`),
        encoding those of passages not cached."""
        parts: list[np.ndarray | None] = []
        missing: list[tuple[int, int, str, list[str]]] = []
        with self._lock:
            for pid, text in passages:
                entry = self._lookup(pid, text)
                if entry is not None and entry.sentences is not None:
                    parts.append(entry.sentences)
                    self.stats.sentences_cached += 1
                elif text is not None:
                    missing.append((len(parts), pid, text, sentences_of(text)))
                    parts.append(None)
        if missing:
            flat = [s for *_, sentences in missing for s in sentences]
            encoded = semantic.quantize(self.encoder.encode(flat))
            start, rows = 0, []
            for slot, pid, text, sentences in missing:
                parts[slot] = encoded[start : start + len(sentences)]
                start += len(sentences)
                rows.append(self._put(pid, text_digest(text), sentences=parts[slot]))
            self.writer.put(rows)
            self.stats.sentences_encoded += len(missing)
        found = [p for p in parts if p is not None]
        if not found:
            return np.zeros((0, self.encoder.dim), dtype=np.float32)
        return np.concatenate(found).astype(np.float32)

    # ---- memory -------------------------------------------------------------------------
    def _lookup(self, pid: int, text: str | None) -> _Entry | None:
        """The entry of `pid` when it was made from this text (caller holds the lock)."""
        entry = self._entries.get(pid)
        if entry is None or text is None or entry.digest != text_digest(text):
            return None
        self._entries.move_to_end(pid)
        return entry

    def _adopt(self, pid: int, text: str, row: StoredVectors) -> None:
        """A row read from the store, kept when it is this text's and well-formed."""
        if row.digest != text_digest(text):
            return
        sentences = row.sentences
        if sentences is not None and len(sentences) != len(sentences_of(text)):
            sentences = None
        if row.vector is not None or sentences is not None:
            self._put(pid, row.digest, row.vector, sentences)
            self.stats.from_store += row.vector is not None

    def _put(
        self,
        pid: int,
        digest: bytes,
        vector: np.ndarray | None = None,
        sentences: np.ndarray | None = None,
    ) -> vector_store.Row:
        """Merge into the entry of `pid` (replacing one of another text), evicting the least
        recently used beyond the memory bound; the entry as a row for the store."""
        with self._lock:
            entry = self._entries.pop(pid, None)
            if entry is not None:
                self._bytes -= entry.nbytes
                if entry.digest != digest:
                    entry = None
            entry = entry or _Entry(digest)
            entry.vector = vector if vector is not None else entry.vector
            entry.sentences = sentences if sentences is not None else entry.sentences
            entry.nbytes = entry.size()
            self._entries[pid] = entry
            self._bytes += entry.nbytes
            while self._bytes > self.memory_bytes and len(self._entries) > 1:
                _, old = self._entries.popitem(last=False)
                self._bytes -= old.nbytes
            return (
                self.model,
                pid,
                digest,
                vector_store.to_blob(entry.vector),
                vector_store.to_blob(entry.sentences),
            )
