"""What kind of answer a question wants, and where a sentence holds one.

"Who chairs CSTO?" wants a person or a title, "how many people were detained?" a number
with a counter. Excerpts prefer -- and mark -- the sentence that holds such a span, which
turns a passage that merely mentions the question's words into one that answers it.

Detection reads English and Japanese question words; when several occur, the first one in
the question wins ("when did who ..." is a when-question) and, at the same position, the
longer cue ("how many" over "how", 何人 over 何). Spans are found with UniDic's parts of
speech (名詞-固有名詞-人名 / -地名) from `index.language.tokenize.tokenize_spans` plus regular
expressions for titles, counters, dates and reason clauses.
"""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum

from index.language.passages import split_sentences
from index.language.tokenize import tokenize_spans


class QType(StrEnum):
    """The answer type a question asks for (a str: QType.WHO == "who")."""

    WHO = "who"
    HOW_MANY = "how_many"
    WHERE = "where"
    WHEN = "when"
    WHY = "why"
    WHAT = "what"


# (pattern, type); matched on NFKC + lower-cased text. English cues need word boundaries.
_CUES: list[tuple[re.Pattern[str], QType]] = [
    (re.compile(p), t)
    for p, t in [
        (
            r"\bhow\s+(?:many|much|long|old|far|large|big|often|high|tall|deep|wide|heavy)\b",
            QType.HOW_MANY,
        ),
        (r"\bwhat\s+(?:number|percentage|proportion|share|amount)\b", QType.HOW_MANY),
        (
            r"\b(?:what|which)\s+(?:is|was|are|were)\s+(?:the\s+)?(?:[a-z]+'s\s+)?"
            r"(?:population|budget|area|size|age|height|depth|elevation|altitude|cost|price|"
            r"length|number|death\s+toll|toll)\b",
            QType.HOW_MANY,
        ),
        (
            r"\b(?:what|which)\s+(?:is|was|are|were)\s+(?:the\s+)?(?:[a-z]+'s\s+)?"
            r"(?:capital|seat|headquarters|birthplace|hometown)\b",
            QType.WHERE,
        ),
        (r"\bwhat\s+(?:year|date|day|month|time)\b", QType.WHEN),
        (r"\bwhich\s+(?:year|date|day|month)\b", QType.WHEN),
        (r"\bwhen\b", QType.WHEN),
        (r"\b(?:who|whom|whose)\b", QType.WHO),
        (
            r"\b(?:which|what)\s+(?:person|leader|president|minister|official|man|woman)\b",
            QType.WHO,
        ),
        (r"\bwhat\s+(?:is|was|are|were)\s+(?:the\s+)?names?\s+of\b", QType.WHO),
        (r"\bwhere\b", QType.WHERE),
        (
            r"\b(?:which|what)\s+(?:country|countries|city|cities|region|place|town|province)\b",
            QType.WHERE,
        ),
        (r"\bwhy\b", QType.WHY),
        (r"\bwhat\s+(?:caused|causes|led\s+to|triggered|prompted)\b", QType.WHY),
        (r"\b(?:the\s+)?reasons?\s+(?:for|why|behind)\b", QType.WHY),
        (r"\bfor\s+what\s+reason\b", QType.WHY),
        (r"\b(?:what|which|how)\b", QType.WHAT),
        (r"誰|だれ|どなた|何者", QType.WHO),
        # "…司令官の名前は?" asks for a person; "作戦の名前は?" does not.
        (
            r"(?:官|相|長|領|者|人|員|将|首脳|人物)の名前は(?:何|なに|なん)?(?:です|でしょう)?か?"
            r"[?？]?\s*$",
            QType.WHO,
        ),
        (
            r"何(?:人|名|件|台|機|カ国|か国|ヶ国|ケ国|個|割|パーセント|%|倍|回|両|隻|発|年間|日間|歳|才)"
            r"|いくつ|幾つ|いくら|どれ(?:くらい|ぐらい|だけ)|どの(?:くらい|ぐらい)",
            QType.HOW_MANY,
        ),
        (r"どこ|何処|どちら|どの(?:国|都市|地域|州|町|場所)", QType.WHERE),
        (r"いつ(?!も|か|の間)|何(?:年|月|日|時|曜)", QType.WHEN),
        (r"なぜ|何故|どうして|なんで(?!す|しょう)|理由|原因|どういうわけ", QType.WHY),
        (r"何|なに|なん|どんな|どの|どういう|どう", QType.WHAT),
    ]
]


_CONTRACTION = re.compile(r"\b(what|who|where|when|how|which)'s\b")


