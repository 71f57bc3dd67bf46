"""👍 / 👎 and 🗑 under every answer: buttons that keep working after the bot restarts.

Each button is a `discord.ui.DynamicItem`: everything its press needs is in its custom id
(`shirabe:vote:up:<log id>`, `shirabe:del:<log id>:<asker tag>`), and `Shirabe.setup_hook`
registers the two classes, so a press on a message sent by an earlier process is understood
without any view kept in memory. The log id is the question's row in the query log, written
before the reply is sent (`log_and_offer`). No Discord user id is stored anywhere: votes are
kept under a keyed hash of the voter (index.storage.feedback), and the 🗑 button carries a
keyed hash of the asker, which a press is compared against.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import discord

from bot import answering
from bot.answering import Reply
from bot.checks import interaction_fenced_in
from bot.texts import lang_for_locale, text
from index.engine import Engine
from index.errors import ShirabeError

log = logging.getLogger(__name__)

# Replies that answer a question (with passages, or saying nothing was found) get buttons;
# notices (a bad question, the rate limit, an error) do not.
BUTTONED = ("answer", "declined")
VOTE_EMOJI = {1: "👍", -1: "👎"}
DELETE_EMOJI = "🗑️"


class VoteButton(
    discord.ui.DynamicItem[discord.ui.Button],
    template=re.compile(r"shirabe:vote:(?P<value>up|down):(?P<query>[0-9]{1,19})"),
):
    """👍 or 👎 on one logged question; a user's second press replaces their first."""

    def __init__(self, query_id: int, value: int) -> None:
        direction = "up" if value > 0 else "down"
        super().__init__(
            discord.ui.Button(
                style=discord.ButtonStyle.secondary,
                emoji=VOTE_EMOJI[1 if value > 0 else -1],
                custom_id=f"shirabe:vote:{direction}:{query_id}",
            )
        )
        self.query_id = query_id
        self.value = 1 if value > 0 else -1

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> VoteButton:
        return cls(int(match["query"]), 1 if match["value"] == "up" else -1)

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        return interaction_fenced_in(interaction)

    async def callback(self, interaction: discord.Interaction) -> None:
        """Store the vote and thank the voter privately (deferred if the database is slow,
        so the press is acknowledged within Discord's 3 s either way)."""
        engine: Engine = interaction.client.engine  # type: ignore[attr-defined]
        lang = lang_for_locale(interaction.locale)

        async def work() -> Reply:
            stored = await engine.record_vote(self.query_id, interaction.user.id, self.value)
            key = ("vote_up" if self.value > 0 else "vote_down") if stored else "vote_unknown"
            return Reply("notice", content=text(key, lang))

        try:
            await answering.respond(interaction, work(), ephemeral=True)
        except (ShirabeError, discord.HTTPException) as exc:
            await _failed(interaction, "recording a vote", exc)


class DeleteButton(
    discord.ui.DynamicItem[discord.ui.Button],
    template=re.compile(r"shirabe:del:(?P<query>[0-9]{1,19}):(?P<tag>[0-9a-f]{32})"),
):
    """🗑: deletes the reply, for the user who asked only."""

    def __init__(self, query_id: int, tag: str) -> None:
        super().__init__(
            discord.ui.Button(
                style=discord.ButtonStyle.secondary,
                emoji=DELETE_EMOJI,
                custom_id=f"shirabe:del:{query_id}:{tag}",
            )
        )
        self.query_id = query_id
        self.tag = tag

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> DeleteButton:
        return cls(int(match["query"]), match["tag"])

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        return interaction_fenced_in(interaction)

    async def callback(self, interaction: discord.Interaction) -> None:
        engine: Engine = interaction.client.engine  # type: ignore[attr-defined]
        lang = lang_for_locale(interaction.locale)
        try:
            # Acknowledged at once (a deferred update), whatever the database takes.
            await interaction.response.defer()
            if not await engine.is_asker(self.query_id, interaction.user.id, self.tag):
                await answering.send_notice(interaction, text("delete_refused", lang))
                return
            # The interaction's original message is the one the button is on; deleting it
            # through the interaction's webhook needs no channel permission.
            await interaction.delete_original_response()
        except (ShirabeError, discord.HTTPException) as exc:
            await _failed(interaction, "deleting an answer", exc)


DYNAMIC_ITEMS = (VoteButton, DeleteButton)


def answer_view(
    query_id: int, asker_tag: str, view: discord.ui.View | None = None
) -> discord.ui.View:
    """👍 👎 🗑 for the answer to logged question `query_id`, added to `view` (other buttons
    of the reply) or to a new view that never times out."""
    view = view if view is not None else discord.ui.View(timeout=None)
    view.add_item(VoteButton(query_id, 1))
    view.add_item(VoteButton(query_id, -1))
    view.add_item(DeleteButton(query_id, asker_tag))
    return view


async def log_and_offer(
    engine: Engine,
    reply: Reply,
    *,
    guild_id: int | None,
    channel_id: int | None,
    asker_id: int,
    buttons: bool = True,
) -> Reply:
    """Log the question (answering.log_question), then give an answer its buttons, which name
    the new log row. A reply whose question could not be logged goes out without them."""
    query_id = await answering.log_question(
        engine, guild_id=guild_id, channel_id=channel_id, reply=reply
    )
    if query_id is None or not buttons or reply.kind not in BUTTONED:
        return reply
    try:
        tag = await engine.asker_tag(query_id, asker_id)
    except ShirabeError:
        log.exception("no buttons for logged question %s", query_id)
        return reply
    reply.view = answer_view(query_id, tag, reply.view)
    return reply


async def _failed(interaction: discord.Interaction, what: str, exc: Exception) -> None:
    log.error("%s failed", what, exc_info=exc)
    try:
        await answering.send_notice(interaction, text("error", lang_for_locale(interaction.locale)))
    except discord.HTTPException:
        log.exception("could not send the error notice")
