"""Rendering answers for Discord: escaping, bold marks at the right offsets, and size limits."""

from __future__ import annotations

import re

import discord
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.markdown import CONTENT_LIMIT, clip, escape_markdown, render_excerpt, shorten_excerpt
from bot.render import (
    DESCRIPTION_LIMIT,
    EMBEDS_LIMIT,
    FIELD_VALUE_LIMIT,
    FOOTER_LIMIT,
    MESSAGE_EMBEDS_TOTAL,
    TITLE_LIMIT,
    fit_message,
    render_answer,
    render_citation,
    render_reindex,
    render_search_page,
    render_source,
    render_stats,
    searched_text,
)
from bot.texts import lang_for_text
from index.models import (
    Answer,
    Citation,
    DocumentInfo,
    Excerpt,
    Hit,
    ReindexReport,
    Stats,
)

# ---- a reader of Discord markdown, just enough to check what a user would see ---------------


def read_markdown(md: str) -> tuple[str, list[str]]:
    """(visible text, bold runs) as Discord shows `md`: `\\x` is a literal x, `**` toggles bold."""
    out: list[str] = []
    bold_runs: list[str] = []
    bold_start: int | None = None
    i = 0
    while i < len(md):
        if md[i] == "\\" and i + 1 < len(md):
            out.append(md[i + 1])
            i += 2
        elif md.startswith("**", i):
            if bold_start is None:
                bold_start = len("".join(out))
            else:
                bold_runs.append("".join(out)[bold_start:])
                bold_start = None
            i += 2
        else:
            out.append(md[i])
            i += 1
    assert bold_start is None, f"unclosed bold in {md!r}"
    return "".join(out).replace("@\u200b", "@"), bold_runs


def unescaped_specials(md: str) -> list[str]:
    """Markdown characters in `md` that are not escaped (our own `**` marks excluded)."""
    found = []
    i = 0
    while i < len(md):
        if md[i] == "\\":
            i += 2
            continue
        if md.startswith("**", i):
            i += 2
            continue
        if md[i] in "*_~`|[]<>#-":
            found.append(md[i])
        i += 1
    return found


HOSTILE = "\\*_~`|[]<>#-@.:1 \nabCSTO議長カ"
hostile_text = st.text(alphabet=HOSTILE, max_size=200).filter(lambda t: "http" not in t)


@st.composite
def excerpts(draw, max_size: int = 400) -> Excerpt:
    text = draw(st.text(alphabet=HOSTILE + "。、「」", min_size=1, max_size=max_size))
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=8, unique=True)))
    marks = tuple(
        (cuts[i], cuts[i + 1]) for i in range(0, len(cuts) - 1, 2) if cuts[i] < cuts[i + 1]
    )
    return Excerpt(text=text, start=0, end=len(text), marks=marks)


# ---- escaping and marks ----------------------------------------------------------------------


@given(hostile_text)
def test_escaping_keeps_the_text_and_makes_every_markdown_character_literal(text: str) -> None:
    escaped = escape_markdown(text)
    assert read_markdown(escaped) == (text, [])
    assert unescaped_specials(escaped) == []
    assert not re.search(r"@(everyone|here)", escaped)


def test_escaping_leaves_urls_whole() -> None:
    escaped = escape_markdown("see https://example.com/a_b-c*d and *this*")
    assert "https://example.com/a_b-c*d" in escaped and "\\*this\\*" in escaped


@given(excerpts())
@settings(max_examples=300)
def test_marks_are_bold_over_exactly_the_marked_text(excerpt: Excerpt) -> None:
    md = render_excerpt(excerpt)
    visible, bold = read_markdown(md)
    assert visible == excerpt.text
    merged = _merge([m for m in excerpt.marks if m[0] < m[1]])
    assert bold == [excerpt.text[s:e] for s, e in merged]


