"""Names across scripts: Latin spellings matched to the corpus's katakana terms.

A user types "Tokayev" or "Almaty"; the corpus writes トカエフ and アルマトイ. JMdict knows
few such names and UniDic's Latin lemma part is sometimes a transliteration (ロシア-Rossiya)
or wrong (セブ-Cebu), so the corpus's own katakana terms are romanized at index time and
matched approximately.

The comparison form bridges how English spells a name and how Japanese hears it:
kh/f/h -> h (Kazakhstan / カザフスタン), l -> r, v -> b (but a final v -> h: Tokayev /
トカエフ), ch -> t, sh -> s, z -> s, doubled letters single. Two views are compared with an
edit-distance ratio: the consonant skeleton (vowels dropped, so Japanese's extra vowels in
カ*ザ*フ*ス*タン do not count) and the full form (so short skeletons need their vowels to agree
too, which keeps "chair" away from テロ).
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable

# Katakana -> Hepburn. Two-character combinations are tried first.
_DIGRAPHS: dict[str, str] = dict(
    item.split(":")
    for item in """
キャ:kya キュ:kyu キョ:kyo ギャ:gya ギュ:gyu ギョ:gyo シャ:sha シュ:shu ショ:sho
シェ:she ジャ:ja ジュ:ju ジョ:jo ジェ:je チャ:cha チュ:chu チョ:cho チェ:che
ニャ:nya ニュ:nyu ニョ:nyo ヒャ:hya ヒュ:hyu ヒョ:hyo ビャ:bya ビュ:byu ビョ:byo
ピャ:pya ピュ:pyu ピョ:pyo ミャ:mya ミュ:myu ミョ:myo リャ:rya リュ:ryu リョ:ryo
ファ:fa フィ:fi フェ:fe フォ:fo フュ:fyu ティ:ti トゥ:tu ディ:di ドゥ:du デュ:dyu
テュ:tyu ウィ:wi ウェ:we ウォ:wo ヴァ:va ヴィ:vi ヴェ:ve ヴォ:vo ツァ:tsa ツィ:tsi
ツェ:tse ツォ:tso クァ:kwa クィ:kwi クェ:kwe クォ:kwo グァ:gwa イェ:ye スィ:si
ズィ:zi シィ:shi
""".split()
)
_MONO = dict(
    zip(
        "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨ"
        "ラリルレロワヰヱヲンガギグゲゴザジズゼゾダヂヅデドバビブベボパピプペポヴ"
        "ァィゥェォャュョヮ",
        "a i u e o ka ki ku ke ko sa shi su se so ta chi tsu te to na ni nu ne no ha hi fu "
        "he ho ma mi mu me mo ya yu yo ra ri ru re ro wa i e o n ga gi gu ge go za ji zu ze "
        "zo da ji zu de do ba bi bu be bo pa pi pu pe po vu a i u e o ya yu yo wa".split(),
        strict=True,
    )
)
_KATAKANA_TERM = re.compile(r"[\u30a1-\u30fa\u30fc\u30fb]+\Z")
_SEPARATORS = re.compile(r"[\u30fb\s]+")

# Spelling rules applied, in order, to both sides after lower-casing (see module doc).
_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p), r)
    for p, r in [
        (r"[^a-z]", ""),
        (r"tch|tsch", "t"),
        (r"sch", "s"),
        (r"dzh|dj|zh", "j"),
        (r"ch", "t"),
        (r"sh", "s"),
        (r"kh|ph", "h"),
        (r"th", "s"),
        (r"ck", "k"),
        (r"gh", "g"),
        (r"qu", "kw"),
        (r"q", "k"),
        (r"x", "ks"),
        (r"c(?=[eiy])", "s"),
        (r"c", "k"),
        (r"tz", "ts"),
        (r"l", "r"),
        (r"v$", "h"),
        (r"v", "b"),
        (r"f", "h"),
        (r"z", "s"),
        (r"m(?=[bp])", "n"),
        (r"w(?=[^aeiouy]|$)", ""),
        (r"(.)\1+", r"\1"),
    ]
]
_VOWEL = set("aeiouy")

# Matching thresholds (tuned on the bundled corpus; see tests/test_names.py).
MIN_SCORE = 0.78
SHORT_SKELETON = 2  # skeletons this short must agree exactly and their full forms closely
SHORT_FULL_MIN = 0.74


def romanize(katakana: str) -> str:
    """Hepburn-like romanization of a katakana (or hiragana) term, lower-case.

    ッ doubles the next consonant, ー is dropped (long vowels are not written in the English
    spellings this is compared with), ・ and spaces become a space.
    """
    text = unicodedata.normalize("NFKC", katakana)
    text = "".join(chr(ord(c) + 0x60) if "\u3041" <= c <= "\u3096" else c for c in text)
    out: list[str] = []
    i = 0
    double = False
    while i < len(text):
        pair = text[i : i + 2]
        ch = text[i]
        if pair in _DIGRAPHS:
            syl, i = _DIGRAPHS[pair], i + 2
        elif ch in _MONO:
            syl, i = _MONO[ch], i + 1
            # A small kana after a full one modifies it (キィ) rather than adding a syllable.
            if ch in "ァィゥェォャュョヮ" and out and out[-1] and out[-1][-1] in "aeiou":
                out[-1] = out[-1][:-1]
        elif ch == "ッ":
            double, i = True, i + 1
            continue
        elif ch == "ー":
            i += 1
            continue
        elif _SEPARATORS.match(ch):
            out.append(" ")
            i += 1
            continue
        else:
            out.append(ch.lower() if ch.isascii() else "")
            i += 1
            continue
        if double and syl[0] not in "aeiou":
            syl = ("t" if syl.startswith("ch") else syl[0]) + syl
        double = False
        out.append(syl)
    return re.sub(r" +", " ", "".join(out)).strip()


def comparable(latin: str) -> str:
    """A Latin spelling (or a romanization) in the form both sides are compared in."""
    text = latin.lower()
    for pattern, repl in _RULES:
        text = pattern.sub(repl, text)
    return text


def skeleton(form: str) -> str:
    """Consonants of a comparable form, with "a" standing for any leading vowel."""
    if not form:
        return ""
    head = "a" if form[0] in _VOWEL else ""
    cons = [c for c in form if c not in _VOWEL]
    out: list[str] = []
    for c in cons:
        if not out or out[-1] != c:
            out.append(c)
    return head + "".join(out)


def _distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance, giving up (returning limit + 1) once it must exceed `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        low = i
        for j, cb in enumerate(b, 1):
            v = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            cur.append(v)
            low = min(low, v)
        if low > limit:
            return limit + 1
        prev = cur
    return prev[-1]


def _ratio(a: str, b: str) -> float:
    longest = max(len(a), len(b))
    if longest == 0:
        return 1.0
    return 1.0 - _distance(a, b, longest) / longest


_VOICING = {frozenset(p) for p in ("bp", "gk", "dt", "js", "sj", "hb", "hg")}


def _sound_distance(latin: str, kana: str) -> float:
    """Edit distance tuned for English spelling vs romanized katakana.

    Vowels Japanese inserts (カ*ザ*フ*ス*タン) cost 0.4, vowels English writes that Japanese
    drops or changes cost 0.6 / 0.5, voicing pairs (b/p, g/k, d/t) 0.6; all else 1.
    """
    prev = [0.0]
    for cb in kana:
        prev.append(prev[-1] + (0.4 if cb in _VOWEL else 1.0))
    for ca in latin:
        drop = 0.6 if ca in _VOWEL else 1.0
        cur = [prev[0] + drop]
        for j, cb in enumerate(kana, 1):
            if ca == cb:
                sub = 0.0
            elif ca in _VOWEL and cb in _VOWEL:
                sub = 0.5
            elif frozenset((ca, cb)) in _VOICING:
                sub = 0.6
            else:
                sub = 1.0
            insert = 0.4 if cb in _VOWEL else 1.0
            cur.append(min(prev[j] + drop, cur[j - 1] + insert, prev[j - 1] + sub))
        prev = cur
    return prev[-1]


def similarity(latin: str, romanized: str) -> float:
    """0..1 likeness of a Latin spelling and a romanized katakana term (see module doc)."""
    a, b = comparable(latin), comparable(romanized)
    sa, sb = skeleton(a), skeleton(b)
    if not sa or not sb or sa[0] != sb[0]:
        return 0.0
    return _score(a, sa, b, sb)


def spelling_variants(a: str, b: str) -> bool:
    """Whether two katakana words are spellings of one loanword (サルタン / スルタン).

    Both are already in Japanese sound shape, so unlike a Latin-to-katakana match this
    allows only about one difference in seven letters (plain edit ratio >= 0.85).
    """
    return _ratio(comparable(romanize(a)), comparable(romanize(b))) >= 0.85


class NameIndex:
    """Katakana corpus terms by their romanized skeleton, for approximate Latin look-ups."""

    def __init__(self) -> None:
        # first skeleton char -> [(skeleton, comparable form, term)]
        self._buckets: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
        self.size = 0

    @classmethod
    def build(cls, terms: Iterable[str]) -> NameIndex:
        """Index the katakana terms of a corpus vocabulary (other terms are ignored).

        A term written with a middle dot (カシムジョマルト・トカエフ) is also found through
        each of its parts, so "Tokayev" reaches the full name as well as トカエフ.
        """
        index = cls()
        seen: set[str] = set()
        for term in terms:
            if term in seen or not _KATAKANA_TERM.match(term):
                continue
            seen.add(term)
            romanized = romanize(term)
            parts = romanized.split(" ")
            forms = {romanized.replace(" ", "")}
            if len(parts) > 1:
                forms.update(parts)
            for form in forms:
                comp = comparable(form)
                skel = skeleton(comp)
                if len(skel) >= 2:
                    index._buckets[skel[0]].append((skel, comp, term))
            index.size += 1
        return index

    def match(self, latin: str, limit: int = 3) -> list[str]:
        """Katakana corpus terms whose romanization is close to `latin`, best first."""
        comp = comparable(latin)
        skel = skeleton(comp)
        if len(comp) < 3 or len(skel) < 2:
            return []
        scored: dict[str, float] = {}
        for cand_skel, cand_comp, term in self._buckets.get(skel[0], ()):
            if abs(len(cand_skel) - len(skel)) > max(1, len(skel) // 2):
                continue
            score = _score(comp, skel, cand_comp, cand_skel)
            if score >= MIN_SCORE and score > scored.get(term, 0.0):
                scored[term] = score
        ranked = sorted(scored.items(), key=lambda kv: (-kv[1], len(kv[0]), kv[0]))
        return [term for term, _ in ranked[:limit]]


def _score(comp: str, skel: str, cand_comp: str, cand_skel: str) -> float:
    """`similarity` on precomputed forms."""
    full = 1.0 - _sound_distance(comp, cand_comp) / max(len(comp), len(cand_comp))
    if min(len(skel), len(cand_skel)) <= SHORT_SKELETON and (
        skel != cand_skel or full < SHORT_FULL_MIN
    ):
        return 0.0
    return 0.5 * _ratio(skel, cand_skel) + 0.5 * full