def detect(question: str) -> QType | None:
    """The answer type `question` asks for, or None when it has no question word."""
    text = unicodedata.normalize("NFKC", question).lower().replace("’", "'")
    text = _CONTRACTION.sub(r"\1 is", text)  # "what's the name of" reads as "what is ..."
    best: tuple[int, int, QType] | None = None  # (start, -length, type)
    for pattern, qtype in _CUES:
        m = pattern.search(text)
        if m is None:
            continue
        key = (m.start(), -(m.end() - m.start()), qtype)
        if best is None or key[:2] < best[:2]:
            best = key
    return best[2] if best else None


# --- spans --------------------------------------------------------------------------------

_DIGIT = r"[0-9０-９]"
_NUMBER = rf"(?:{_DIGIT}[0-9０-９,，.．]*|[一二三四五六七八九十数][一二三四五六七八九十百千万億]*)"

_TITLES = (
    "大統領|副大統領|首相|副首相|議長|副議長|書記長|事務局長|事務総長|国防相|外相|国防大臣|"
    "外務大臣|大臣|国務長官|長官|報道官|司令官|委員長|首脳|国王|首長|知事|市長|大使|総裁|"
    "総理|議員|将軍|参謀総長|次官|少将|中将|大将|大佐|少佐|代表|氏"
)
# 大統領府, 大使館, 首脳会談 are places and events, not people.
_TITLE = re.compile(
    rf"(?:前|元|現|次期|新)?(?:国務|外務|国防)?副?(?:{_TITLES})"
    r"(?!府|館|選|令|官邸|私邸|室|制|職|会談|会議|権|級|団|国)"
)
_NAME_BEFORE = re.compile(r"[\u30a1-\u30fa\u30fc・･]+\Z")  # a katakana name ending here
_HONORIFIC_ONLY = {"氏", "代表", "議員"}  # count only with a name in front
_COUNTRY_ABBREVIATIONS = set("米露中英仏独日韓印伊加豪朝")
_HIRAGANA = re.compile(r"[\u3041-\u309f]+\Z")

_COUNTERS = (
    "万人|千人|百人|人|名|台|機|件|カ国|か国|ヶ国|ケ国|カ所|か所|ヶ所|%|％|パーセント|両|隻|発|倍|"
    "回|個|棟|ドル|円|ルーブル|テンゲ|ユーロ|キロ|km|メートル|トン|日間|年間|時間|週間|カ月|か月|ヶ月|"
    "歳|才|平方キロ|ヘクタール|"
    # A span of time: 30年近く, 2日程度 (2022年 and 6日 alone are dates).
    "(?:年|日)(?=近く|以上|余り|あまり|ほど|程度|以内|足らず|ぶり)"
)
_COUNT = re.compile(
    rf"(?:約|およそ|少なくとも|最大|計|合計|総勢|推定)?{_NUMBER}(?:万|億|千|百)?"
    rf"(?:{_COUNTERS})(?:以上|超|余り|あまり|近く|程度)?"
)

_PLACE_SUFFIX = re.compile(
    r"(?:州|市|湖|県|町|村|区|地方|地区|地域|国際空港|空港|基地|国境|広場|港|島|半島|共和国)"
)
_KATAKANA_PLACE = re.compile(
    r"[\u30a1-\u30fa\u30fc・]{2,}(?:州|市|湖|県|地方|地区|国際空港|空港|共和国)"
)

_DATE = re.compile(
    rf"(?:{_DIGIT}{{2,4}}年)?{_DIGIT}{{1,2}}月(?:{_DIGIT}{{1,2}}日)?(?:上旬|中旬|下旬|末|初め)?"
    rf"|{_DIGIT}{{4}}年(?:代|末|初め)?"
    rf"|(?:今年|昨年|去年|来年|今月|先月|来月|同月)?{_DIGIT}{{1,2}}日(?!間|程)"
    r"(?:[（(][月火水木金土日][)）])?(?:未明|朝|夜|午前|午後)?"
    r"|(?:午前|午後)?[0-9０-９]{1,2}時(?:[0-9０-９]{1,2}分)?"
)
_RELATIVE_DATE = re.compile(
    r"一昨年|今年|昨年|去年|来年|前年|翌年|今月|先月|来月|今週|先週|来週|今日|昨日|明日|本日|"
    r"同日|当日|翌日|前日|年末|年始|年明け|[月火水木金土日]曜日?"
)

_CAUSE_END = re.compile(
    r"(?<!あら)ため(?:に|で)?(?!らう|らい|し)|ので(?!しょう|す|は|な)|(?:(?<=[たるいだうすくぐぶむつ])|(?<=こと))から"
    r"|せいで|おかげで|きっかけ(?:に|で)?|を受けて?(?=[、,，])|を受けて"
)
_CAUSE_NOUN = re.compile(r"理由|原因|背景")
_CLAUSE_BREAK = re.compile(r"[、，,。．「」『』（）()\n]")