def _merge(marks: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in sorted(marks):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def test_marks_shift_past_escapes() -> None:
    text = "a*b_c CSTO_x の議長"
    excerpt = Excerpt(text, 0, len(text), marks=((6, 12), (14, 16)))
    assert render_excerpt(excerpt) == "a\\*b\\_c **CSTO\\_x** の**議長**"


def test_touching_marks_become_one_bold() -> None:
    excerpt = Excerpt("集団安全保障", 0, 6, marks=((0, 2), (2, 4)))
    assert render_excerpt(excerpt) == "**集団安全**保障"


@given(excerpts(), st.integers(1, 400))
def test_shortened_excerpt_keeps_the_first_mark_in_view(excerpt: Excerpt, chars: int) -> None:
    short = shorten_excerpt(excerpt, chars)
    assert len(short.text) <= chars + 2  # plus the ellipses
    if excerpt.marks and chars >= 8 and (first := min(excerpt.marks))[1] - first[0] <= chars // 2:
        assert excerpt.text[first[0] : first[1]] in short.text
    read_markdown(render_excerpt(short))  # still well-formed


# ---- answers fitted to Discord's limits --------------------------------------------------------


def make_hit(rank: int, excerpt: Excerpt, *, title: str = "集団安全保障条約機構", url=None) -> Hit:
    return Hit(
        rank=rank,
        score=1.0,
        passage_id=rank,
        text=excerpt.text,
        start=0,
        end=len(excerpt.text),
        excerpt=excerpt,
        citation=Citation(title, f"{rank:03d}_doc.txt", rank, 1, 3, url),
    )


def make_answer(hits: list[Hit], question: str = "CSTOの議長は誰?", **kwargs) -> Answer:
    return Answer(question=question, query_terms=kwargs.pop("terms", ["csto", "議長"]),
                  hits=hits, took_ms=3.0, **kwargs)


def assert_within_limits(embed: discord.Embed) -> None:
    data = embed.to_dict()
    assert len(data.get("title", "")) <= TITLE_LIMIT
    assert len(data.get("description", "")) <= DESCRIPTION_LIMIT
    assert len(data.get("footer", {}).get("text", "")) <= FOOTER_LIMIT
    assert all(len(f["value"]) <= FIELD_VALUE_LIMIT for f in data.get("fields", []))
    assert len(embed) <= MESSAGE_EMBEDS_TOTAL


def test_a_short_answer_is_shown_whole_with_numbered_citations() -> None:
    text = "CSTOの現議長であるアルメニアのパシニャン首相は派遣を確認した。"
    hits = [make_hit(i, Excerpt(text, 0, len(text), marks=((0, 4),))) for i in (1, 2)]
    embed = render_answer(make_answer(hits))
    assert embed.description == (
        f"**1.** **CSTO**{text[4:]}\n↳ 集団安全保障条約機構 — 001\\_doc.txt §1 (lines 1–3)\n\n"
        f"**2.** **CSTO**{text[4:]}\n↳ 集団安全保障条約機構 — 002\\_doc.txt §2 (lines 1–3)"
    )
    assert embed.title == "CSTOの議長は誰?"
    assert embed.footer.text == "searched: csto, 議長"


def test_a_huge_answer_is_fitted_without_breaking_markdown() -> None:
    text = ("議長*_|`#>-[x](y) " * 400) + "CSTO"
    hits = [
        make_hit(i, Excerpt(text, 0, len(text), marks=((5, 7), (len(text) - 4, len(text)))),
                 title="T" * 500)
        for i in range(1, 11)
    ]
    answer = make_answer(hits, question="Q" * 5000, terms=[f"term{i}" for i in range(500)])
    embed = render_answer(answer)
    assert_within_limits(embed)
    blocks = embed.description.split("\n\n")
    assert [b[: b.index(".**")] for b in blocks] == [f"**{i}" for i in range(1, len(blocks) + 1)]
    assert len(blocks) >= 5, "shortening shares the room, it does not drop hits early"
    for block in blocks:
        read_markdown(block)  # balanced bold, no dangling escape
        assert unescaped_specials(block.split("\n↳ ")[0]) == []


def test_excerpts_share_the_room_short_ones_stay_whole() -> None:
    short = "短い抜粋、CSTO。"
    long = "長い" * 3000
    hits = [make_hit(1, Excerpt(short, 0, len(short), marks=((5, 9),))),
            make_hit(2, Excerpt(long, 0, len(long), marks=((0, 2),)))]
    description = render_answer(make_answer(hits)).description
    assert "短い抜粋、**CSTO**。" in description
    assert "…" in description.split("\n\n")[1]


@given(
    st.lists(excerpts(max_size=3000), min_size=0, max_size=12),
    hostile_text,
    st.lists(hostile_text, max_size=30),
    st.text(max_size=300),
)
@settings(max_examples=60, deadline=None)
def test_any_answer_fits(excerpts_: list[Excerpt], question: str, terms: list[str],
                         title: str) -> None:
    hits = [make_hit(i, e, title=title or "t") for i, e in enumerate(excerpts_, 1)]
    answer = make_answer(hits, question=question, terms=terms,
                         translations={"chair": ["議長"] * 5})
    embed = render_answer(answer)
    assert_within_limits(embed)
    if hits:
        read_markdown(embed.description)
    content, embeds = fit_message("x" * 3000, [embed] * 12)
    assert len(content) <= CONTENT_LIMIT and len(embeds) <= EMBEDS_LIMIT
    assert sum(len(e) for e in embeds) <= MESSAGE_EMBEDS_TOTAL


def test_declined_answer_says_nothing_found_and_what_was_searched() -> None:
    answer = make_answer([], question="who chairs CSTO?", terms=["csto", "chair"],
                         translations={"chair": ["議長"]}, declined="nothing")
    embed = render_answer(answer)
    assert "Nothing relevant" in embed.description
    assert embed.footer.text == "searched: csto, 議長 (chair)"
    assert render_answer(answer, "ja").footer.text == "検索語: csto, 議長 (chair)"


def test_each_english_word_is_listed_once_beside_its_translations() -> None:
    """The footer lists the Japanese terms searched, not the English words as if searched."""
    answer = make_answer([], terms=["csto", "chairs"], translations={"chairs": ["議長", "座長"]})
    assert searched_text(answer) == "searched: csto, 議長/座長 (chairs)"
    answer.unsearched = ["today"]
    answer.query_terms.append("today")
    assert searched_text(answer).endswith(", today (not found)")


def test_citation_links_only_plain_http_urls() -> None:
    c = Citation("タイトル*", "a_b.txt", 2, 4, 4, "https://example.com/x")
    assert render_citation(c) == "[タイトル\\*](https://example.com/x) — a\\_b.txt §2 (line 4)"
    hostile = Citation("t", "a.txt", 1, 1, 1, "javascript:alert(1)")
    assert render_citation(hostile) == "t — a.txt §1 (line 1)"
    sneaky = Citation("t", "a.txt", 1, 1, 1, "https://e.com/a) [x](https://evil")
    assert "](" not in render_citation(sneaky)


def test_clip_never_leaves_a_dangling_escape_or_bold() -> None:
    assert clip("ab\\*cd", 4) == "ab…"
    assert clip("**bold text** more", 8) == "bold …"
    assert clip("short", 10) == "short"


def test_fit_message_caps_embeds_and_total_size() -> None:
    embeds = [discord.Embed(title="t", description="d" * 4000) for _ in range(12)]
    content, fitted = fit_message("c" * 2500, embeds)
    assert len(content) == CONTENT_LIMIT
    assert 1 <= len(fitted) <= EMBEDS_LIMIT
    assert sum(len(e) for e in fitted) <= MESSAGE_EMBEDS_TOTAL


# ---- the other commands' embeds ----------------------------------------------------------------


def test_search_page_rows_are_one_line_each() -> None:
    text = "一行目\n二行目の**CSTO**\n三行目"
    hits = [make_hit(i, Excerpt(text, 0, len(text), marks=((6, 14),))) for i in range(6, 11)]
    embed = render_search_page(make_answer(hits), offset=5, total=12)
    rows = embed.description.split("\n\n")
    assert [r.split(".** ")[0] for r in rows] == [f"**{i}" for i in range(6, 11)]
    assert all(r.count("\n") == 1 for r in rows)
    assert embed.footer.text.startswith("results 6–10 of 12 · searched:")
    assert_within_limits(embed)


def test_empty_later_search_page_says_no_more() -> None:
    embed = render_search_page(make_answer([]), offset=5, total=None)
    assert embed.description == "No more results."


def test_source_stats_and_reindex_embeds_fit() -> None:
    doc = DocumentInfo("a_b.txt", "T" * 400, 12, "https://e.com", "# head\n" * 1000)
    source = render_source(doc)
    assert_within_limits(source)
    assert source.description.startswith("\\# head")
    stats = render_stats(Stats(5, 65, 2, "2026-01-02T03:04:05+00:00", 7))
    fields = {f.name: f.value for f in stats.fields}
    assert fields["Last reindex"].startswith("<t:1767323045:f>")
    report = ReindexReport(added=1, warnings=["bad *file*"] * 500, seconds=1.5)
    embed = render_reindex(report, "ja")
    assert_within_limits(embed)
    assert {f.name: f.value for f in embed.fields}["追加"] == "1"


def test_language_of_a_channel_question_follows_its_script() -> None:
    assert lang_for_text("CSTOの議長は誰?") == "ja"
    assert lang_for_text("who chairs CSTO?") == "en"
