"""Japanese-aware tokenizing: the one function both the corpus and every question go through.

Terms are UniDic lemmas (dictionary forms) of content words, after NFKC and lower-casing, so
that 発表した / 発表する, ８０００ / 8,000 / 8000 and CSTO / csto meet as the same term.
Spans are kept in the caller's original text so excerpts can mark exactly what matched.
"""

from __future__ import annotations

import functools
import importlib.metadata
import re
import sys
import threading
import unicodedata
from dataclasses import dataclass
from typing import NamedTuple

from index.errors import TokenizerMissing

TOKENIZER_VERSION = "2"

# Parts of speech (UniDic pos1) that carry meaning; particles, auxiliaries, symbols and
# whitespace are dropped.  Pronouns (誰, 何, どこ) are question words, not content.
# Interjections (おはよう, ありがとう) are small talk, not content.
CONTENT_POS = {"名詞", "動詞", "形容詞", "形状詞", "副詞", "接頭辞", "接尾辞", "連体詞"}

# Lemmas so common in Japanese prose that they only add noise to BM25.
STOP_LEMMAS = {
    "為る",
    "成る",
    "有る",
    "居る",
    "事",
    "物",
    "所",
    "為",
    "様",
    "此れ",
    "其れ",
    "彼",
    "れる",
    "られる",
    "せる",
    "させる",
    "的",
    "等",
    "達",
    "さん",
    "くる",
    "来る",
    "行く",
    "言う",
    "思う",
    "見る",
    "出来る",
    "其の",
    "此の",
    "彼の",
    "又",
    "既に",
    "御",
}

