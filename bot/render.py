"""Answer → Discord embeds and text, always within Discord's size limits.

Corpus text is untrusted layout-wise: a stray `*`, `|`, `#` or `<@123>` in a news article must
not turn a reply into a spoiler, a header or a mention. So corpus and question text is escaped
character by character first, and only then are our own bold marks added around the matched
terms, at offsets shifted by the escaping. Fitting never cuts rendered markdown: when an answer
is too long, the *raw* excerpt is shortened and rendered again, so marks and escapes stay whole.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from urllib.parse import quote

import discord

from bot.markdown import (
    CONTENT_LIMIT,
    ELLIPSIS,
    clip,
    escape_markdown,
    fit_rendered,
    one_line,
    plain,
    render_excerpt,
)
from bot.texts import Lang, searched_parts, text
from index.models import Answer, Citation, DocumentInfo, Hit, PassageView, ReindexReport, Stats

# Discord's documented limits (https://discord.com/developers/docs/resources/message).
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
COLOR = discord.Colour(0x2F6F9F)

# --- answers ------------------------------------------------------------------------------


def searched_text(answer: Answer, lang: Lang = "en") -> str:
    """What was searched, e.g. `searched: 議長 (chairs), csto` (see texts.searched_parts)."""
    parts = searched_parts(answer, lang)
    terms = ", ".join(parts) if parts else text("no_terms", lang)
    return clip(f"{text('searched', lang)}: {terms}", FOOTER_MAX)


_SAFE_URL = re.compile(r"https?://[^\s()<>\[\]]+")


def render_citation(citation: Citation, *, title_max: int = 100, cited: str = "") -> str:
    """`title — file §n (lines a–b)`, escaped; the title links to the source when known."""
    title = (
        citation.title
        if len(citation.title) <= title_max
        else (citation.title[: title_max - 1] + ELLIPSIS)
    )
    label = replace(citation, title=title).label()
    rest = escape_markdown(label[len(title) :])
    if citation.url and _SAFE_URL.fullmatch(citation.url):
        link = with_text_fragment(citation.url, cited) if cited else citation.url
        return f"[{escape_markdown(title)}]({link}){rest}"
    return escape_markdown(title) + rest


def _hit_block(number: int, hit: Hit, excerpt_md: str) -> str:
    cited = hit.excerpt.text.lstrip(ELLIPSIS)
    return f"**{number}.** {excerpt_md}\n↳ {render_citation(hit.citation, cited=cited)}"


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
        md = (
            full[i]
            if len(full[i]) <= allowance[i]
            else fit_rendered(hit.excerpt, allowance[i], render_excerpt)
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
    embed.description = description or text("no_more" if offset else "nothing_found", lang)
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


def render_passage(view: PassageView, lang: Lang = "en") -> discord.Embed:
    """A cited passage opened in full, with the sentence before and after it (in italics),
    its lines and its document; the title links to the page when the catalog has a URL."""
    heading = text(
        "passage_heading", lang, number=view.passage, first=view.line_start, last=view.line_end
    )
    embed = discord.Embed(title=plain(f"{view.title} {heading}", TITLE_LIMIT), colour=COLOR)
    if view.url and _SAFE_URL.fullmatch(view.url):
        embed.url = with_text_fragment(view.url, view.text)
    parts = []
    if view.before:
        parts.append(f"*…{escape_markdown(view.before)}*")
    parts.append(escape_markdown(view.text.strip()))
    if view.after:
        parts.append(f"*{escape_markdown(view.after)}…*")
    embed.description = clip("\n\n".join(parts), DESCRIPTION_LIMIT)
    embed.set_footer(text=clip(f"{view.path} · {view.passage}/{view.passages}", FOOTER_LIMIT))
    return embed


def with_text_fragment(url: str, cited: str) -> str:
    """`url#:~:text=…`, which browsers that support text fragments scroll to and highlight:
    the start of the cited text, up to its first sentence end or 40 characters."""
    start = cited.strip().split("\n", 1)[0]
    start = re.split(r"[。．！？!?]", start, maxsplit=1)[0][:40].strip()
    if not start or "#" in url:
        return url
    return f"{url}#:~:text={quote(start, safe='')}"


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
