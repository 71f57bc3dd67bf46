"""The values that cross the seam between the engine (`index/`) and its front ends (`bot/`).

Everything a user sees -- CLI text, JSON, Discord embeds -- is rendered from these, so they
carry positions (offsets into the document and passage) rather than pre-rendered strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from index.verdict import Signals


@dataclass(frozen=True)
class Document:
    """One corpus file as ingested; `text` is the decoded text all offsets refer to."""

    path: str  # relative to the corpus folder, with forward slashes
    title: str
    text: str
    sha256: str
    mtime: float
    encoding: str
    url: str | None = None
    date: str | None = None
    size: int | None = None  # bytes, when the file's status vouches for them (ingest.Stamp)


@dataclass(frozen=True)
class Passage:
    """A run of whole sentences; `document.text[start:end] == text` always holds."""

    ordinal: int  # 0-based position in its document
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Citation:
    """Where a hit comes from, precise enough to check against the file."""

    title: str
    doc: str  # path relative to the corpus folder
    passage: int  # 1-based passage number within the document
    line_start: int  # 1-based, inclusive
    line_end: int  # 1-based, inclusive
    url: str | None = None

    def label(self) -> str:
        """Short human form used by every renderer: `title — file §n (lines a–b)`."""
        lines = (
            f"line {self.line_start}"
            if self.line_start == self.line_end
            else f"lines {self.line_start}–{self.line_end}"
        )
        return f"{self.title} — {self.doc} §{self.passage} ({lines})"


@dataclass(frozen=True)
class Excerpt:
    """1–3 sentences of a passage; `marks` are (start, end) spans of matched terms in `text`."""

    text: str  # includes a leading/trailing "…" where the passage was cut
    start: int  # offset of the excerpt's first real character in the passage
    end: int
    marks: tuple[tuple[int, int], ...] = ()
    answer_span: tuple[int, int] | None = None  # span of a likely answer, in `text`

    def marked(self, left: str, right: str, answer_left: str = "", answer_right: str = "") -> str:
        """The excerpt with every mark wrapped in `left`/`right` (e.g. `**`, `**`) and the
        answer span, if any, in `answer_left`/`answer_right` (e.g. `__`, `__`)."""
        inserts: list[tuple[int, int, str]] = []  # (position, order, text); closers first
        for s, e in self.marks:
            inserts += [(s, 2, left), (e, 1, right)]
        if self.answer_span and (answer_left or answer_right):
            s, e = self.answer_span
            inserts += [(s, 0, answer_left), (e, 3, answer_right)]
        out: list[str] = []
        pos = 0
        for at, _, text in sorted(inserts):
            out.append(self.text[pos:at] + text)
            pos = at
        out.append(self.text[pos:])
        return "".join(out)


@dataclass(frozen=True)
class Hit:
    rank: int  # 1-based
    score: float
    passage_id: int  # stable row id in the store
    text: str  # the whole passage
    start: int  # offsets of the passage in its document
    end: int
    excerpt: Excerpt
    citation: Citation
    coverage: float = 1.0  # share of the question's weight this passage holds
    similarity: float | None = None  # question-passage cosine, when re-ranked
    fused: float | None = None  # the score hits are ordered by


@dataclass(frozen=True)
class AnswerLine:
    """The sentence that states the answer, from one of the hits (index.verdict)."""

    rank: int  # the hit it comes from (1-based, as Hit.rank)
    sentence: str
    start: int  # the sentence's offsets in that hit's passage text
    end: int
    span: tuple[int, int] | None = None  # the answer (a name, a number) within `sentence`

    def marked(self, left: str, right: str) -> str:
        """The sentence with its answer span wrapped (《…》 on a terminal, ** on Discord)."""
        if self.span is None:
            return self.sentence
        a, b = self.span
        return self.sentence[:a] + left + self.sentence[a:b] + right + self.sentence[b:]


@dataclass
class Answer:
    """The result of one question. `hits` is empty when the verdict is "nothing"."""

    question: str
    query_terms: list[str]
    hits: list[Hit]
    took_ms: float
    translations: dict[str, list[str]] = field(default_factory=dict)
    verdict: str | None = None  # "answered" | "related" | "nothing" (None: a problem)
    reason: str | None = None  # why that verdict, in words a reader is shown
    answer: AnswerLine | None = None  # the stating sentence, when answered
    signals: Signals | None = None  # what the verdict was decided from
    declined: str | None = None  # the reason, when the verdict is "nothing"
    problem: str | None = None  # a user-facing explanation for bad input (empty, too long…)
    best_coverage: float | None = None  # share of the question's weight the best passage holds
    best_similarity: float | None = None  # the pool's best question-passage cosine
    qtype: str | None = None  # what the question asks for: who, how_many, where, when, why
    total_hits: int | None = None  # passages holding any query term (set by Engine.search)
    unsearched: list[str] = field(default_factory=list)  # words no document term stands for
    answer_support: float | None = None  # best share of the question in an answering sentence
    # A sentence of the shown passages holds an answer of the asked type (None: untyped).
    answer_found: bool | None = None
    best_sentence_similarity: float | None = None  # best question-sentence cosine, top passages


@dataclass
class ReindexReport:
    added: int = 0
    changed: int = 0
    removed: int = 0
    skipped: int = 0  # files that could not be read or decoded (see warnings)
    unchanged: int = 0
    retitled: int = 0  # unchanged files whose title, url or date changed (catalog edits)
    documents: int = 0
    passages: int = 0
    passages_tokenized: int = 0  # passages of added or changed files
    segments_merged: int = 0  # segments rewritten into fewer by the tiered merge policy
    seconds: float = 0.0
    generation: int = 0
    warnings: list[str] = field(default_factory=list)
    kept_previous: str | None = None  # set when the build refused to replace the old index



@dataclass(frozen=True)
class DocumentInfo:
    """What `/source` and autocomplete need about a document, without its whole text."""

    path: str
    title: str
    passages: int
    url: str | None
    first_lines: str


@dataclass(frozen=True)
class PassageView:
    """One passage opened from a citation: its text with the sentence before and after."""

    path: str
    title: str
    url: str | None
    passage: int  # 1-based, as in citations (§7)
    passages: int  # how many the document has
    line_start: int
    line_end: int
    text: str
    before: str  # the last sentence of the previous passage ("" for the first)
    after: str  # the first sentence of the next passage ("" for the last)


@dataclass(frozen=True)
class Stats:
    documents: int
    passages: int
    generation: int
    last_reindex: str | None  # ISO 8601 UTC
    questions_answered: int


@dataclass(frozen=True)
class UnansweredQuestion:
    """Askings of one wording that got "nothing" or "related", or a 👎 (`/unanswered`)."""

    question: str  # the latest wording as asked
    wording: str  # the normalized form the askings are grouped by
    count: int  # askings in the window that count as unanswered
    nothing: int  # of those, with the verdict "nothing"
    related: int  # ... and "related"
    down_votes: int  # 👎 on them
    first_at: str  # ISO 8601 UTC
    last_at: str
