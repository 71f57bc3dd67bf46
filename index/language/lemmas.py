"""English words as the question writes them: stop words, and lemmas found by checking
candidate base forms against the dictionary's keys (inflection rules alone over-strip:
"news" is not "new", "bases" may be "base" or "basis")."""

from __future__ import annotations

import re
from collections.abc import Collection

from index import errors
from index.language.tokenize import ENGLISH_STOP_WORDS

_LATIN_WORD = re.compile(r"[a-z][a-z'\-]*\Z")

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
    except errors.TableMissing:
        return frozenset()


# Particles of phrasal verbs. The tokenizer drops them as stop words, so english_groups
# finds "break out" or "set up" in the question's raw text.
PARTICLES = frozenset({"out", "up", "off", "down", "over", "away", "back"})