# What a how-many question counts, when it says so: an answer must carry a fitting unit.
# "How old is Tokayev?" is not answered by "8000人", nor a budget by a troop count.
_UNIT_CUES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p), units)
    for p, units in [
        (r"何歳|何才|年齢|\bhow\s+old\b|\bage\b", r"歳|才"),
        (
            r"何人|何名|人数|人口|死者|\bpopulation\b|\bdeath\s+toll\b|\bhow\s+many\s+(?:people|"
            r"persons|men|women|children|soldiers|troops|peacekeepers|civilians|protesters|"
            r"residents|citizens|personnel|troops|servicemen|police|officers|victims|dead)\b",
            r"人|名",
        ),
        (
            r"いくら|幾ら|予算|費用|金額|価格|\bhow\s+much\b|\bbudget\b|\bcost\b|\bprice\b",
            r"ドル|円|ルーブル|テンゲ|ユーロ|%|％|パーセント|倍",
        ),
        (r"面積|広さ|\barea\b", r"平方|km2|km²|ヘクタール"),
        (
            r"標高|高さ|深さ|長さ|\bhow\s+(?:deep|high|tall|long)\b|\b(?:elevation|altitude|"
            r"depth|height|length)\b",
            r"メートル|ｍ|(?<![a-zA-Z])m(?![a-zA-Z])|キロ|km",
        ),
        (r"何(?:カ国|か国|ヶ国|ケ国)|\bhow\s+many\s+(?:countries|nations|states)\b", r"国"),
        (r"何倍", r"倍"),
        (r"何年間|\bhow\s+many\s+years\b", r"年"),
        (r"何日間|\bhow\s+many\s+days\b", r"日"),
    ]
]


def expected_units(question: str) -> re.Pattern[str] | None:
    """The units a how-many answer must carry (人 for 何人, 歳 for "how old"), if the
    question says; None when any number with a counter will do."""
    text = unicodedata.normalize("NFKC", question).lower()
    for pattern, units in _UNIT_CUES:
        if pattern.search(text):
            return re.compile(units)
    return None


