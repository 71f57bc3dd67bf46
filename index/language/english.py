"""English questions over a Japanese corpus: lemmas, stop words, and translation into groups.

The corpus is Japanese but users ask in English ("who chairs CSTO?"). Each English word the
user wrote becomes one `TermGroup`: a small set of alternative corpus terms that BM25 scores
as a single term, so a word with six translations does not outweigh a word with one.

Where the alternatives come from, in order of trust:

* the word itself, when the corpus already contains it as written (csto, nato, lpg);
* adjacent Latin words joined, when the corpus spells a name without the space (sev lake ->
  sevlake);
* a small hand-kept glossary of news vocabulary (`index/data/glossary_en_ja.tsv`), for the
  words where JMdict's ranking favours an everyday sense (talks -> 協議 / 会談, not 話);
* JMdict (`index.language.jmdict`): English glosses -> Japanese headwords, ranked at build time by
  JMdict's priority tags and sense order, then tokenized here with the corpus tokenizer and
  kept only if the corpus has the resulting term;
* transliterated names (`index.language.names`): Kazakhstan -> カザフスタン, Tokayev -> トカエフ.

Phrasal verbs (break out, set up) are read from the question's text, since the tokenizer
drops their particle. Given the index's passages, `index.language.translate_select` then lets the
corpus add a lower-ranked candidate that clearly goes with the question's other words
(deputy defense minister -> 次官). Everything is deterministic, so the display can say
exactly which Japanese words an English word was searched as.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from index.language.tokenize import ENGLISH_STOP_WORDS, tokenize

if TYPE_CHECKING:  # pragma: no cover - import for type checkers only
    from index.language.names import NameIndex
    from index.language.translate_select import Passages
    from index.language.vocabulary import VocabularyIndex

_LATIN_WORD = re.compile(r"[a-z][a-z'\-]*\Z")
_KANJI = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff々〆ヶ]")
_KATAKANA_TERM = re.compile(r"[\u30a1-\u30fa\u30fc・]{3,}\Z")

# Function words and question words. UniDic tags unknown Latin words as common nouns, so
# without this list "the" or "which" would become query terms. The tokenizer already drops
# the most common ones; these are the rest a question tends to carry (auxiliaries, clitics
# left over from "don't", and verbs of asking that say nothing about the answer). "say" is
# here because its Japanese counterpart 言う is a stop lemma of the tokenizer, so JMdict's
# other "say" headwords (例, 同, 辺り) would be all that is left of it.
STOP_WORDS: frozenset[str] = (
    ENGLISH_STOP_WORDS
    | frozenset(
        """also although among amongst another anybody anyone anything anyway anywhere around
    aren became become becomes behind besides beyond cannot couldn d didn doesn
    don done either else elsewhere enough etc even ever every everybody everyone everything
    everywhere explain describe hadn hasn haven however isn it's let ll may maybe might mightn
    mine must mustn near nearly neither never nevertheless next nobody none noone nothing
    nowhere often onto otherwise ours perhaps please rather re really s say says shall shan
    shouldn
    since somebody someone something sometime sometimes somewhere soon still t tell thing
    things though thus together toward towards unless upon us ve via wasn weren whatever
    whenever wherever whether whichever whoever whole whomever whose within without won
    wouldn yes yet""".split()
    )
    | frozenset(
        # Small talk and chat shorthand: greetings, thanks and reactions ask nothing of the
        # documents ("gm" would otherwise be JMdict's guided missile, "like" 同様).
        """hi hello hey yo sup gm gn thanks thank thx ty lol lmao rofl omg bot ok okay bye cheers
    like pls plz""".split()
    )
)

# Irregular forms a rule cannot reach; the values are JMdict gloss words ("to hold" etc.).
# "word:lemma", or a bare word that must stay as it is (news, building, united).
_IRREGULAR = """
was:be were:be is:be are:be am:be been:be being:be has:have had:have having:have did:do
does:do done:do doing:do held:hold led:lead sent:send began:begin begun:begin took:take
taken:take went:go gone:go made:make said:say fought:fight caught:catch brought:bring
thought:think left:leave met:meet won:win lost:lose rose:rise risen:rise fell:fall
fallen:fall broke:break broken:break spoke:speak spoken:speak chose:choose chosen:choose
gave:give given:give told:tell kept:keep built:build sold:sell bought:buy paid:pay
laid:lay stood:stand ran:run came:come became:become saw:see seen:see knew:know known:know
grew:grow grown:grow drew:draw drawn:draw wrote:write written:write struck:strike
shot:shoot fled:flee sought:seek withdrew:withdraw withdrawn:withdraw hit cut put set
spread felt:feel found:find got:get gotten:get heard:hear meant:mean understood:understand
forbade:forbid forbidden:forbid overtook:overtake overtaken:overtake undertook:undertake
undertaken:undertake shook:shake shaken:shake blew:blow blown:blow flew:fly flown:fly
threw:throw thrown:throw bore:bear borne:bear slain:slay slew:slay wore:wear worn:wear
hid:hide hidden:hide bit:bite bitten:bite froze:freeze frozen:freeze stole:steal
stolen:steal swore:swear sworn:swear lent:lend spent:spend dealt:deal fed:feed bled:bleed
sped:speed shut quit beaten:beat rode:ride ridden:ride awoke:awake woke:wake woken:wake
men:man women:woman children:child feet:foot teeth:tooth mice:mouse geese:goose lives:life
wives:wife knives:knife crises:crisis analyses:analysis bases:base theses:thesis
phenomena:phenomenon criteria:criterion data media people police news series species means
headquarters politics economics physics mathematics ethics tactics logistics statistics
arms evening morning building meeting wedding ceiling clothing spring string thing king
ring wing during nothing something anything everything bring sing swing sting ping bed red
united limited interested used:use died:die lied:lie tied:tie dying:die lying:lie
tying:tie
"""
IRREGULAR: dict[str, str] = {
    k: v or k for k, _, v in (item.partition(":") for item in _IRREGULAR.split())
}

# Endings that look plural but are not (status, crisis, congress).
_NOT_PLURAL = ("ss", "us", "is", "ous", "ics")
_SIBILANT = ("s", "x", "z", "ch", "sh")
_VOWELS = "aeiou"


def is_english_word(term: str) -> bool:
    """True for a Latin-letter token (what the tokenizer makes of an English word)."""
    return bool(_LATIN_WORD.match(term))


def _candidates(w: str) -> list[str]:
    """Base forms `w` may be an inflection of, most likely first (checked against a lexicon)."""
    out: list[str] = []
    if w.endswith("ies") and len(w) > 4:
        out += [w[:-3] + "y", w[:-1]]
    elif w.endswith("ves") and len(w) > 4:
        out += [w[:-1], w[:-3] + "f", w[:-3] + "fe"]
    elif w.endswith("es") and len(w) > 4:
        stem = w[:-2]
        out += [stem, w[:-1]] if stem.endswith(_SIBILANT) else [w[:-1], stem]
    elif w.endswith("s") and len(w) > 3 and not w.endswith(_NOT_PLURAL):
        out.append(w[:-1])
    elif w.endswith("men") and len(w) > 5:
        out.append(w[:-3] + "man")  # spokesmen -> spokesman
    elif w.endswith("ied") and len(w) > 4:
        out.append(w[:-3] + "y")
    elif w.endswith("ed") and len(w) > 4:
        stem = w[:-2]
        # After two different consonants no silent e was dropped (formed -> form, not the
        # lexicon's "forme"; bombed -> bomb), except after c/g/v/z/u (danced, charged).
        bare = stem[-1] not in _VOWELS + "cgvzuwy" and stem[-2] not in _VOWELS + stem[-1]
        out += [stem, w[:-1]] if bare else [w[:-1], stem]
        if len(w) > 5 and w[-3] == w[-4] and w[-3] not in _VOWELS:
            out.append(w[:-3])  # stopped -> stop
    elif w.endswith("ing") and len(w) > 5:
        out += [w[:-3], w[:-3] + "e"]
        if w[-4] == w[-5] and w[-4] not in _VOWELS:
            out.append(w[:-4])  # running -> run
    return [c for c in out if len(c) >= 2]


def _default_stem(w: str) -> str:
    """The rule-only lemma, used when no lexicon knows any candidate."""
    if w.endswith("ies") and len(w) > 4:
        return w[:-3] + "y"
    if w.endswith("es") and len(w) > 4 and w[:-2].endswith(_SIBILANT):
        return w[:-2]
    if w.endswith("s") and len(w) > 3 and not w.endswith(_NOT_PLURAL):
        return w[:-1]
    if w.endswith("ied") and len(w) > 4:
        return w[:-3] + "y"
    if w.endswith("ed") and len(w) > 4:
        stem = w[:-2]
        if len(stem) > 2 and stem[-1] == stem[-2] and stem[-1] not in _VOWELS + "ls":
            return stem[:-1]
        return stem
    return w


def lemmatize(word: str, lexicon: Collection[str] | None = None) -> str:
    """The dictionary form of an English word: chairs->chair, detained->detain, was->be.

    Suffix rules propose candidates and a lexicon (by default every English key of the
    JMdict table) picks the first that is a real word, which is what separates
    used->use from detained->detain without a full morphological dictionary.
    """
    w = word.lower().strip("'-")
    if w in IRREGULAR:
        return IRREGULAR[w]
    if lexicon is None:
        lexicon = _lexicon()
    # A word that is itself in the lexicon gives way only to a real-looking stem (speed is
    # not spe + ed, though JMdict has an abbreviation "spe").
    min_len = 4 if w in lexicon and w.endswith(("ed", "ing")) else 2
    for cand in _candidates(w):
        if cand in lexicon and len(cand) >= min_len:
            return cand
    return w if w in lexicon else _default_stem(w)


def _lexicon() -> Collection[str]:
    """The English words the JMdict table knows (empty if the table is missing)."""
    from index.language import jmdict

    try:
        return jmdict.load()
    except jmdict.TableMissing:
        return frozenset()


# --- Japanese side -----------------------------------------------------------------------


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


# --- groups ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TermGroup:
    """One word of the question and the corpus terms that count as it (alternatives).

    `label` is the word as the user wrote it (lower-cased, as tokenized); `lemma` is the form
    that was looked up, when it differs.
    """

    label: str
    terms: tuple[str, ...]
    source: str  # "term" (as is) | "jmdict" | "name" | "latin" | "fragment" | "colloquial"
    lemma: str = ""


# Acronyms that come out of the tokenizer letter by letter ("U.S." -> u, s) and the JMdict
# phrase they stand for; "us" alone is the pronoun and stays a stop word.
ACRONYMS: dict[str, str] = {
    "us": "america",
    "usa": "america",
    "uk": "united kingdom",
    "un": "united nation",
    "eu": "european union",
}


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

# Particles of phrasal verbs. The tokenizer drops them as stop words, so english_groups
# finds "break out" or "set up" in the question's raw text.
PARTICLES = frozenset({"out", "up", "off", "down", "over", "away", "back"})

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


def _scored(
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


def _translate(
    keys: Iterable[str], has_term: Callable[[str], bool], compounds: bool = True
) -> list[str]:
    """Glossary or JMdict translations of English keys, as corpus terms, best first."""
    return select(_scored(keys, has_term, compounds))


def _join_latin(
    words: list[str], i: int, has_term: Callable[[str], bool]
) -> tuple[str, str, int] | None:
    """A corpus term made of 2-3 adjacent Latin words without spaces (sev lake -> sevlake)."""
    for n in (3, 2):
        run = words[i : i + n]
        if len(run) == n and all(is_english_word(w) for w in run):
            joined = "".join(run)
            if has_term(joined):
                return " ".join(run), joined, n
    return None


def _joined_name(
    words: list[str], i: int, names: NameIndex | None
) -> tuple[str, list[str], int] | None:
    """A katakana name spelled as 2-3 Latin words (kassym jomart -> カシムジョマルト・トカエフ).

    Only words neither JMdict nor the stop list knows are joined, so ordinary English
    never reaches the (phonetic, hence lenient) name matcher this way.
    """
    from index.language import jmdict

    if names is None:
        return None
    for n in (3, 2):
        run = words[i : i + n]
        if len(run) < n or not all(is_english_word(w) and len(w) > 1 for w in run):
            continue
        if any(w in STOP_WORDS or jmdict.lookup_scored(lemmatize(w)) for w in run):
            continue
        found = names.match("".join(run))
        if found:
            return " ".join(run), found, n
    return None


def _phrase(
    words: list[str], i: int, has_term: Callable[[str], bool]
) -> tuple[str, str, list[Scored], int] | None:
    """A phrase of 2-3 adjacent English words (prime minister -> 首相)."""
    for n in (3, 2):
        run = words[i : i + n]
        if len(run) < n or not all(is_english_word(w) for w in run):
            continue
        if any(w in STOP_WORDS or len(w) < 2 for w in run):
            continue
        key = " ".join(lemmatize(w) for w in run)
        # Only whole-word translations: "state of emergency" -> 緊急事態 would be reduced
        # to 事態 alone, worse than the two words translated one by one.
        found = _scored([key], has_term, compounds=False)
        if found:
            return " ".join(run), key, found, n
    return None


def _phrasal_particles(text: str) -> dict[str, str]:
    """English word -> the particle right after it in the raw question (broke -> out)."""
    raw = re.findall(r"[a-z]+", text.lower())
    out: dict[str, str] = {}
    for word, nxt in zip(raw, raw[1:], strict=False):
        if nxt in PARTICLES and word not in STOP_WORDS:
            out.setdefault(word, nxt)
    return out


def _phrasal(
    w: str, particle: str, has_term: Callable[[str], bool]
) -> tuple[str, str, list[Scored]] | None:
    """A phrasal verb (break out) through its own key and its nouns (outbreak, breakout)."""
    base = lemmatize(w)
    key = f"{base} {particle}"
    found = _scored([key, particle + base, base + particle], has_term)
    return (f"{w} {particle}", key, found) if found else None


@dataclass
class _Slot:
    """A group in the making: its translation candidates are chosen once all are known."""

    label: str
    pool: list[Scored]  # translation candidates, to be chosen among
    source: str = ""  # fixed source ("term", "latin", "name"); else decided from the terms
    lemma: str = ""
    named: tuple[str, ...] = ()  # transliterated names, after the translations
    as_written: tuple[str, ...] = ()  # the word itself, when the corpus has it
    shown: bool | None = None  # None: shown unless found as written

    def group(self, translated: list[str], cap: int, has_term: Callable[[str], bool]):
        named = [t for t in self.named if t not in translated]
        room = cap - min(len(self.as_written), 1)
        terms = list(dict.fromkeys((translated + named)[:room] + list(self.as_written)))[:cap]
        source = self.source or ("jmdict" if translated else "name" if named else "term")
        group = TermGroup(self.label, tuple(terms or [self.label]), source, self.lemma)
        shown = self.shown
        if shown is None:
            # Shown unless the word was simply found as written (csto): a word nothing
            # translates is shown with no terms, so the user sees it was not searched.
            shown = source != "term" or not has_term(group.terms[0])
        return group, shown


def english_groups(
    terms: list[str],
    has_term: Callable[[str], bool],
    names: NameIndex | None,
    max_alternatives: int = 6,
    *,
    text: str | None = None,
    corpus: Passages | None = None,
    vocab: VocabularyIndex | None = None,
) -> tuple[list[TermGroup], dict[str, list[str]]]:
    """Turn a question's terms into groups of corpus terms, and say how English was translated.

    `terms` is the tokenizer's output for the question. Japanese terms and numbers pass
    through as they are when the corpus has them; otherwise `_japanese_slot` finds what
    they stand for (with `vocab`, the index's terms by substring). English words are
    handled in this order: stop words dropped; a run of adjacent words the corpus writes as
    one (sev lake -> sevlake), a phrasal verb (break out, when `text`, the question as
    written, shows its particle) or a phrase (prime minister) becomes one group; any other
    word is lemmatized and translated through the glossary or JMdict and the name index,
    keeping only terms the corpus has. The word itself stays an alternative when the corpus
    contains it as written. At most `max_alternatives` terms per group, most likely first.

    With `corpus` (the index's passages), a candidate the dictionary ranked too low joins a
    word's alternatives when it clearly goes with the other words' terms in the corpus
    (`index.language.translate_select`).

    Returns the groups and, for display, every translated English word (as written) with
    the corpus terms it was searched as (an empty list when nothing in the corpus fits).
    """
    cap = max(1, max_alternatives)
    words = [t for t in terms if t]
    particles = _phrasal_particles(text) if text else {}
    slots: list[_Slot] = []
    seen: set[str] = set()

    def add(slot: _Slot) -> None:
        if slot.label not in seen:
            seen.add(slot.label)
            slots.append(slot)

    i = 0
    while i < len(words):
        w = words[i]
        if not is_english_word(w):
            add(_japanese_slot(w, has_term, names, vocab))
            i += 1
            continue

        # Letters of an acronym the tokenizer split apart: "U.S." -> u, s.
        if len(w) == 1:
            j = i
            while j < len(words) and len(words[j]) == 1 and is_english_word(words[j]):
                j += 1
            if j - i >= 2:
                acronym = "".join(words[i:j])
                if has_term(acronym):
                    add(_Slot(acronym, [], "latin", as_written=(acronym,), shown=False))
                elif acronym in ACRONYMS:
                    found = _scored([ACRONYMS[acronym]], has_term)
                    if found:
                        add(_Slot(acronym, found, lemma=ACRONYMS[acronym], shown=True))
            i = max(j, i + 1)
            continue

        joined = _join_latin(words, i, has_term)
        if joined is not None:
            label, term, n = joined
            add(_Slot(label, [], "latin", as_written=(term,), shown=False))
            i += n
            continue

        if w in STOP_WORDS:
            i += 1
            continue

        spelled = _joined_name(words, i, names)
        if spelled is not None:
            label, found_names, n = spelled
            add(_Slot(label, [], "name", named=tuple(found_names), shown=True))
            i += n
            continue

        if w in particles and not has_term(w):
            phrasal = _phrasal(w, particles[w], has_term)
            if phrasal is not None:
                label, key, found = phrasal
                add(_Slot(label, found, lemma=key, shown=True))
                i += 1
                continue

        if not has_term(w):
            phrase = _phrase(words, i, has_term)
            if phrase is not None:
                label, key, found, n = phrase
                add(_Slot(label, found, lemma=key, shown=True))
                i += n
                continue

        slot = _word_slot(w, has_term, names)
        if slot is not None:
            add(slot)
        i += 1

    chosen = [select(slot.pool) for slot in slots]
    if corpus is not None:
        chosen = _corpus_choice(slots, chosen, corpus, cap, has_term)
    groups: list[TermGroup] = []
    translations: dict[str, list[str]] = {}
    for slot, translated in zip(slots, chosen, strict=True):
        group, shown = slot.group(translated, cap, has_term)
        groups.append(group)
        if shown:
            translations[group.label] = [t for t in group.terms if not is_english_word(t)]
    return groups, translations


def _corpus_choice(
    slots: list[_Slot],
    chosen: list[list[str]],
    corpus: Passages,
    cap: int,
    has_term: Callable[[str], bool],
) -> list[list[str]]:
    """Revise each word's translations by their association with the other words."""
    from index.language import translate_select

    context = [
        list(slot.group(first, cap, has_term)[0].terms)
        for slot, first in zip(slots, chosen, strict=True)
    ]
    candidates = [[t for t, _, _ in slot.pool] for slot in slots]
    found = translate_select.cohesion(candidates, context, corpus)
    out = []
    for slot, first, assoc in zip(slots, chosen, found, strict=True):
        if assoc is None:
            out.append(first)
            continue
        # A generic term (出る) is never taken on the corpus's word: it meets everything.
        pool = [
            (t, a)
            for (t, _, _), a in zip(slot.pool, assoc, strict=True)
            if t not in GENERIC_TERMS or t in first
        ]
        out.append(translate_select.revise(first, [t for t, _ in pool], [a for _, a in pool]))
    return out


def _japanese_slot(
    w: str,
    has_term: Callable[[str], bool],
    names: NameIndex | None,
    vocab: VocabularyIndex | None,
) -> _Slot:
    """The slot for a Japanese (or numeric) term, whatever the corpus calls it.

    A term the corpus has is searched as it is, together with the longer katakana terms it
    starts (カザフ also searches カザフスタン). A term the corpus lacks is, in order: a piece
    of terms it has (the n-gram fallback: アゼル -> アゼルバイジャン), a spelling variant of a
    katakana name (パシニャン -> パシヤン), or an everyday word read through its English
    glosses (捕まえる -> arrest -> 逮捕, 拘束); failing all, it matches nothing.
    """
    if has_term(w):
        longer = tuple(vocab.extensions(w)) if vocab is not None else ()
        return _Slot(w, [], "term", named=longer, as_written=(w,), shown=bool(longer))
    pieces = tuple(vocab.containing(w)) if vocab is not None else ()
    if pieces:
        return _Slot(w, [], "fragment", named=pieces, shown=True)
    if names is not None and _KATAKANA_TERM.match(w):
        from index.language.names import romanize

        variants = tuple(names.match(romanize(w)))
        if variants:
            return _Slot(w, [], "name", named=variants, shown=True)
    from index.language import colloquial

    # A name the documents lack (東京) is a topic they do not cover, not a paraphrase.
    keys = [] if _is_proper_noun(w) else colloquial.english_keys(w)
    # Only a key's leading senses: a bridge through two dictionaries drifts fast
    # (天気 -> weather -> 乗り切る, "to weather a storm").
    pool = [c for c in _scored(keys, has_term) if c[1] <= colloquial.MAX_BRIDGE] if keys else []
    if pool:
        return _Slot(w, pool, "colloquial", lemma="/".join(keys), shown=True)
    return _Slot(w, [], "term", as_written=(w,), shown=False)


def _is_proper_noun(term: str) -> bool:
    from index.language.tokenize import tokenize_spans

    return any("固有名詞" in t.pos for t in tokenize_spans(term))


def _word_slot(w: str, has_term: Callable[[str], bool], names: NameIndex | None) -> _Slot | None:
    """The slot for one English word, or None for a stop word."""
    lemma = lemmatize(w)
    if lemma in STOP_WORDS:
        return None
    keys = list(dict.fromkeys([w, lemma]))
    as_written = [t for t in keys if has_term(t)]
    # A word the corpus has as written (csto, lpg) only takes whole-word translations:
    # reducing a compound headword to one piece (LPG -> 液化石油ガス -> 石油) would drift.
    pool = _scored(keys, has_term, compounds=not as_written)
    if not pool:
        # protesters -> protest: the corpus writes 抗議者 as 抗議 + 者 anyway;
        # peacekeepers -> peacekeeping.
        derived = _agent_verb(lemma)
        if derived:
            keys.append(derived)
            pool = _scored([derived], has_term, compounds=not as_written)
    named = tuple(_names(w, keys, names))
    return _Slot(
        w, pool, lemma=lemma if lemma != w else "", named=named, as_written=tuple(as_written)
    )


def _agent_verb(noun: str) -> str | None:
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


def _names(w: str, keys: list[str], names: NameIndex | None) -> list[str]:
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


def translate_words(words: Iterable[str], has_term: Callable[[str], bool]) -> dict[str, list[str]]:
    """JMdict translations of single English words, for diagnostics and tests."""
    return {w: _translate([lemmatize(w), w], has_term) for w in words}
