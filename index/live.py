"""The live index generation: the immutable snapshot every question is answered from."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field

import aiosqlite
import numpy as np

from index.language.names import NameIndex
from index.language.vocabulary import VocabularyIndex
from index.retrieval.bm25 import Postings
from index.storage import queries
from index.storage.generation import GenerationFiles


@dataclass
class Generation:
    """One immutable, published index generation."""

    number: int
    postings: Postings
    passage_ids: np.ndarray  # slot (passage index) -> passages.id
    vocabulary: dict[str, int]  # term -> id, only ids this generation's arrays know
    _names: NameIndex | None = None
    _terms: VocabularyIndex | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def names(self) -> NameIndex:
        """Romanized katakana terms for matching English names, built on first need: a
        Japanese question never pays for it (about 0.5 s at 250,000 terms)."""
        with self._lock:
            if self._names is None:
                self._names = NameIndex.build(self.vocabulary)
            return self._names

    def terms(self) -> VocabularyIndex:
        """The vocabulary searchable by substring, built on first need (see `names`)."""
        with self._lock:
            if self._terms is None:
                self._terms = VocabularyIndex(self.vocabulary)
            return self._terms


class LazyNames:
    """Stands in for the generation's NameIndex until a question needs a name matched."""

    def __init__(self, gen: Generation) -> None:
        self._gen = gen

    def match(self, latin: str, limit: int = 3) -> list[str]:
        return self._gen.names().match(latin, limit)


async def load_generation(
    db: aiosqlite.Connection,
    files: GenerationFiles,
    number: int,
    previous: Generation | None,
) -> Generation:
    """Map a published generation; ValueError when its files are missing or inconsistent.

    Terms are append-only, so only ids beyond the previous generation's vocabulary are read.
    Passage vectors are not part of a generation: see `index.storage.vector_cache`."""
    postings = await asyncio.to_thread(files.load_postings)
    passage_ids = postings.passage_ids
    known = previous.vocabulary if previous else {}
    vocabulary = dict(known)
    vocabulary.update(await queries.terms_between(db, len(known), postings.vocabulary_size))
    return Generation(number, postings, passage_ids, vocabulary)
