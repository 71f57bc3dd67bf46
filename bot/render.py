"""Answer → Discord embeds and text, always within Discord's size limits.

Corpus text is untrusted layout-wise: a stray `*`, `|`, `#` or `<@123>` in a news article must
not turn a reply into a spoiler, a header or a mention. So corpus and question text is escaped
character by character first, and only then are our own bold marks added around the matched
terms, at offsets shifted by the escaping. Fitting never cuts rendered markdown: when an answer
is too long, the *raw* excerpt is shortened and rendered again, so marks and escapes stay whole.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Literal

import discord

from index.models import Answer, Citation, DocumentInfo, Excerpt, Hit, ReindexReport, Stats

# Discord's documented limits (https://discord.com/developers/docs/resources/message).
CONTENT_LIMIT = 2000
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
FIELDS_LIMIT = 25
EMBEDS_LIMIT = 10
MESSAGE_EMBEDS_TOTAL = 6000

EXCERPT_MAX = 900  # rendered characters per excerpt in /ask, for readability before limits
SEARCH_LINE_MAX = 160  # rendered characters of the one-line excerpt in /search
FOOTER_MAX = 400  # the "searched:" line; longer ones are cut with an ellipsis
LEAD_LIMIT = 500  # the answer line's share of the embed description
MIN_EXCERPT = 60  # below this an excerpt says nothing; drop trailing hits instead
ELLIPSIS = "…"
COLOR = discord.Colour(0x2F6F9F)

Lang = Literal["en", "ja"]

TEXT: dict[str, dict[Lang, str]] = {
    "nothing_found": {
        "en": "Nothing relevant was found in the corpus.",
        "ja": "コーパスに関連する記述は見つかりませんでした。",
    },
    "searched": {"en": "searched", "ja": "検索語"},
    "answer_lead": {"en": "Answer", "ja": "回答"},
    "related_lead": {
        "en": "No passage states this directly ({reason}); the closest passages:",
        "ja": "この問いに直接答える記述はありません({reason})。近い記述:",
    },
    "no_terms": {"en": "(no search terms)", "ja": "(検索語なし)"},
    "empty": {
        "en": "Please ask a question in Japanese or English, e.g. “CSTOの議長は誰?”.",
        "ja": "質問を入力してください(例:「CSTOの議長は誰?」)。",
    },
    "no_words": {
        "en": "That question has no words to search for.",
        "ja": "検索できる語が含まれていません。",
    },
    "too_long": {
        "en": "Questions can be at most {limit} characters (this one has {length}).",
        "ja": "質問は{limit}文字までです(この質問は{length}文字です)。",
    },
    "cooldown": {
        "en": "You are asking quickly — please try again in {seconds} s.",
        "ja": "少し時間をおいて、{seconds}秒後にもう一度どうぞ。",
    },
    "error": {
        "en": "Sorry, something went wrong while answering. The error has been logged.",
        "ja": "申し訳ありません、処理中にエラーが発生しました(ログに記録しました)。",
    },
    "unknown_command": {
        "en": "Sorry, this command is not available (commands may still be updating).",
        "ja": "申し訳ありません、このコマンドは現在使えません(更新中の可能性があります)。",
    },
    "reindex_refused": {
        "en": "Only members with the Manage Server permission or configured bot admins can run "
        "/reindex.",
        "ja": "/reindex はサーバー管理権限を持つメンバーか、設定された管理者だけが実行できます。",
    },
    "reindex_running": {
        "en": "A reindex is already running; please try again when it has finished.",
        "ja": "再インデックスはすでに実行中です。終わってからもう一度どうぞ。",
    },
    "reindex_done": {"en": "Reindex finished", "ja": "再インデックス完了"},
    "reindex_failed": {
        "en": "The reindex failed: {reason}",
        "ja": "再インデックスに失敗しました: {reason}",
    },
    "late_reply": {
        "en": "{command} by {user} has finished:",
        "ja": "{user} さんの {command} が完了しました:",
    },
    "reindex_kept": {"en": "Index kept unchanged", "ja": "インデックスは変更されませんでした"},
    "no_document": {
        "en": "No document named “{name}”.",
        "ja": "「{name}」という文書は見つかりません。",
    },
    "search_title": {"en": "Search: {query}", "ja": "検索: {query}"},
    "results": {"en": "results {first}–{last}", "ja": "{first}–{last}件目"},
    "of_total": {"en": " of {total}", "ja": "(全{total}件)"},
    "no_more": {"en": "No more results.", "ja": "これ以上の結果はありません。"},
    "previous": {"en": "◀ Previous", "ja": "◀ 前へ"},
    "next": {"en": "Next ▶", "ja": "次へ ▶"},
    "stats_title": {"en": "Index statistics", "ja": "インデックスの統計"},
    "documents": {"en": "Documents", "ja": "文書"},
    "passages": {"en": "Passages", "ja": "段落"},
    "generation": {"en": "Generation", "ja": "世代"},
    "last_reindex": {"en": "Last reindex", "ja": "最終再インデックス"},
    "never": {"en": "never", "ja": "なし"},
    "questions": {"en": "Questions answered", "ja": "回答した質問"},
    "file": {"en": "File", "ja": "ファイル"},
    "added": {"en": "Added", "ja": "追加"},
    "changed": {"en": "Changed", "ja": "変更"},
    "removed": {"en": "Removed", "ja": "削除"},
    "skipped": {"en": "Skipped", "ja": "スキップ"},
    "unchanged": {"en": "Unchanged", "ja": "変更なし"},
    "seconds": {"en": "Seconds", "ja": "秒"},
    "warnings": {"en": "Warnings", "ja": "警告"},
}


def text(key: str, lang: Lang = "en", **values: object) -> str:
    """A user-facing string in `lang`, formatted with `values`."""
    return TEXT[key][lang].format(**values)


_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uff66-\uff9f]")


def lang_for_locale(locale: discord.Locale | None) -> Lang:
    """Japanese for users whose Discord client is in Japanese, English otherwise."""
    return "ja" if locale == discord.Locale.japanese else "en"


def lang_for_text(question: str) -> Lang:
    """Channel messages carry no locale, so answer in the script the question was asked in."""
    return "ja" if _JAPANESE.search(question) else "en"


# --- escaping ---------------------------------------------------------------------------

# Characters that start or end Discord markdown anywhere in a line: bold/italic, underline,
# strike, code, spoiler, masked links, custom emoji / mentions / timestamps (`<...>`), and the
# line-start forms (quote `>`, header `#`, list / subtext `-`), escaped everywhere for safety.
_SPECIAL = frozenset("\\*_~`|[]<>#-")
_URL = re.compile(r"https?://[^\s<]+[^<.,:;\"')\]\s]")
_LIST_NUMBER_DOT = re.compile(r"(?m)^[ \t]*\d+(\.)(?=\s)")
_MASS_MENTION = re.compile(r"@(?=everyone|here)")


def _escape_map(text: str) -> tuple[str, list[int]]:
    """Escaped `text`, and where each original offset (0..len) lands in the escaped text.

    URLs are left alone (a backslash inside one would break the link); `@everyone`/`@here`
    get a zero-width space so they cannot even look like a mass mention.
    """
    keep = set()
    for m in _URL.finditer(text):
        keep.update(range(m.start(), m.end()))
    dots = {m.start(1) for m in _LIST_NUMBER_DOT.finditer(text)}
    mass = {m.start() for m in _MASS_MENTION.finditer(text)}
    out: list[str] = []
    offsets: list[int] = []
    pos = 0
    for i, ch in enumerate(text):
        offsets.append(pos)
        if i in keep:
            piece = ch
        elif ch in _SPECIAL or i in dots:
            piece = "\\" + ch
        elif i in mass:
            piece = "@\u200b"
        else:
            piece = ch
        out.append(piece)
        pos += len(piece)
    offsets.append(pos)
    return "".join(out), offsets


def escape_markdown(text: str) -> str:
    """`text` with every Discord markdown and mention trigger made literal."""
    return _escape_map(text)[0]


def _normalized_marks(marks: Sequence[tuple[int, int]], length: int) -> list[tuple[int, int]]:
    """Sorted, clipped, non-empty marks with touching or overlapping ones merged.

    Touching marks would render as `**a****b**`, which Discord does not read as two bolds.
    """
    spans = sorted((max(0, s), min(length, e)) for s, e in marks)
    merged: list[tuple[int, int]] = []
    for s, e in spans:
        if e <= s:
            continue
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def render_excerpt(excerpt: Excerpt) -> str:
    """The excerpt escaped, then with matched terms in bold (`Excerpt.marked("**", "**")`)."""
    marks = _normalized_marks(excerpt.marks, len(excerpt.text))
    escaped, offsets = _escape_map(excerpt.text)
    shifted = tuple((offsets[s], offsets[e]) for s, e in marks)
    return replace(excerpt, text=escaped, marks=shifted, answer_span=None).marked("**", "**")


def shorten_excerpt(excerpt: Excerpt, chars: int) -> Excerpt:
    """A window of at most `chars` raw characters (plus ellipses), kept around the first mark."""
    text_ = excerpt.text
    if len(text_) <= chars:
        return excerpt
    chars = max(chars, 1)
    first = min((s for s, _ in excerpt.marks), default=0)
    start = max(0, min(first - chars // 4, len(text_) - chars))
    end = start + chars
    body = text_[start:end]
    lead = ELLIPSIS if start > 0 and not body.startswith(ELLIPSIS) else ""
    tail = ELLIPSIS if end < len(text_) else ""
    shift = len(lead) - start
    marks = tuple(
        (max(s, start) + shift, min(e, end) + shift)
        for s, e in excerpt.marks
        if e > start and s < end
    )
    return replace(excerpt, text=lead + body + tail, marks=marks, answer_span=None)


def fit_rendered(excerpt: Excerpt, budget: int, render: Callable[[Excerpt], str]) -> str:
    """The longest window of `excerpt` whose rendering fits in `budget` characters.

    Rendering grows with the window (escapes and marks only add characters), so a binary
    search over the raw window length finds it; only candidates that fit are ever returned.
    """
    full = render(excerpt)
    if len(full) <= budget:
        return full
    best = ELLIPSIS if budget >= len(ELLIPSIS) else ""
    lo, hi = 1, len(excerpt.text) - 1
    while lo <= hi:
        mid = (lo + hi) // 2
        candidate = render(shorten_excerpt(excerpt, mid))
        if len(candidate) <= budget:
            best, lo = candidate, mid + 1
        else:
            hi = mid - 1
    return best


def one_line(excerpt: Excerpt) -> Excerpt:
    """The excerpt with line breaks as spaces, for list rows; offsets are unchanged."""
    return replace(excerpt, text=re.sub(r"\s", " ", excerpt.text))


# --- plain clipping (guards for text we build ourselves) ----------------------------------


def clip(text_: str, limit: int) -> str:
    """`text_` cut to `limit` characters with an ellipsis, never ending in a lone backslash."""
    if len(text_) <= limit:
        return text_
    cut = text_[: max(0, limit - 1)]
    trailing = len(cut) - len(cut.rstrip("\\"))
    if trailing % 2:
        cut = cut[:-1]
    if len(re.findall(r"(?<!\\)\*\*", cut)) % 2:  # an unclosed bold would swallow the rest
        i = cut.rfind("**")
        cut = cut[:i] + cut[i + 2 :]
    return cut + ELLIPSIS


def plain(text_: str, limit: int = CONTENT_LIMIT) -> str:
    """Untrusted text for a message body: escaped and clipped."""
    return clip(escape_markdown(text_), limit)


# --- answers ------------------------------------------------------------------------------


def searched_text(answer: Answer, lang: Lang = "en") -> str:
    """What was searched, e.g. `searched: CSTO, 議長 (chair)`: terms with their English source."""
    glosses: dict[str, list[str]] = {}
    for source, targets in answer.translations.items():
        for target in targets:
            glosses.setdefault(target, []).append(source)
    parts: list[str] = []
    for term in dict.fromkeys(answer.query_terms):
        sources = glosses.pop(term, None)
        parts.append(f"{term} ({', '.join(sources)})" if sources else term)
    parts.extend(f"{t} ({', '.join(s)})" for t, s in glosses.items())
    terms = ", ".join(parts) if parts else text("no_terms", lang)
    return clip(f"{text('searched', lang)}: {terms}", FOOTER_MAX)


_SAFE_URL = re.compile(r"https?://[^\s()<>\[\]]+")


def render_citation(citation: Citation, *, title_max: int = 100) -> str:
    """`title — file §n (lines a–b)`, escaped; the title links to the source when known."""
    title = citation.title if len(citation.title) <= title_max else (
        citation.title[: title_max - 1] + ELLIPSIS
    )
    label = replace(citation, title=title).label()
    rest = escape_markdown(label[len(title) :])
    if citation.url and _SAFE_URL.fullmatch(citation.url):
        return f"[{escape_markdown(title)}]({citation.url}){rest}"
    return escape_markdown(title) + rest


def _hit_block(number: int, hit: Hit, excerpt_md: str) -> str:
    return f"**{number}.** {excerpt_md}\n↳ {render_citation(hit.citation)}"


def fit_hit_blocks(hits: Sequence[Hit], budget: int, *, sep: str = "\n\n") -> str:
    """Numbered excerpts with citations, shortened fairly so all of them fit in `budget`.

    Short excerpts keep their full text; the rest share what is left equally (water-filling).
    If even `MIN_EXCERPT` characters each do not fit, trailing hits are dropped.
    """
    hits = list(hits)
    while hits:
        overheads = [len(_hit_block(i, h, "")) for i, h in enumerate(hits, 1)]
        available = budget - sum(overheads) - len(sep) * (len(hits) - 1)
        if available >= MIN_EXCERPT * len(hits):
            break
        hits.pop()
    if not hits:
        return ""
    full = [render_excerpt(h.excerpt) for h in hits]
    wants = [min(len(f), EXCERPT_MAX) for f in full]
    allowance = [0] * len(hits)
    remaining = available
    order = sorted(range(len(hits)), key=lambda i: wants[i])
    for n_left, i in zip(range(len(hits), 0, -1), order, strict=True):
        allowance[i] = min(wants[i], remaining // n_left)
        remaining -= allowance[i]
    blocks = []
    for i, hit in enumerate(hits):
        md = full[i] if len(full[i]) <= allowance[i] else fit_rendered(
            hit.excerpt, allowance[i], render_excerpt
        )
        blocks.append(_hit_block(i + 1, hit, md))
    return sep.join(blocks)


def question_title(question: str) -> str:
    """The question as an embed title: one line, escaped, within the title limit."""
    return plain(" ".join(question.split()), TITLE_LIMIT)


def render_answer(answer: Answer, lang: Lang = "en") -> discord.Embed:
    """One embed for one answer: numbered excerpts with citations, searched terms in the footer.

    Declined answers become a short "nothing relevant" embed with the same footer.
    """
    title = question_title(answer.question)
    footer = searched_text(answer, lang)
    embed = discord.Embed(title=title, colour=COLOR)
    embed.set_footer(text=footer)
    if not answer.hits:
        embed.description = text("nothing_found", lang)
        return embed
    lead = render_lead(answer, lang)
    budget = min(DESCRIPTION_LIMIT, MESSAGE_EMBEDS_TOTAL - len(title) - len(footer))
    budget -= len(lead) + 2 if lead else 0
    blocks = fit_hit_blocks(answer.hits, budget)
    embed.description = f"{lead}\n\n{blocks}" if lead else blocks
    return embed


def render_lead(answer: Answer, lang: Lang = "en") -> str:
    """The reply's first line, from the verdict: the answering sentence with the answer (the
    name, the number) in bold underline and the number of the excerpt it comes from; or,
    when no passage states the asked fact, a plain note saying so before the passages."""
    line = answer.answer
    if line is not None:
        a, b = line.span if line.span else (len(line.sentence), len(line.sentence))
        sentence = " ".join(line.sentence.split()) if line.span is None else line.sentence
        body = (
            escape_markdown(sentence[:a])
            + (f"__**{escape_markdown(sentence[a:b])}**__" if b > a else "")
            + escape_markdown(sentence[b:])
        )
        return clip(f"**{text('answer_lead', lang)}:** {body} [{line.rank}]", LEAD_LIMIT)
    if answer.verdict == "related":
        return f"*{escape_markdown(text('related_lead', lang, reason=answer.reason or ''))}*"
    return ""


def render_problem(answer: Answer) -> str:
    """The engine's explanation of a bad question, as message content."""
    return plain(answer.problem or "", CONTENT_LIMIT)