# English function words; UniDic tags unknown Latin words as nouns, so they would otherwise
# count as query terms ("the", "of", "is" match nothing useful).
ENGLISH_STOP_WORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom whose why will with would you your yours yourself
    yourselves many much""".split()
)

# The tagger is handed at most this many characters at once: MeCab with unidic-lite crashes
# the whole process (SIGSEGV) on single inputs of a few hundred thousand Japanese characters.
MAX_TAGGER_CHARS = 4000

_DIGIT_COMMA = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_LATIN_OR_CYRILLIC = re.compile(r"[a-z\u0400-\u04ff]")
_PIECE_BREAK = re.compile(r"[。．！？!?\n]")
MAX_RUN_NODES = 4  # a longer katakana run is several words, not one name cut apart
_KATAKANA_RUN = re.compile(r"[\u30a1-\u30fa\u30fc]+")
_KANJI = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff々]")


@dataclass(frozen=True)
class Token:
    """A term and where it came from in the original (un-normalized) text."""

    term: str
    start: int
    end: int
    pos: str  # UniDic pos1-pos2-pos3, for answer-type detection
    surface: str


_local = threading.local()


def _tagger():
    """One tagger per thread: MeCab taggers are not safe to share across threads."""
    tagger = getattr(_local, "tagger", None)
    if tagger is None:
        try:
            import fugashi
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise TokenizerMissing(
                "fugashi is not installed: run `pip install fugashi unidic-lite`"
            ) from exc
        try:
            tagger = fugashi.Tagger()
        except RuntimeError as exc:  # pragma: no cover - depends on the install
            raise TokenizerMissing(
                "fugashi found no dictionary: run `pip install unidic-lite`"
            ) from exc
        _local.tagger = tagger
    return tagger


def dictionary_version() -> str:
    """Recorded in the index so a dictionary upgrade forces a rebuild."""
    try:
        return "unidic-lite " + importlib.metadata.version("unidic-lite")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover
        return "unknown"


@functools.lru_cache(maxsize=65536)
def _normalize_char(ch: str) -> str:
    return unicodedata.normalize("NFKC", ch).lower()


def normalize_with_map(text: str) -> tuple[str, list[int]]:
    """NFKC + lower-case + digit-group commas removed, with a map back to `text`.

    `origin[i]` is the index in `text` of the character that produced normalized char i;
    normalizing character by character is what makes that map exact. Most characters map
    to exactly one, so the map is the identity except where one expands.
    """
    parts = [_normalize_char(ch) for ch in text]
    joined = "".join(parts)
    if len(joined) == len(text):
        origin = list(range(len(text)))
    else:
        origin = [i for i, part in enumerate(parts) for _ in part]
    commas = {m.start() for m in _DIGIT_COMMA.finditer(joined)}
    if commas:
        joined = "".join(ch for i, ch in enumerate(joined) if i not in commas)
        origin = [o for i, o in enumerate(origin) if i not in commas]
    return joined, origin


def normalize(text: str) -> str:
    """The normalized form used for every comparison of terms and evidence strings."""
    return normalize_with_map(text)[0]


def _pieces(text: str) -> list[tuple[int, str]]:
    """Cut text into bounded pieces for the tagger, at sentence ends where possible."""
    pieces: list[tuple[int, str]] = []
    pos = 0
    while pos < len(text):
        end = min(pos + MAX_TAGGER_CHARS, len(text))
        if end < len(text):
            window = text[pos:end]
            breaks = [m.end() for m in _PIECE_BREAK.finditer(window)]
            if breaks and breaks[-1] > MAX_TAGGER_CHARS // 4:
                end = pos + breaks[-1]
        pieces.append((pos, text[pos:end]))
        pos = end
    return pieces


def _term_of(surface: str, feature) -> str | None:
    """The index term for one tagger node, or None for words that carry no content."""
    pos1 = feature.pos1
    if pos1 not in CONTENT_POS:
        return None
    lemma = feature.lemma
    if feature.pos2 == "固有名詞" and _KANJI.search(surface):
        # A proper noun's lemma is its reading (王毅 -> オウキ, 北京 -> ペキン): matching on
        # readings would join unrelated names, so the name is its written form.
        term = surface
    elif lemma and lemma != "*":
        # Loanwords carry their origin after a hyphen (カザフスタン-Kazakhstan).
        term = lemma.split("-", 1)[0] if "-" in lemma[1:] else lemma
        term = unicodedata.normalize("NFKC", term).lower()
    else:
        term = surface
    if not term.strip() or term in STOP_LEMMAS:
        return None
    if pos1 == "動詞" and feature.pos2 == "非自立可能":
        return None
    if _LATIN_OR_CYRILLIC.match(term) and term in ENGLISH_STOP_WORDS:
        return None
    if not any(ch.isalnum() for ch in term):
        return None
    return term


class _NodeInfo(NamedTuple):
    """What the rules decide about one tagger node, from its surface and features alone."""

    tag: str  # UniDic pos1-pos2-pos3
    katakana: bool  # the surface is all katakana: the node joins a katakana run
    term: str | None  # its term on its own (a katakana node: as a run of one node)


def _node_info(surface: str, feature) -> _NodeInfo:
    """The rules for one node (`feature` is fugashi's parsed feature tuple)."""
    tag = sys.intern(f"{feature.pos1}-{feature.pos2}-{feature.pos3}")  # a few hundred tags
    term = _term_of(surface, feature)
    if not _KATAKANA_RUN.fullmatch(surface):
        return _NodeInfo(tag, False, term)
    if term is not None and not _KATAKANA_RUN.fullmatch(term):
        term = surface  # コレ stays コレ: a word written in katakana is searched as written
    return _NodeInfo(tag, True, term)


class _NodeCache:
    """`_node_info` per distinct (surface, raw feature string) of the nodes seen.

    Every rule of a node depends only on those two strings, and text is Zipfian, so most
    nodes are ones seen before: deciding once per pair, instead of building fugashi's feature
    namedtuple and running the rules for every node, is what keeps a build near the tagger's
    own speed. Bounded by two generations: when `hot` is full it becomes `cold` and a new
    `hot` starts; a pair found in `cold` moves back to `hot`, so frequent words stay while
    the long tail is dropped (at most 2 * size pairs, about 300 bytes each).
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.hot: dict[tuple[str, str], _NodeInfo] = {}
        self.cold: dict[tuple[str, str], _NodeInfo] = {}

    def add(self, key: tuple[str, str], node) -> _NodeInfo:
        """A pair not in `hot` (`node` is its fugashi node): its info, now in `hot`."""
        info = self.cold.get(key)
        if info is None:
            info = _node_info(key[0], node.feature)
        if len(self.hot) >= self.size:
            self.cold = self.hot
            self.hot = {}
        self.hot[key] = info
        return info


_node_cache = _NodeCache(32_768)


def _node_terms(piece: str) -> list[tuple[str, int, int, str]]:
    """(term, start, end, pos) for the content words of one normalized piece.

    A run of adjacent katakana nodes is one term, its written form: UniDic splits an unknown
    name differently alone and in context (パシニャン alone is パ + シニャン, inside
    「パシニャン首相」 one word; ブリンケン is ブリン + ケン), so only the whole run makes a
    question's name meet the same name in the documents.
    """
    out: list[tuple[str, int, int, str]] = []
    run: list[tuple[str, int, str, str | None]] = []  # (surface, start, tag, term) so far
    cache = _node_cache
    pos = 0
    for node in _tagger()(piece):
        white_space = node.white_space
        if white_space:
            if run:
                _flush(run, out)
            pos += len(white_space)
        surface = node.surface
        start = pos
        pos += len(surface)
        key = (surface, node.feature_raw)
        info = cache.hot.get(key)
        if info is None:
            info = cache.add(key, node)
        tag, katakana, term = info
        if katakana:
            run.append((surface, start, tag, term))
            continue
        if run:
            _flush(run, out)
        if term is not None:
            out.append((term, start, pos, tag))
    if run:
        _flush(run, out)
    return out


def _flush(
    run: list[tuple[str, int, str, str | None]], out: list[tuple[str, int, int, str]]
) -> None:
    """Append a katakana run's term to `out` (and empty the run): one node keeps the usual
    lemma rules, several are joined by their written forms and tagged as the proper noun
    among them, if any."""
    if len(run) == 1 or len(run) > MAX_RUN_NODES:
        # More than MAX_RUN_NODES is not one name but katakana written without breaks
        # (カザフスタンカザフスタン…): its words are kept as the tagger cut them.
        for surface, start, tag, term in run:
            if term is not None:
                out.append((term, start, start + len(surface), tag))
    else:
        start = run[0][1]
        end = run[-1][1] + len(run[-1][0])
        term = "".join(surface for surface, _, _, _ in run)
        tag = next((t for _, _, t, _ in run if "固有名詞" in t), "名詞-普通名詞-一般")
        out.append((term, start, end, tag))
    run.clear()


def tokenize_spans(text: str) -> list[Token]:
    """Content-word tokens of `text` with spans in `text` itself."""
    if len(text) <= CACHED_SPAN_CHARS:
        return list(_cached_spans(text))
    return _spans(text)


# A question reads the sentences of its shown passages (the verdict) and then excerpts the
# same passages: the second reading is a cache hit. Passages are a few hundred characters.
CACHED_SPAN_CHARS = 2000


@functools.lru_cache(maxsize=512)
def _cached_spans(text: str) -> tuple[Token, ...]:
    return tuple(_spans(text))


def _spans(text: str) -> list[Token]:
    norm, origin = normalize_with_map(text)
    tokens: list[Token] = []
    for base, piece in _pieces(norm):
        for term, start, end, tag in _node_terms(piece):
            s = origin[base + start]
            e = origin[base + end - 1] + 1
            tokens.append(Token(term=term, start=s, end=e, pos=tag, surface=text[s:e]))
    return tokens


def tokenize(text: str) -> list[str]:
    """The terms of `text`, in order, duplicates kept (BM25 counts them).

    The indexing path: the whole text is normalized at once (no offset map), which is what
    keeps a build close to the tagger's own speed. Per-character normalization (the spans
    path) gives the same terms except where NFKC composes across characters (half-width
    ｶﾞ), which only affects which words an excerpt marks.
    """
    norm = _DIGIT_COMMA.sub("", unicodedata.normalize("NFKC", text).lower())
    terms: list[str] = []
    for _, piece in _pieces(norm):
        terms.extend([term for term, _, _, _ in _node_terms(piece)])
    return terms
