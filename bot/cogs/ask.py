"""/ask: the answer to a question, with cited excerpts."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.app_commands import locale_str as _T
from discord.ext import commands

from bot import answering, feedback
from bot.answering import Reply
from bot.texts import lang_for_locale

if TYPE_CHECKING:
    from bot.app import Shirabe


class Ask(commands.Cog):
    def __init__(self, bot: Shirabe) -> None:
        self.bot = bot

    @app_commands.command(
        name="ask", description=_T("Answer a question from the documents, with cited excerpts")
    )
    @app_commands.describe(
        question=_T("Your question, in Japanese or English"),
        private=_T("Only you see the answer (default: no)"),
    )
    async def ask(
        self, interaction: discord.Interaction, question: str, private: bool = False
    ) -> None:
        lang = lang_for_locale(interaction.locale)
        early = answering.precheck(
            question,
            user_id=interaction.user.id,
            config=self.bot.config,
            cooldown=self.bot.cooldown,
            lang=lang,
        )
        if early is not None:
            await interaction.response.send_message(
                **early.send_kwargs(), ephemeral=True
            )
            return
        engine = self.bot.engine

        async def work() -> Reply:
            # Logged before it is sent: the answer's buttons name its row in the query log.
            reply = await answering.ask(engine, question, k=self.bot.config.top_k, lang=lang)
            return await feedback.log_and_offer(
                engine,
                reply,
                guild_id=interaction.guild_id,
                channel_id=interaction.channel_id,
                asker_id=interaction.user.id,
            )

        await answering.respond(
            interaction, work(), ephemeral=private, defer_now=self.bot.reindexing
        )


async def setup(bot: Shirabe) -> None:
    await bot.add_cog(Ask(bot))
