"""/stats: documents, passages, last reindex time and questions answered."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.app_commands import locale_str as _T
from discord.ext import commands

from bot.answering import Reply, respond
from bot.render import render_stats
from bot.texts import lang_for_locale

if TYPE_CHECKING:
    from bot.app import Shirabe


class StatsCog(commands.Cog, name="Stats"):
    def __init__(self, bot: Shirabe) -> None:
        self.bot = bot

    @app_commands.command(
        name="stats", description=_T("Index size, last reindex and questions answered")
    )
    async def stats(self, interaction: discord.Interaction) -> None:
        lang = lang_for_locale(interaction.locale)

        async def work() -> Reply:
            return Reply("answer", embeds=[render_stats(await self.bot.engine.stats(), lang)])

        await respond(interaction, work(), ephemeral=False, defer_now=self.bot.reindexing)


async def setup(bot: Shirabe) -> None:
    await bot.add_cog(StatsCog(bot))
