""""View passage" buttons under an answer: each opens its cited passage, privately, with the
sentence before and after it, its lines and its document.

Like the vote buttons (bot/feedback.py) they are `DynamicItem`s whose custom id carries all a
press needs (the passage id), so they work on messages sent before a restart.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import discord

from bot import answering
from bot.answering import Reply
from bot.checks import interaction_fenced_in
from bot.render import render_passage
from bot.texts import lang_for_locale, text
from index.engine import Engine
from index.errors import ShirabeError
from index.models import Hit

log = logging.getLogger(__name__)


class PassageButton(
    discord.ui.DynamicItem[discord.ui.Button],
    template=re.compile(r"shirabe:passage:(?P<number>[0-9]{1,2}):(?P<passage>[0-9]{1,19})"),
):
    """"§ 1", "§ 2", …: the numbered excerpt's passage in full."""

    def __init__(self, number: int, passage_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                style=discord.ButtonStyle.secondary,
                label=f"📖 {number}",
                custom_id=f"shirabe:passage:{number}:{passage_id}",
            )
        )
        self.passage_id = passage_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> PassageButton:
        return cls(int(match["number"]), int(match["passage"]))

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        return interaction_fenced_in(interaction)

    async def callback(self, interaction: discord.Interaction) -> None:
        engine: Engine = interaction.client.engine  # type: ignore[attr-defined]
        lang = lang_for_locale(interaction.locale)

        async def work() -> Reply:
            view = await engine.passage_by_id(self.passage_id)
            if view is None:
                return Reply("notice", content=text("passage_gone", lang))
            return Reply("answer", embeds=[render_passage(view, lang)])

        try:
            await answering.respond(interaction, work(), ephemeral=True)
        except (ShirabeError, discord.HTTPException):
            log.exception("opening passage %s failed", self.passage_id)


def passage_view(hits: list[Hit]) -> discord.ui.View:
    """A button per cited passage, numbered as the excerpts are."""
    view = discord.ui.View(timeout=None)
    for number, hit in enumerate(hits, 1):
        view.add_item(PassageButton(number, hit.passage_id))
    return view
