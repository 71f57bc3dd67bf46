"""A deterministic Japanese-like corpus of any size, cached under bench/out/.

Real corpora of 1,000,000 passages cannot be shipped, and the bundled one is 40 KB. What the
benchmark needs from a corpus is what BM25 and the build see: Zipf-like term frequencies over
a large vocabulary (≥ 200,000 types, so postings have a realistic long tail), passages of
realistic length, and text that goes through the real tokenizer. So:

- the head of the vocabulary is the bundled corpus's own nouns, most frequent first;
- the tail is synthetic katakana words, each kept only if `index.language.tokenize.tokenize`
  gives it
  back as exactly one term (UniDic splits some random katakana into known words);
- sentences are nouns joined by particles (は/が/を/に/の/で) ending in です。, and each
  intended passage is one paragraph of 120–300 characters, so `split_passages` turns each
  paragraph into one passage.

Everything is drawn from seeded generators: the same size gives byte-identical files.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.language.tokenize import tokenize, tokenize_spans

SEED = 20240601
VOCABULARY = 250_000  # types, ≥ 200,000 as the issue asks
ZIPF_S = 1.0  # exponent of the rank-frequency law (1.0 is classic Zipf)
PASSAGES_PER_FILE = 1_000
MIN_PARAGRAPH = 120
MAX_PARAGRAPH = 300
PARTICLES = ("は", "が", "を", "に", "の", "で")
GENERATOR_VERSION = "1"  # bump when the output changes, so caches are rebuilt

KANA = list(
    "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワ"
    "ガギグゲゴザジズゼゾダデドバビブベボパピプペポ"
)

ROOT = Path(__file__).resolve().parent
OUT = ROOT / "out"
BUNDLED = ROOT.parent / "corpus"


@dataclass
class CorpusInfo:
    """What was generated, for the results table."""

    size: int
    directory: Path
    files: int
    chars: int
    vocabulary: int
    fresh_words: list[str]  # round-tripping words that never occur (for the rebuild test)


def head_words() -> list[str]:
    """The bundled corpus's nouns that tokenize back to themselves, most frequent first."""
    counts: Counter[str] = Counter()
    for path in sorted(BUNDLED.glob("*.txt")):
        for tok in tokenize_spans(path.read_text(encoding="utf-8")):
            noun = tok.pos.startswith("名詞") and tok.surface == tok.term
            if noun and _kanji_or_katakana(tok.term):
                counts[tok.term] += 1
    words = [w for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    return [w for w in words if round_trips(w)]


def _kanji_or_katakana(word: str) -> bool:
    """Only such words: the generator's particles are hiragana, so paragraphs can be split
    back into their words (see `_intended`), and numerals never merge with neighbours."""
    return all("\u30a1" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff" for ch in word)


def round_trips(word: str) -> bool:
    """True when the word comes back as exactly one term both before a particle and before
    the sentence ending, the two places the generator puts it."""
    return tokenize(word + "は") == [word] and tokenize(word + "です。") == [word]


def synthetic_words(rng: np.random.Generator, n: int, taken: set[str]) -> list[str]:
    """n distinct katakana words of 3–6 morae that survive the tokenizer as one noun."""
    words: list[str] = []
    seen = set(taken)
    while len(words) < n:
        morae = int(rng.integers(3, 7))
        picks = rng.integers(0, len(KANA), size=morae)
        marks = rng.random(morae)
        word = ""
        for i, (p, m) in enumerate(zip(picks, marks, strict=True)):
            word += KANA[p]
            if m < 0.12 and i > 0:
                word += "ー"
            elif m < 0.22:
                word += "ン"
        if word in seen:
            continue
        seen.add(word)
        if round_trips(word):
            words.append(word)
    return words


def vocabulary(extra: int = 16) -> list[str]:
    """VOCABULARY words (head then tail) plus `extra` unused ones; cached on disk because
    checking ~290,000 candidates through the tokenizer takes several seconds."""
    cache = OUT / f"vocabulary-v{GENERATOR_VERSION}-{VOCABULARY}.json"
    if cache.exists():
        return json.loads(cache.read_text(encoding="utf-8"))
    head = head_words()
    rng = np.random.default_rng(SEED)
    tail = synthetic_words(rng, VOCABULARY - len(head) + extra, set(head))
    words = head + tail
    OUT.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(words, ensure_ascii=False), encoding="utf-8")
    return words


def zipf_cdf(n: int, s: float = ZIPF_S) -> np.ndarray:
    """Cumulative probabilities of ranks 1..n under p(r) ∝ r^-s."""
    weights = 1.0 / np.arange(1, n + 1, dtype=np.float64) ** s
    cdf = np.cumsum(weights)
    return cdf / cdf[-1]


def paragraph(rng: np.random.Generator, words: list[str], cdf: np.ndarray) -> str:
    """One passage: sentences of 3–6 nouns joined by particles, 120–300 characters."""
    target = int(rng.integers(MIN_PARAGRAPH, MAX_PARAGRAPH + 1))
    ranks = np.searchsorted(cdf, rng.random(96))
    particles = rng.integers(0, len(PARTICLES), size=96)
    lengths = rng.integers(3, 7, size=24)
    sentences: list[str] = []
    size = 0
    i = 0
    for n in lengths:
        if i + n > len(ranks) or size >= target:
            break
        parts = [words[ranks[i + j]] + PARTICLES[particles[i + j]] for j in range(n - 1)]
        sentence = "".join(parts) + words[ranks[i + n - 1]] + "です。"
        if size >= MIN_PARAGRAPH and size + len(sentence) > MAX_PARAGRAPH + 80:
            break
        sentences.append(sentence)
        size += len(sentence)
        i += n
    return "".join(sentences)


def write_file(
    path: Path, rng: np.random.Generator, words: list[str], cdf: np.ndarray, passages: int
) -> int:
    """Write one file of `passages` paragraphs separated by blank lines; returns chars."""
    text = "\n\n".join(paragraph(rng, words, cdf) for _ in range(passages)) + "\n"
    path.write_text(text, encoding="utf-8")
    return len(text)


def ensure_corpus(size: int) -> CorpusInfo:
    """The corpus of `size` passages under bench/out/corpus-<size>/, generated once."""
    directory = OUT / f"corpus-{size}"
    marker = directory / ".generated.json"
    words = vocabulary()
    fresh = words[VOCABULARY:]
    words = words[:VOCABULARY]
    if marker.exists():
        meta = json.loads(marker.read_text())
        if meta.get("version") == GENERATOR_VERSION:
            return CorpusInfo(size, directory, meta["files"], meta["chars"], len(words), fresh)
    directory.mkdir(parents=True, exist_ok=True)
    cdf = zipf_cdf(len(words))
    chars = 0
    files = 0
    for start in range(0, size, PASSAGES_PER_FILE):
        rng = np.random.default_rng([SEED, start])  # per file: any file can be regenerated
        count = min(PASSAGES_PER_FILE, size - start)
        chars += write_file(
            directory / f"doc{start // PASSAGES_PER_FILE:05d}.txt", rng, words, cdf, count
        )
        files += 1
    marker.write_text(json.dumps({"version": GENERATOR_VERSION, "files": files, "chars": chars}))
    return CorpusInfo(size, directory, files, chars, len(words), fresh)


def fidelity(directory: Path, words: list[str], sample: int = 200) -> dict[str, float]:
    """How well the text tokenizes back into the intended words, on the first file's first
    `sample` paragraphs: share of paragraphs whose terms equal the intended ones exactly,
    and share of intended tokens recovered (multiset overlap)."""
    vocab = set(words)
    text = sorted(directory.glob("*.txt"))[0].read_text(encoding="utf-8")
    exact = 0
    hit = 0
    total = 0
    paragraphs = [p for p in text.split("\n\n") if p.strip()][:sample]
    for para in paragraphs:
        intended = _intended(para, vocab)
        got = tokenize(para)
        exact += got == intended
        overlap = Counter(got) & Counter(intended)
        hit += sum(overlap.values())
        total += len(intended)
    return {"passages_exact": exact / len(paragraphs), "tokens_recovered": hit / max(total, 1)}


def _intended(para: str, vocab: set[str]) -> list[str]:
    """The words the generator put into a paragraph, recovered by splitting at particles
    (generator words never contain hiragana, so this is unambiguous)."""
    out: list[str] = []
    word = ""
    for ch in para.replace("です。", "。"):
        if ch in PARTICLES or ch == "。":
            if word:
                out.append(word)
            word = ""
        else:
            word += ch
    return [w for w in out if w in vocab]
