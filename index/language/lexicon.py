"""English -> Japanese corpus terms: the hand-kept glossary first, then JMdict's headwords
reduced to corpus terms, each candidate scored (lower is better) and chosen within a gap of
the best one the corpus has.

Where the alternatives come from, in order of trust: a small hand-kept glossary of news
vocabulary (`index/data/glossary_en_ja.tsv`), for the words where JMdict's ranking favours
an everyday sense (talks -> 協議 / 会談, not 話); JMdict (`index.language.jmdict`): English
glosses -> Japanese headwords, ranked at build time by JMdict's priority tags and sense
order, then tokenized here with the corpus tokenizer and kept only if the corpus has the
resulting term; transliterated names (`index.language.names`) for words JMdict lacks.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from index.language.lemmas import PARTICLES, STOP_WORDS, lemmatize
from index.language.tokenize import tokenize

if TYPE_CHECKING:  # pragma: no cover - import for type checkers only
    from index.language.names import NameIndex

_KANJI = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff々〆ヶ]")
_KATAKANA_TERM = re.compile(r"[\u30a1-\u30fa\u30fc・]{3,}\Z")

# A JMdict alternative further than this behind the best one the corpus has is dropped:
# "president" keeps 大統領 (0.0) and 議長 (0.12) but not 代表 (from 代表取締役, 1.46).
MAX_GAP = 0.6

# Light verbs and bare nouns that JMdict lists under many English words (occupy -> 取る,
# announce -> 出る, summit -> 上) but that match half the corpus: they count only as the
# best translation and a main sense of the word (take -> 取る, hand -> 手).
GENERIC_MAX_SCORE = 0.3
GENERIC_TERMS = frozenset(
    """取る 出る 入る 持つ 付く 掛ける 立つ 出す 置く 向く 当たる 回る 上げる 付ける
    引く 切る 受ける 乗る 通る 出来る 遣る 上 下 中 間 端 方 手 物事 人間""".split()
)


# The pool a word's alternatives are chosen from: each key's candidates up to this far
# behind its best. The dictionary keeps those within MAX_GAP of the best; the corpus-aware
# choice (index.language.translate_select) may add others from the pool.
POOL_GAP = 1.2
POOL_SIZE = 12


GLOSSARY_PATH = Path(__file__).resolve().parent.parent / "data" / "glossary_en_ja.tsv"

# (corpus term, score, compound): a translation candidate; lower scores are better.
Scored = tuple[str, float, bool]


def glossary_key(english: str) -> str:
    """The look-up key of a glossary line: a word as written, or a phrase lemmatized like
    JMdict's phrase keys (death toll, state of emergency -> state emergency, broke out ->
    break out)."""
    words = english.lower().split()
    if len(words) == 2 and words[1] in PARTICLES:
        return f"{lemmatize(words[0])} {words[1]}"
    if len(words) == 1:
        return words[0]
    return " ".join(lemmatize(w) for w in words if w not in STOP_WORDS)


@lru_cache(maxsize=4)
def glossary(path: Path = GLOSSARY_PATH) -> dict[str, tuple[str, ...]]:
    """The hand-kept news glossary (`index/data/glossary_en_ja.tsv`): key -> headwords."""
    table: dict[str, tuple[str, ...]] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return table
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        english, _, japanese = line.partition("\t")
        key = glossary_key(english)
        if key and japanese.split():
            table[key] = tuple(japanese.split())
    return table


def scored(
    keys: Iterable[str], has_term: Callable[[str], bool], compounds: bool = True
) -> list[Scored]:
    """Candidate corpus terms for English keys, best first: each key's candidates within
    POOL_GAP of that key's best, at most POOL_SIZE of them.

    The glossary comes first: the first key it lists with a headword the corpus has gives
    the candidates (in the glossary's order, all as whole words). Otherwise JMdict's
    headwords are reduced to corpus terms with `headword_term`, each term at its best score
    over the keys.
    """
    from index.language import jmdict

    keys = list(dict.fromkeys(keys))
    entries = glossary()
    for key in keys:
        found: dict[str, Scored] = {}
        for rank, headword in enumerate(entries.get(key, ())):
            got = headword_term(headword)
            if got is not None and got[0] not in found and has_term(got[0]):
                found[got[0]] = (got[0], rank / 100, False)
        if found:
            return list(found.values())
    looked = [jmdict.lookup_scored(key) for key in keys]
    compound_forms = {hw for items in looked for hw, _ in items if len(_pieces(hw)) > 1}
    shared = Counter(
        piece for hw in compound_forms for piece in set(_pieces(hw)) if _specific(piece)
    )
    best: dict[str, tuple[float, bool]] = {}
    pooled: set[str] = set()
    for items in looked:
        # Each key's own best candidates enter the pool, so that "talks" (協議, 会談, far
        # down JMdict's list) competes with "talk" (話) once the corpus is asked.
        mine: dict[str, float] = {}
        for headword, score in items:
            got = headword_term(headword)
            if got is None:
                continue
            term, compound = got
            if compound and not compounds:
                continue
            if compound:
                term = _shared_piece(headword, shared, len(compound_forms)) or term
            if term in mine or not has_term(term):
                continue
            mine[term] = score
            old = best.get(term)
            if old is None or score < old[0]:
                best[term] = (score, compound)
        if mine:
            # Within reach of the key's best sense, in the corpus or not: "bread" is パン,
            # and a piece of a far-down compound (一時 at 2.43) is no translation of it.
            reach = min(items[0][1], min(mine.values())) + POOL_GAP
            near = sorted((t for t in mine if mine[t] <= reach), key=mine.__getitem__)
            pooled.update(near[:POOL_SIZE])
    ranked = sorted(pooled, key=lambda t: (best[t][0], t))
    return [(t, best[t][0], best[t][1]) for t in ranked]


def select(pool: list[Scored]) -> list[str]:
    """The alternatives the dictionary keeps from a candidate pool, best first.

    Kept: candidates within MAX_GAP of the best; pieces of compounds only while fewer than
    two whole-word translations are kept (so "detain" keeps 拘束 from 身柄を拘束する, but
    "president" does not take 委員 from 委員長); a generic term only as the best candidate
    and a main sense of the word.
    """
    if not pool:
        return []
    ranked = sorted(pool, key=lambda c: (c[1], c[0]))
    best = ranked[0][1]
    near = [c for c in ranked if c[1] <= best + MAX_GAP]
    singles = sum(1 for _, _, compound in near if not compound)
    out = []
    for rank, (term, score, compound) in enumerate(near):
        if compound and singles >= 2:
            continue
        if term in GENERIC_TERMS and not (rank == 0 and score <= GENERIC_MAX_SCORE):
            continue
        out.append(term)
    return out


def _specific(term: str) -> int:
    """How specific a piece of a compound headword is: kanji compounds and long katakana."""
    kanji = len(_KANJI.findall(term))
    if kanji >= 2 and kanji == len(term):
        return 10 + kanji
    if _KATAKANA_TERM.match(term):
        return 10 + len(term) // 2
    return 0


@lru_cache(maxsize=65536)
def headword_term(headword: str) -> tuple[str, bool] | None:
    """The corpus term a JMdict headword stands for, and whether it was a compound.

    A headword that tokenizes to one term is that term (引き止める, 議長). A compound
    (身柄を拘束する -> 身柄 + 拘束, 安全保障理事会 -> 安全 + 保障 + 理事会) is reduced to its most
    specific piece -- the longest all-kanji (>= 2) or katakana (>= 3) term, the last one on a
    tie because Japanese compounds and verb phrases are head-final -- since one group holds
    single terms only; pieces like 置く or する say too little and make the headword skipped.
    Callers rank compounds below single-term headwords.
    """
    terms = tokenize(headword)
    if not terms:
        return None
    if len(terms) == 1:
        return terms[0], False
    best = max(range(len(terms)), key=lambda i: (_specific(terms[i]), i))
    if _specific(terms[best]) == 0:
        return None
    return terms[best], True


@lru_cache(maxsize=65536)
def _pieces(headword: str) -> tuple[str, ...]:
    return tuple(tokenize(headword))


def _shared_piece(headword: str, shared: Counter[str], compounds: int) -> str | None:
    """The piece of a compound headword that most of the key's compound headwords share.

    "Russian" is glossed by ロシア語, ロシア文字, ロシア軍隊, ロシア革命: their most specific
    pieces (文字, 革命) stand for the glosses' other words, while the piece they all have,
    ロシア, is the key's own meaning. A piece counts when at least three headwords and half
    of the key's compounds have it (和平 in 和平交渉 and 和平会談 is a modifier of "talks",
    not its meaning). None when no piece is shared that widely.
    """
    pieces = _pieces(headword)
    need = max(3, (compounds + 1) // 2)
    common = [i for i, p in enumerate(pieces) if _specific(p) and shared[p] >= need]
    if not common:
        return None
    return pieces[max(common, key=lambda i: (shared[pieces[i]], _specific(pieces[i]), i))]


def agent_verb(noun: str) -> str | None:
    """The verb or activity an agent noun is made from (protester -> protest, peacekeeper ->
    peacekeeping), if JMdict or the glossary knows it."""
    from index.language import jmdict

    if len(noun) < 6 or not noun.endswith(("er", "or", "ist")):
        return None
    stem = noun[:-3] if noun.endswith("ist") else noun[:-2]
    doubled = stem[:-1] if stem[-1:] == stem[-2:-1] else ""
    for cand in (stem, stem + "e", doubled, stem + "ing", doubled and stem + "ing"):
        if len(cand) >= 4 and (jmdict.lookup_scored(cand) or cand in glossary()):
            return cand
    return None


def name_matches(w: str, keys: list[str], names: NameIndex | None) -> list[str]:
    """Katakana corpus terms that `w` transliterates.

    Sound alone cannot tell a name from an English word (core ~ コレ, passion ~ パシヤン), so
    a word JMdict knows only takes a name match that is a spelling variant of one of its
    own leading katakana headwords (sultan: JMdict サルタン, corpus スルタン); a word JMdict
    does not know (tokayev, almaty) is taken to be a name.
    """
    if names is None or len(w) < 3:
        return []
    found = names.match(w)
    if not found:
        return []
    from index.language import jmdict
    from index.language.names import spelling_variants

    known = [item for key in keys for item in jmdict.lookup_scored(key)]
    if not known:
        return found
    best = min(score for _, score in known)
    katakana = [hw for hw, score in known if score <= best + MAX_GAP and _KATAKANA_TERM.match(hw)]
    return [t for t in found if any(spelling_variants(k, t) for k in katakana)]
