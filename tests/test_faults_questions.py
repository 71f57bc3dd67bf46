"""Hostile questions, property-based: whatever Unicode a user types -- emoji, combining marks,
right-to-left text, zero-width characters, Discord mention syntax, markdown fences, SQL, a
hundred thousand characters -- `Engine.ask` never raises, and what the bot would send never
pings anyone and always fits Discord's limits.

The corpus holds hostile text too (mentions, markdown, RTL marks), so questions that find it
exercise the excerpt and citation rendering of untrusted passages, not only of the question.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import Iterator

import discord
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot import answering
from bot.markdown import CONTENT_LIMIT
from bot.render import (
    DESCRIPTION_LIMIT,
    EMBEDS_LIMIT,
    FIELD_NAME_LIMIT,
    FIELD_VALUE_LIMIT,
    FOOTER_LIMIT,
    MESSAGE_EMBEDS_TOTAL,
    TITLE_LIMIT,
    render_search_page,
)
from index.engine import Engine
from index.models import Answer
from tests.conftest import BUNDLED

HOSTILE = [
    "@everyone",
    "@here",
    "<@4242>",
    "<@!4242>",
    "<@&920000000000000001>",
    "<#910000000000000001>",
    "</ask:123>",
    "<t:0:R>",
    "```",
    "```py\nprint(1)\n```",
    "**",
    "__",
    "||spoiler||",
    "~~",
    "> quote",
    "# header",
    "-# subtext",
    "[link](https://evil.example/x)",
    "https://evil.example/?a=1&b=<2>",
    "'; DROP TABLE documents; --",
    "\" OR 1=1 --",
    "%_\\",
    "\u202eRTL override",
    "\u200f\u05e9\u05dc\u05d5\u05dd",
    "مرحبا بالعالم",
    "\u200b\u200c\u200d\u2060\ufeff",
    "e\u0301\u0301\u0301\u0301\u0301",
    "Z̷̢̛̗͓͎̈́͌a̸̧̛͉̟͛l̵̖̈́g̶̱̈́o̴̰̿",
    "👍🏽👨‍👩‍👧‍👦🏳️‍🌈",
    "\U0001f600" * 50,
    "\t\r\n\x0b\x0c",
    "\x00\x01\x1b[31m",
]
CORPUS_WORDS = ["CSTO", "議長", "カザフスタン", "拘束", "部隊", "who", "chairs", "アルメニア"]

# Mention syntax that would render (and ping, if allowed) unless escaped with a backslash.
RAW_MENTION = re.compile(r"(?<!\\)<(?:@[!&]?|#|/[^>]*:)\d+>")
MASS_MENTION = re.compile(r"@(everyone|here)")

questions = st.lists(
    st.one_of(
        st.sampled_from(HOSTILE),
        st.sampled_from(CORPUS_WORDS),
        st.text(max_size=30),
        st.text(st.characters(min_codepoint=0x300, max_codepoint=0x36F), max_size=10),
    ),
    max_size=12,
).map(" ".join)

HOSTILE_CORPUS = {
    "mentions.txt": "通知 <@4242> と <@&920000000000000001> と @everyone @here へ\n"
    "CSTOの議長は <#910000000000000001> で発表した。||秘密|| **太字** `コード`\n",
    "markdown.txt": "# 見出し\n```\nCSTO 議長 コードブロック\n```\n> 引用 [リンク](https://evil.example)\n"
    "- リスト ~~取り消し~~ __下線__ カザフスタン\n",
    "rtl.txt": "\u202eカザフスタン\u202c の \u200b議長\u200d は \u200fمرحبا\u200e です。\n",
}


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """One event loop for the module: the engine's connection and every example share it."""
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture(scope="module")
def engine(
    loop: asyncio.AbstractEventLoop, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """The bundled corpus plus documents full of mentions, markdown and direction marks."""
    corpus = tmp_path_factory.mktemp("hostile-questions") / "corpus"
    corpus.mkdir()
    for path in BUNDLED.glob("*.txt"):
        (corpus / path.name).write_bytes(path.read_bytes())
    for name, text in HOSTILE_CORPUS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    engine = loop.run_until_complete(Engine.open(corpus, corpus.parent / "shirabe.db"))
    yield engine
    loop.run_until_complete(engine.close())


# ---- what Discord would accept, and what it would never ping --------------------------------


def assert_fits_discord(kwargs: dict) -> None:
    content, embeds = kwargs.get("content"), kwargs.get("embeds") or []
    assert content is None or len(content) <= CONTENT_LIMIT
    assert len(embeds) <= EMBEDS_LIMIT
    assert sum(len(e) for e in embeds) <= MESSAGE_EMBEDS_TOTAL
    for embed in embeds:
        assert len(embed.title or "") <= TITLE_LIMIT
        assert len(embed.description or "") <= DESCRIPTION_LIMIT
        assert len(embed.footer.text or "") <= FOOTER_LIMIT
        for f in embed.fields:
            assert len(f.name or "") <= FIELD_NAME_LIMIT and len(f.value or "") <= (
                FIELD_VALUE_LIMIT
            )


def assert_pings_nobody(kwargs: dict) -> None:
    allowed = kwargs["allowed_mentions"].to_dict()
    assert allowed["parse"] == [] and not allowed.get("users") and not allowed.get("roles")
    assert not allowed.get("replied_user"), allowed
    for text in visible_strings(kwargs):
        assert not RAW_MENTION.search(text), text
        assert not MASS_MENTION.search(text), text


def visible_strings(kwargs: dict) -> list[str]:
    out = [kwargs.get("content") or ""]
    for embed in kwargs.get("embeds") or []:
        out += [embed.title or "", embed.description or "", embed.footer.text or ""]
        out += [f"{f.name}\n{f.value}" for f in embed.fields]
    return out


def check_reply(reply: answering.Reply) -> dict:
    kwargs = reply.send_kwargs()
    assert_fits_discord(kwargs)
    assert_pings_nobody(kwargs)
    return kwargs


# ---- properties ----------------------------------------------------------------------------


SETTINGS = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@SETTINGS
@given(question=questions)
@example(question="CSTO 議長 " + " ".join(HOSTILE))
@example(question="通知 everyone here 議長")  # finds mentions.txt
@example(question="見出し コードブロック リスト 下線")  # finds markdown.txt
@example(question="カザフスタン 議長 مرحبا")  # finds rtl.txt
@example(question="議" * 100_000)
@example(question="\u200b" * 100_000)
@example(question="")
def test_any_question_is_answered_within_discords_rules(
    engine: Engine, loop: asyncio.AbstractEventLoop, question: str
) -> None:
    answer = loop.run_until_complete(engine.ask(question, 5))
    assert isinstance(answer, Answer)
    assert answer.hits or answer.declined or answer.problem
    for lang in ("en", "ja"):
        reply = loop.run_until_complete(answering.ask(engine, question, k=5, lang=lang))
        check_reply(reply)


@SETTINGS
@given(question=questions, offset=st.integers(min_value=0, max_value=60))
@example(question="CSTO 議長 @everyone <@4242>", offset=0)
@example(question="通知 everyone", offset=0)
def test_any_search_page_is_within_discords_rules(
    engine: Engine, loop: asyncio.AbstractEventLoop, question: str, offset: int
) -> None:
    answer = loop.run_until_complete(engine.search(question, k=5, offset=offset))
    embed = render_search_page(answer, offset=offset, total=answer.total_hits)
    check_reply(answering.Reply("answer", embeds=[embed]))


@settings(max_examples=40, deadline=None)
@given(question=questions)
@example(question="議" * 100_000)
def test_precheck_explains_within_the_limits(question: str) -> None:
    for lang in ("en", "ja"):
        problem = answering.question_problem(question, 500, lang)
        if problem is not None:
            check_reply(answering.Reply("problem", content=problem))


def test_hostile_corpus_text_is_found_and_rendered_harmless(
    engine: Engine, loop: asyncio.AbstractEventLoop
) -> None:
    """The examples above only prove something if the hostile documents are hits."""
    for question, doc in [
        ("通知 everyone here 議長", "mentions.txt"),
        ("見出し コードブロック リスト 下線", "markdown.txt"),
    ]:
        reply = loop.run_until_complete(answering.ask(engine, question, k=5, lang="en"))
        assert reply.answer is not None
        assert doc in [h.citation.doc for h in reply.answer.hits], question
        description = check_reply(reply)["embeds"][0].description
        assert doc.replace(".", "") in description.replace("\\", "").replace(".", "")


def test_sql_looking_questions_are_logged_verbatim(
    engine: Engine, loop: asyncio.AbstractEventLoop
) -> None:
    question = "'); DROP TABLE documents; -- CSTO 議長 \" OR 1=1"
    answer = loop.run_until_complete(engine.ask(question))
    loop.run_until_complete(
        engine.log_query(guild_id=1, channel_id=2, question=question, answer=answer)
    )
    con = sqlite3.connect(engine.db_path)
    try:
        logged = con.execute("SELECT question FROM query_log ORDER BY id DESC LIMIT 1").fetchone()
        documents = con.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
    finally:
        con.close()
    assert logged == (question,) and documents > 0


LONE_SURROGATES = "CSTO\udcff議長\ud800"  # what surrogateescape makes of invalid UTF-8 input


def test_lone_surrogates_reach_the_bot_as_a_normal_question(
    engine: Engine, loop: asyncio.AbstractEventLoop
) -> None:
    """JSON allows "\\ud800" escapes and a POSIX-locale terminal turns invalid UTF-8 into
    surrogates; the bot replaces them (U+FFFD) before the engine sees the question."""
    reply = loop.run_until_complete(answering.ask(engine, LONE_SURROGATES, k=3, lang="en"))
    kwargs = check_reply(reply)
    assert reply.kind == "answer"
    for text in visible_strings(kwargs):
        text.encode("utf-8")  # nothing Discord's JSON could reject


def test_engine_takes_lone_surrogates(engine: Engine, loop: asyncio.AbstractEventLoop) -> None:
    """Engine request 8, fixed: the engine itself takes any str."""
    answer = loop.run_until_complete(engine.ask(LONE_SURROGATES))
    assert answer.hits, answer.declined


def test_discord_allowed_mentions_none_is_what_we_check() -> None:
    """Guard: what discord.py sends for AllowedMentions.none() is what the checks above read."""
    assert discord.AllowedMentions.none().to_dict() == {"parse": []}