def render_search_page(
    answer: Answer, *, offset: int, total: int | None, lang: Lang = "en"
) -> discord.Embed:
    """One page of /search: rank, title, file, passage number and a one-line excerpt each."""
    embed = discord.Embed(
        title=clip(text("search_title", lang, query=question_title(answer.question)), TITLE_LIMIT),
        colour=COLOR,
    )
    lines = []
    for hit in answer.hits:
        c = hit.citation
        head = f"**{hit.rank}.** {render_citation(c, title_max=80)}"
        excerpt = fit_rendered(one_line(hit.excerpt), SEARCH_LINE_MAX, render_excerpt)
        lines.append(f"{head}\n{excerpt}")
    footer = searched_text(answer, lang)
    if answer.hits:
        first, last = offset + 1, offset + len(answer.hits)
        where = text("results", lang, first=first, last=last)
        if total is not None:
            where += text("of_total", lang, total=total)
        footer = f"{where} · {footer}"
    embed.set_footer(text=clip(footer, FOOTER_LIMIT))
    budget = min(DESCRIPTION_LIMIT, MESSAGE_EMBEDS_TOTAL - len(embed.title or "") - len(footer))
    description = ""
    for line in lines:  # whole rows only; a page of 5 rows of ~400 chars never gets near this
        candidate = f"{description}\n\n{line}" if description else line
        if len(candidate) > budget:
            break
        description = candidate
    embed.description = description or text(
        "no_more" if offset else "nothing_found", lang
    )
    return embed


