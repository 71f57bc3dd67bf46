"""Turning a question into a reply, shared by /ask and channel questions.

Both front doors check the same things in the same order — is it a question at all, is the
user over their cooldown — before the engine is asked, and both log the question before the
reply goes out (its log row id is what the reply's vote buttons name, see bot/feedback.py).
Keeping that here means the cogs only decide *where* a reply goes, not *what* it says.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, Literal

import discord

from bot.config import Config
from bot.cooldown import Cooldown
from bot.render import fit_message, render_answer, render_problem
from bot.texts import Lang, text
from index.engine import Engine
from index.models import Answer

log = logging.getLogger(__name__)

# Discord drops an interaction not answered within 3 s of *its* clock; give up waiting for a
# quick answer well before that and send "thinking…" instead.
DEFER_AFTER_SECONDS = 1.5

# An interaction's token (and with it every follow-up) is valid for 15 minutes; a reply due
# later -- a long /reindex -- goes to the channel instead. The margin covers the request itself.
INTERACTION_TOKEN_SECONDS = 15 * 60
TOKEN_MARGIN_SECONDS = 30

# Questions the engine works on at once, from all users together; the rest wait their turn in
# arrival order (a flood from one user is cut by the per-user cooldown before it gets here).
# Each question is CPU work in a worker thread, and beyond a few at once on a small machine
# they only fight over the GIL with the event loop: 200 questions at once during a /reindex
# stalled the loop -- every Discord heartbeat and reply -- for 170 ms, at 4 for under 50 ms
# (measured on two cores; tests/test_faults_load.py keeps it under 100 ms).
MAX_CONCURRENT_QUESTIONS = 4

# The reply waits this long for its query-log row (whose id its buttons carry). A build holds
# the database's write lock while it writes; past this the reply goes out without buttons and
# the row is written when the lock is free.
LOG_WAIT_SECONDS = 2.0

_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)

ReplyKind = Literal["answer", "declined", "problem", "cooldown", "notice"]


def no_mentions() -> discord.AllowedMentions:
    """Nothing in a reply may ping anyone: the corpus and the question are untrusted text."""
    return discord.AllowedMentions.none()


@dataclass
class Reply:
    """What to send back, before it is known whether it goes to a channel or an interaction."""

    kind: ReplyKind
    content: str | None = None
    embeds: list[discord.Embed] = field(default_factory=list)
    answer: Answer | None = None
    view: discord.ui.View | None = None  # buttons under the reply (votes, 🗑)

    def send_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for any discord.py send/edit call, fitted to Discord's limits."""
        content, embeds = fit_message(self.content, self.embeds)
        kwargs = {"content": content, "embeds": embeds, "allowed_mentions": no_mentions()}
        if self.view is not None:
            kwargs["view"] = self.view
        return kwargs


def question_problem(question: str, max_chars: int, lang: Lang) -> str | None:
    """Why `question` cannot be asked (empty, no words, too long), or None if it can."""
    if not question.strip():
        return text("empty", lang)
    if len(question) > max_chars:
        return text("too_long", lang, limit=max_chars, length=len(question))
    if not any(ch.isalnum() for ch in question):
        return text("no_words", lang)
    return None


def precheck(
    question: str, *, user_id: int, config: Config, cooldown: Cooldown, lang: Lang
) -> Reply | None:
    """A reply that ends the matter before the engine is asked, or None to go ahead.

    The cooldown is charged only for real questions, so a typo does not cost a user their turn.
    """
    problem = question_problem(question, config.discord.max_question_chars, lang)
    if problem:
        return Reply("problem", content=problem)
    wait = cooldown.retry_after(user_id)
    if wait is not None:
        return Reply("cooldown", content=text("cooldown", lang, seconds=max(1, round(wait))))
    return None


def question_slots() -> asyncio.Semaphore:
    """The bound on questions in the engine at once (see MAX_CONCURRENT_QUESTIONS), one per
    event loop: a semaphore belongs to the loop that first waits on it."""
    loop = asyncio.get_running_loop()
    slots = _slots.get(loop)
    if slots is None:
        slots = _slots[loop] = asyncio.Semaphore(MAX_CONCURRENT_QUESTIONS)
    return slots


def clean_question(question: str) -> str:
    """`question` with lone surrogates (U+D800-DFFF) as U+FFFD.

    JSON lets a client send "\\ud800", and a terminal in the POSIX locale turns invalid UTF-8
    into such surrogates; no text encoder takes them (the tagger raises UnicodeEncodeError,
    and so would a reply that echoes them), so they are replaced before anything sees them.
    """
    return question.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


