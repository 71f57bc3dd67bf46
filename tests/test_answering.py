"""The shared question path: prechecks, the cooldown, and deferring slow interaction replies."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from bot import answering
from bot.answering import Reply, precheck, question_problem, respond
from bot.cogs.questions import strip_mentions
from bot.cogs.source import document_choice
from bot.config import load_config
from bot.cooldown import Cooldown
from index.models import DocumentInfo


class FakeResponse:
    def __init__(self, log: list[tuple[str, dict]]) -> None:
        self.log = log
        self.done = False

    def is_done(self) -> bool:
        return self.done

    async def defer(self, **kwargs: Any) -> None:
        self.done = True
        self.log.append(("defer", kwargs))

    async def send_message(self, **kwargs: Any) -> None:
        self.done = True
        self.log.append(("send_message", kwargs))


class FakeFollowup:
    def __init__(self, log: list[tuple[str, dict]]) -> None:
        self.log = log

    async def send(self, **kwargs: Any) -> None:
        self.log.append(("followup", kwargs))


class FakeInteraction:
    """Records the calls `respond` makes on a discord.Interaction."""

    def __init__(self) -> None:
        self.log: list[tuple[str, dict]] = []
        self.response = FakeResponse(self.log)
        self.followup = FakeFollowup(self.log)


async def reply_after(seconds: float) -> Reply:
    await asyncio.sleep(seconds)
    return Reply("answer", content="done")


def test_a_quick_reply_is_the_interaction_response(monkeypatch: pytest.MonkeyPatch) -> None:
    interaction = FakeInteraction()
    asyncio.run(respond(interaction, reply_after(0), ephemeral=True))  # type: ignore[arg-type]
    assert [name for name, _ in interaction.log] == ["send_message"]
    kwargs = interaction.log[0][1]
    assert kwargs["ephemeral"] is True and kwargs["content"] == "done"
    assert kwargs["allowed_mentions"].to_dict() == {"parse": []}


def test_a_slow_reply_is_deferred_then_followed_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(answering, "DEFER_AFTER_SECONDS", 0.05)
    interaction = FakeInteraction()
    asyncio.run(respond(interaction, reply_after(0.3), ephemeral=False))  # type: ignore[arg-type]
    assert [name for name, _ in interaction.log] == ["defer", "followup"]
    assert interaction.log[0][1] == {"thinking": True, "ephemeral": False}
    assert interaction.log[1][1]["allowed_mentions"].to_dict() == {"parse": []}


def test_during_a_reindex_the_reply_is_deferred_at_once() -> None:
    interaction = FakeInteraction()
    asyncio.run(
        respond(interaction, reply_after(0), ephemeral=True, defer_now=True)  # type: ignore[arg-type]
    )
    assert [name for name, _ in interaction.log] == ["defer", "followup"]
    assert interaction.log[1][1]["ephemeral"] is True


def test_question_problems() -> None:
    assert question_problem("", 10, "en") and "Please ask" in question_problem("  ", 10, "en")
    assert "no words" in question_problem("？！…", 10, "en")
    assert "at most 10 characters (this one has 11)" in question_problem("a" * 11, 10, "en")
    assert question_problem("質問は10文字まで", 10, "ja") is None


def test_cooldown_counts_only_real_questions(tmp_path: Path) -> None:
    (tmp_path / "corpus").mkdir()
    path = tmp_path / "c.toml"
    path.write_text('[discord]\ntoken = "t"\ncooldown_seconds = 10\nmax_question_chars = 20\n'
                    '[corpus]\npath = "corpus"\n', encoding="utf-8")
    config = load_config(path, env={})
    now = [100.0]
    cooldown = Cooldown(10, clock=lambda: now[0])

    def check(q: str) -> Reply | None:
        return precheck(q, user_id=1, config=config, cooldown=cooldown, lang="en")

    assert check("!!!").kind == "problem"
    assert check("CSTO") is None
    reply = check("CSTO again")
    assert reply.kind == "cooldown" and "try again in 10 s" in reply.content
    now[0] += 9.6
    assert check("CSTO again") is not None
    now[0] += 0.5
    assert check("CSTO again") is None
    assert Cooldown(0).retry_after(1) is None and Cooldown(0).retry_after(1) is None


def test_mentions_of_the_bot_are_stripped_from_the_question() -> None:
    assert strip_mentions("<@42> CSTOの議長は誰? <@!42>", 42, set()) == "CSTOの議長は誰?"
    assert strip_mentions("<@&7> who chairs CSTO?", 42, {7}) == "who chairs CSTO?"
    assert strip_mentions("<@43> hi", 42, set()) == "<@43> hi"


def test_autocomplete_choices_fit_discords_limits() -> None:
    long = DocumentInfo("dir/" + "p" * 120 + ".txt", "T" * 300, 3, None, "")
    choice = document_choice(long)
    assert len(choice.name) <= 100 and len(choice.value) <= 100
    short = document_choice(DocumentInfo("a.txt", "題名", 3, None, ""))
    assert (short.name, short.value) == ("題名 (a.txt)", "a.txt")


class LogEngine:
    """An engine whose query log fails, is slow, or works (`log_query` returns row 7)."""

    def __init__(self, *, fail: bool = False, delay: float = 0.0) -> None:
        self.fail, self.delay, self.written = fail, delay, False

    async def log_query(self, **_: Any) -> int:
        await asyncio.sleep(self.delay)
        if self.fail:
            raise RuntimeError("disk full")
        self.written = True
        return 7

    async def asker_tag(self, query_id: int, user_id: int) -> str:
        return "0" * 32


def test_the_log_is_written_first_and_its_failures_cost_only_the_buttons(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bot import feedback
    from index.models import Answer

    monkeypatch.setattr(answering, "LOG_WAIT_SECONDS", 0.05)

    def offer(engine: LogEngine, kind: str = "answer") -> Reply:
        reply = Reply(kind, content="x", answer=Answer("q", [], [], 1.0))  # type: ignore[arg-type]

        async def run() -> Reply:
            done = await feedback.log_and_offer(
                engine, reply, guild_id=1, channel_id=2, asker_id=3  # type: ignore[arg-type]
            )
            await asyncio.sleep(0.2)  # a late write finishes meanwhile
            return done

        return asyncio.run(run())

    ok = offer(LogEngine())
    assert ok.view is not None
    assert [item.custom_id for item in ok.view.children] == [
        "shirabe:vote:up:7", "shirabe:vote:down:7", "shirabe:del:7:" + "0" * 32
    ]
    assert offer(LogEngine(), kind="problem").view is None, "no buttons on a notice"
    assert offer(LogEngine(fail=True)).view is None
    slow = LogEngine(delay=0.1)
    assert offer(slow).view is None and slow.written, "sent without buttons, logged anyway"