def render_source(doc: DocumentInfo, lang: Lang = "en") -> discord.Embed:
    """/source: title, file, passage count and the first lines of the document."""
    embed = discord.Embed(title=plain(doc.title, TITLE_LIMIT), colour=COLOR)
    if doc.url and _SAFE_URL.fullmatch(doc.url):
        embed.url = doc.url
    embed.add_field(name=text("file", lang), value=plain(doc.path, FIELD_VALUE_LIMIT))
    embed.add_field(name=text("passages", lang), value=str(doc.passages))
    embed.description = plain(doc.first_lines.strip(), 1500)
    return embed


def render_reindex(report: ReindexReport, lang: Lang = "en") -> discord.Embed:
    """/reindex: what changed and how long it took."""
    title = text("reindex_kept" if report.kept_previous else "reindex_done", lang)
    embed = discord.Embed(title=title, colour=COLOR)
    for key in ("added", "changed", "removed", "skipped", "unchanged"):
        embed.add_field(name=text(key, lang), value=str(getattr(report, key)))
    embed.add_field(name=text("seconds", lang), value=f"{report.seconds:.2f}")
    embed.add_field(name=text("documents", lang), value=str(report.documents))
    embed.add_field(name=text("passages", lang), value=str(report.passages))
    notes = ([report.kept_previous] if report.kept_previous else []) + list(report.warnings)
    if notes:
        embed.description = clip("\n".join(f"• {plain(n, 300)}" for n in notes), 2000)
    return embed