def answer_spans(sentence: str, qtype: QType) -> list[tuple[int, int]]:
    """Spans (start, end) of `sentence` that hold an answer of type `qtype`, in order.

    WHO: person names (UniDic 人名) and titles (首相, 大統領, 議長...) with the name before
    them; HOW_MANY: a number with a counter (2500人, 3機, 2倍); WHERE: place names (UniDic
    地名, マンギスタウ州, セブ湖); WHEN: dates and relative days (2022年1月6日, 6日, 昨年);
    WHY: the clause ending in ため/ので/から, or holding 理由/原因. WHAT has no span type.
    """
    if qtype is QType.WHO:
        spans = _who(sentence)
    elif qtype is QType.HOW_MANY:
        spans = [m.span() for m in _COUNT.finditer(sentence)]
    elif qtype is QType.WHERE:
        spans = _where(sentence)
    elif qtype is QType.WHEN:
        spans = [m.span() for m in _DATE.finditer(sentence)]
        spans += [m.span() for m in _RELATIVE_DATE.finditer(sentence)]
    elif qtype is QType.WHY:
        spans = _why(sentence)
    else:
        spans = []
    return _merge(spans)


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted spans with overlapping or touching ones joined."""
    out: list[tuple[int, int]] = []
    for s, e in sorted(x for x in spans if x[1] > x[0]):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def _who(sentence: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    tokens = tokenize_spans(sentence)
    names = [(t.start, t.end) for t in tokens if t.pos.startswith("名詞-固有名詞-人名")]
    for s, e in names:
        # Join the parts of a name (ニコル・パシヤン, given + family name).
        if spans and sentence[spans[-1][1] : s] in ("", "・", "･", " ", "\u3000"):
            spans[-1] = (spans[-1][0], e)
        else:
            spans.append((s, e))
    # UniDic tags some single characters and hiragana as given names (宇, よう): a name on
    # its own must look like one.
    spans = [(s, e) for s, e in spans if e - s >= 2 and not _HIRAGANA.match(sentence[s:e])]
    for m in _TITLE.finditer(sentence):
        start = m.start()
        # シャーマン米国務副長官: a country's one-kanji abbreviation may stand between.
        head = sentence[:start]
        if head[-1:] in _COUNTRY_ABBREVIATIONS:
            head = head[:-1]
        before = _NAME_BEFORE.search(head)
        if before:
            start = before.start()
        else:
            for s, e in spans:
                if e == m.start():
                    start = s
        if start == m.start() and m.group().lstrip("前元現次期新国務外防副") in _HONORIFIC_ONLY:
            continue
        spans.append((start, m.end()))
    return spans


def _where(sentence: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for t in tokenize_spans(sentence):
        # One-character "places" are mostly UniDic's guesses (幸, 宇).
        if not t.pos.startswith("名詞-固有名詞-地名") or t.end - t.start < 2:
            continue
        end = t.end
        m = _PLACE_SUFFIX.match(sentence, end)
        if m:
            end = m.end()
        spans.append((t.start, end))
    spans += [m.span() for m in _KATAKANA_PLACE.finditer(sentence)]
    return spans


def _why(sentence: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for m in _CAUSE_END.finditer(sentence):
        spans.append((_clause_start(sentence, m.start()), m.end()))
    for m in _CAUSE_NOUN.finditer(sentence):
        brk = _CLAUSE_BREAK.search(sentence, m.end())
        spans.append((_clause_start(sentence, m.start()), brk.start() if brk else len(sentence)))
    return spans


def is_title(term: str) -> bool:
    """Whether a term names a role (首相, 国防相, 議長), not a person."""
    return _TITLE.fullmatch(term) is not None


def clause_around(text: str, start: int, end: int) -> tuple[int, int]:
    """The clause holding text[start:end]: from the last break before it to the next one."""
    brk = _CLAUSE_BREAK.search(text, end)
    return _clause_start(text, start), brk.start() if brk else len(text)


def _clause_start(sentence: str, pos: int) -> int:
    """Where the clause holding `pos` starts: after the last comma, bracket or stop."""
    start = 0
    for m in _CLAUSE_BREAK.finditer(sentence, 0, pos):
        start = m.end()
    return start


# --- reading sentences for an answer -------------------------------------------------------

Span = tuple[int, int]


class AnswerReader:
    """Finds, in a passage, the sentences that answer a question and the answer spans in them.

    `group_of` maps each corpus term of the question to its word (group). An answer span is
    not the question's own word (議長 does not answer "who chairs CSTO?"), a bare title names
    nobody, a how-many answer carries the asked unit, and for who-questions about a role
    (国防次官の名前は?) the person is named in a clause with that role; a person introduced as
    another place's (アルメニアのパシヤン首相) does not answer a question naming a place.
    """

    def __init__(
        self, qtype: QType | None, units: re.Pattern[str] | None, group_of: dict[str, int]
    ) -> None:
        self.qtype = qtype
        self.units = units
        self.group_of = group_of
        who = qtype is QType.WHO
        self.roles = {g for t, g in group_of.items() if who and is_title(t)}
        self.asks_place = who and any(_is_place(t) for t in group_of)

    @property
    def typed(self) -> bool:
        return self.qtype is not None and self.qtype is not QType.WHAT

    def sentences(self, text: str) -> list[tuple[Span, list[Span], set[int]]]:
        """[(sentence span, answer spans in it, question words it holds)] in order; answer
        spans only for typed questions."""
        every = tokenize_spans(text)
        tokens = [t for t in every if t.term in self.group_of]
        foreign = self._foreign_starts(text, every) if self.asks_place else set()
        out = []
        for s, e in split_sentences(text):
            inside = [t for t in tokens if s <= t.start and t.end <= e]
            spans = self._spans(text, s, e, inside, foreign) if self.typed else []
            out.append(((s, e), spans, {self.group_of[t.term] for t in inside}))
        return out

    def _spans(self, text: str, s: int, e: int, inside, foreign: set[int]) -> list[Span]:
        assert self.qtype is not None
        spans = []
        for a, b in answer_spans(text[s:e], self.qtype):
            a, b = a + s, b + s
            if any(t.start <= a and b <= t.end for t in inside):
                continue  # the question's own word is no answer
            if self.qtype is QType.WHO and _TITLE.fullmatch(text[a:b]):
                continue  # 首脳 or 現議長 alone names nobody
            if self.units is not None and not self.units.search(text[a:b]):
                continue  # a troop count does not answer "how old"
            if self.roles and not self._mentions_role(inside, clause_around(text, a, b)):
                continue  # a person, but not the one in the asked role
            if a in foreign:
                continue  # another country's minister
            spans.append((a, b))
        return spans

    def _foreign_starts(self, text: str, tokens) -> set[int]:
        """Where a name introduced as another place's starts (after 「アルメニアの」)."""
        return {
            t.end + 1
            for t in tokens
            if t.pos.startswith("名詞-固有名詞-地名")
            and t.term not in self.group_of
            and text[t.end : t.end + 1] == "の"
        }

    def _mentions_role(self, tokens, span: Span) -> bool:
        s, e = span
        return any(
            self.group_of[t.term] in self.roles and s <= t.start and t.end <= e for t in tokens
        )


def _is_place(term: str) -> bool:
    return any(t.pos.startswith("名詞-固有名詞-地名") for t in tokenize_spans(term))
