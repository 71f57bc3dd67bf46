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
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from index.language import lexicon
from index.language.lemmas import PARTICLES, STOP_WORDS, is_english_word, lemmatize
from index.language.lexicon import Scored, agent_verb, name_matches, scored, select

if TYPE_CHECKING:  # pragma: no cover - import for type checkers only
    from index.language.names import NameIndex
    from index.language.translate_select import Passages
    from index.language.vocabulary import VocabularyIndex

_KATAKANA_TERM = re.compile(r"[\u30a1-\u30fa\u30fc・]{3,}\Z")


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
        found = scored([key], has_term, compounds=False)
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
    found = scored([key, particle + base, base + particle], has_term)
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


@dataclass
class _Context:
    """What every matcher reads: the question's words and the corpus's vocabulary."""

    words: list[str]
    has_term: Callable[[str], bool]
    names: NameIndex | None
    vocab: VocabularyIndex | None
    particles: dict[str, str]  # English word -> the particle after it (broke -> out)


# A matcher looks at words[i:]: None when it does not apply, else the slot it makes (None:
# the words are dropped) and how many words it took.
Match = tuple[_Slot | None, int] | None


def _match_japanese(ctx: _Context, i: int) -> Match:
    w = ctx.words[i]
    if is_english_word(w):
        return None
    return _japanese_slot(w, ctx.has_term, ctx.names, ctx.vocab), 1


def _match_acronym(ctx: _Context, i: int) -> Match:
    """Letters of an acronym the tokenizer split apart: "U.S." -> u, s. A lone letter is
    dropped."""
    words = ctx.words
    if len(words[i]) != 1:
        return None
    j = i
    while j < len(words) and len(words[j]) == 1 and is_english_word(words[j]):
        j += 1
    acronym = "".join(words[i:j])
    taken = max(j - i, 1)
    if j - i < 2:
        return None, taken
    if ctx.has_term(acronym):
        return _Slot(acronym, [], "latin", as_written=(acronym,), shown=False), taken
    if acronym in ACRONYMS and (found := scored([ACRONYMS[acronym]], ctx.has_term)):
        return _Slot(acronym, found, lemma=ACRONYMS[acronym], shown=True), taken
    return None, taken


def _match_joined_latin(ctx: _Context, i: int) -> Match:
    joined = _join_latin(ctx.words, i, ctx.has_term)
    if joined is None:
        return None
    label, term, n = joined
    return _Slot(label, [], "latin", as_written=(term,), shown=False), n


def _match_stop_word(ctx: _Context, i: int) -> Match:
    return (None, 1) if ctx.words[i] in STOP_WORDS else None


def _match_joined_name(ctx: _Context, i: int) -> Match:
    spelled = _joined_name(ctx.words, i, ctx.names)
    if spelled is None:
        return None
    label, found, n = spelled
    return _Slot(label, [], "name", named=tuple(found), shown=True), n


def _match_phrasal_verb(ctx: _Context, i: int) -> Match:
    w = ctx.words[i]
    if w not in ctx.particles or ctx.has_term(w):
        return None
    phrasal = _phrasal(w, ctx.particles[w], ctx.has_term)
    if phrasal is None:
        return None
    label, key, found = phrasal
    return _Slot(label, found, lemma=key, shown=True), 1


def _match_phrase(ctx: _Context, i: int) -> Match:
    if ctx.has_term(ctx.words[i]):
        return None
    phrase = _phrase(ctx.words, i, ctx.has_term)
    if phrase is None:
        return None
    label, key, found, n = phrase
    return _Slot(label, found, lemma=key, shown=True), n


def _match_word(ctx: _Context, i: int) -> Match:
    return _word_slot(ctx.words[i], ctx.has_term, ctx.names), 1


# In order of trust; the first that applies takes the words (the last always applies).
MATCHERS: tuple[Callable[[_Context, int], Match], ...] = (
    _match_japanese,
    _match_acronym,
    _match_joined_latin,
    _match_stop_word,
    _match_joined_name,
    _match_phrasal_verb,
    _match_phrase,
    _match_word,
)


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
    ctx = _Context(words, has_term, names, vocab, _phrasal_particles(text) if text else {})
    slots: dict[str, _Slot] = {}  # by label: a word asked twice is one group
    i = 0
    while i < len(words):
        slot, taken = next(m for m in (match(ctx, i) for match in MATCHERS) if m is not None)
        if slot is not None:
            slots.setdefault(slot.label, slot)
        i += taken
    return _groups(list(slots.values()), corpus, cap, has_term)


def _groups(
    slots: list[_Slot], corpus: Passages | None, cap: int, has_term: Callable[[str], bool]
) -> tuple[list[TermGroup], dict[str, list[str]]]:
    """Choose each slot's alternatives (the dictionary's choice, revised by the corpus)."""
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
            if t not in lexicon.GENERIC_TERMS or t in first
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
    pool = [c for c in scored(keys, has_term) if c[1] <= colloquial.MAX_BRIDGE] if keys else []
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
    pool = scored(keys, has_term, compounds=not as_written)
    if not pool:
        # protesters -> protest: the corpus writes 抗議者 as 抗議 + 者 anyway;
        # peacekeepers -> peacekeeping.
        derived = agent_verb(lemma)
        if derived:
            keys.append(derived)
            pool = scored([derived], has_term, compounds=not as_written)
    named = tuple(name_matches(w, keys, names))
    return _Slot(
        w, pool, lemma=lemma if lemma != w else "", named=named, as_written=tuple(as_written)
    )