async def ask(engine: Engine, question: str, *, k: int, lang: Lang) -> Reply:
    """Ask the engine, within the global bound, and render its answer (or its explanation
    of a bad question)."""
    question = clean_question(question)
    async with question_slots():
        answer = await engine.ask(question, k)
    if answer.problem:
        return Reply("problem", content=render_problem(answer), answer=answer)
    if not answer.hits:
        return Reply("declined", embeds=[render_answer(answer, lang)], answer=answer)
    from bot.passages import passage_view  # bot.passages imports this module

    view = passage_view(answer.hits)
    return Reply("answer", embeds=[render_answer(answer, lang)], answer=answer, view=view)


async def log_question(
    engine: Engine, *, guild_id: int | None, channel_id: int | None, reply: Reply
) -> int | None:
    """Record the question in the query log and return its row id; None when there was no
    question, or the row could not be written (logged) or not within LOG_WAIT_SECONDS (it is
    written later). A logging failure must not cost the user a reply."""
    if reply.answer is None:
        return None
    write = asyncio.ensure_future(
        engine.log_query(
            guild_id=guild_id,
            channel_id=channel_id,
            question=reply.answer.question,
            answer=reply.answer,
        )
    )
    try:
        return await asyncio.wait_for(asyncio.shield(write), LOG_WAIT_SECONDS)
    except TimeoutError:
        log.warning("the query log is busy; this reply goes without vote buttons")
        write.add_done_callback(_late_log_done)
    except Exception:
        log.exception("could not write the query log")
    return None


def _late_log_done(write: asyncio.Future) -> None:
    if not write.cancelled() and write.exception() is not None:
        log.error("could not write the query log", exc_info=write.exception())


async def respond(
    interaction: discord.Interaction,
    work: Awaitable[Reply],
    *,
    ephemeral: bool,
    defer_now: bool = False,
    view: discord.ui.View | None = None,
) -> Reply:
    """Send the reply `work` produces, deferring first if it is not ready in time.

    A quick answer goes out as the interaction response itself (one request, no "thinking…"
    flash); a slow one — or any during a reindex (`defer_now`) — is deferred and followed up.
    """
    task = asyncio.ensure_future(work)
    if not defer_now:
        await asyncio.wait({task}, timeout=DEFER_AFTER_SECONDS)
    if not task.done():
        await interaction.response.defer(thinking=True, ephemeral=ephemeral)
    reply = await task
    kwargs = reply.send_kwargs()
    if view is not None:
        kwargs["view"] = view
    if interaction.response.is_done():
        await interaction.followup.send(**kwargs, ephemeral=ephemeral, wait=True)
    else:
        await interaction.response.send_message(**kwargs, ephemeral=ephemeral)
    return reply


async def send_notice(interaction: discord.Interaction, content: str) -> None:
    """A short private message to the user, whether or not the interaction was answered yet."""
    kwargs: dict[str, Any] = {
        "content": content,
        "ephemeral": True,
        "allowed_mentions": no_mentions(),
    }
    if interaction.response.is_done():
        await interaction.followup.send(**kwargs)
    else:
        await interaction.response.send_message(**kwargs)


def token_alive(started: float, now: float | None = None) -> bool:
    """Whether an interaction received at `started` (time.monotonic) can still be followed up."""
    now = time.monotonic() if now is None else now
    return now - started < INTERACTION_TOKEN_SECONDS - TOKEN_MARGIN_SECONDS


async def report_back(
    interaction: discord.Interaction, reply: Reply, *, started: float, lang: Lang
) -> None:
    """Follow up on a deferred interaction, or -- once its token has expired, or Discord says
    the webhook is gone (401/404 "Unknown Webhook") -- post the reply in its channel, naming
    who asked (without pinging them), so a long operation's result is never lost."""
    if token_alive(started):
        try:
            await interaction.followup.send(**reply.send_kwargs(), wait=True)
            return
        except discord.HTTPException as exc:
            if exc.status not in (401, 404):
                raise
            log.warning("interaction token no longer valid (%s); replying in the channel", exc)
    await post_in_channel(interaction, reply, lang)


async def post_in_channel(interaction: discord.Interaction, reply: Reply, lang: Lang) -> None:
    """`reply` as a channel message, introduced by who asked for what: in the channel nobody
    would otherwise know which command, long ago, this answers."""
    channel = interaction.channel
    if channel is None and interaction.channel_id is not None:
        channel = interaction.client.get_partial_messageable(interaction.channel_id)
    if channel is None:
        log.error("cannot report back: interaction %s has no channel", interaction.id)
        return
    kwargs = reply.send_kwargs()
    intro = text("late_reply", lang, user=interaction.user.mention, command=_command(interaction))
    kwargs["content"] = fit_message(
        f"{intro}\n{kwargs['content']}" if kwargs["content"] else intro, []
    )[0]
    try:
        await channel.send(**kwargs)
    except discord.HTTPException:
        log.exception("could not post the late reply in channel %s", interaction.channel_id)


def _command(interaction: discord.Interaction) -> str:
    return f"/{interaction.command.name}" if interaction.command else "/?"