def render_stats(stats: Stats, lang: Lang = "en") -> discord.Embed:
    """/stats: documents, passages, last reindex time and questions answered."""
    embed = discord.Embed(title=text("stats_title", lang), colour=COLOR)
    embed.add_field(name=text("documents", lang), value=str(stats.documents))
    embed.add_field(name=text("passages", lang), value=str(stats.passages))
    embed.add_field(name=text("questions", lang), value=str(stats.questions_answered))
    embed.add_field(name=text("last_reindex", lang), value=_when(stats.last_reindex, lang))
    embed.add_field(name=text("generation", lang), value=str(stats.generation))
    return embed


def _when(iso: str | None, lang: Lang) -> str:
    """An ISO time as a Discord timestamp (shown in each reader's time zone), plus the raw value."""
    if not iso:
        return text("never", lang)
    try:
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return plain(iso, 100)
    return f"<t:{int(moment.timestamp())}:f> ({plain(iso, 60)})"


def fit_message(
    content: str | None, embeds: Sequence[discord.Embed]
) -> tuple[str | None, list[discord.Embed]]:
    """A last guard before sending: content ≤ 2,000, ≤ 10 embeds, ≤ 6,000 characters in total.

    Renderers above already fit; this only clips what slipped through (say, a huge title from a
    future renderer) so Discord never rejects a reply with 400 and the user never gets silence.
    """
    content = clip(content, CONTENT_LIMIT) if content else content
    kept: list[discord.Embed] = []
    total = 0
    for embed in list(embeds)[:EMBEDS_LIMIT]:
        _clip_embed(embed)
        room = MESSAGE_EMBEDS_TOTAL - total
        if len(embed) > room and embed.description:
            over = len(embed) - room
            embed.description = clip(embed.description, max(0, len(embed.description) - over))
        if len(embed) > room:
            break
        kept.append(embed)
        total += len(embed)
    return content, kept


def _clip_embed(embed: discord.Embed) -> None:
    if embed.title:
        embed.title = clip(embed.title, TITLE_LIMIT)
    if embed.description:
        embed.description = clip(embed.description, DESCRIPTION_LIMIT)
    if embed.footer.text:
        embed.set_footer(text=clip(embed.footer.text, FOOTER_LIMIT), icon_url=embed.footer.icon_url)
    fields = embed.fields[:FIELDS_LIMIT]
    embed.clear_fields()
    for f in fields:
        embed.add_field(
            name=clip(f.name or "\u200b", FIELD_NAME_LIMIT),
            value=clip(f.value or "\u200b", FIELD_VALUE_LIMIT),
            inline=bool(f.inline),
        )
