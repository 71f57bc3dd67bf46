"""/unanswered: for admins, the questions the documents could not answer -- verdict "nothing"
or "related", or a 👎 -- grouped by wording, most asked first. `shirabe log --unanswered` is
the same list on the command line."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.app_commands import locale_str as _T
from discord.ext import commands

from bot import answering
from bot.answering import Reply
from bot.checks import is_admin
from bot.markdown import plain
from bot.render import COLOR, DESCRIPTION_LIMIT
from bot.texts import Lang, lang_for_locale, text
from index.models import UnansweredQuestion

if TYPE_CHECKING:
    from bot.app import Shirabe

DEFAULT_DAYS = 7
MAX_DAYS = 365
MAX_GROUPS = 25
QUESTION_MAX = 200  # rendered characters of one question


def render_unanswered(
    groups: list[UnansweredQuestion], days: int, lang: Lang = "en"
) -> discord.Embed:
    """One block per wording: `**3×** question` over its verdict and 👎 counts, as many as fit."""
    embed = discord.Embed(title=text("unanswered_title", lang, days=days), colour=COLOR)
    if not groups:
        embed.description = text("unanswered_none", lang, days=days)
        return embed
    blocks: list[str] = []
    used = 0
    for group in groups:
        counts = text(
            "unanswered_counts",
            lang,
            nothing=group.nothing,
            related=group.related,
            down=group.down_votes,
        )
        block = f"**{group.count}×** {plain(group.question, QUESTION_MAX)}\n↳ {counts}"
        if used + len(block) + 2 > DESCRIPTION_LIMIT:
            break
        blocks.append(block)
        used += len(block) + 2
    embed.description = "\n\n".join(blocks)
    embed.set_footer(text=text("unanswered_footer", lang))
    return embed


class Unanswered(commands.Cog):
    def __init__(self, bot: Shirabe) -> None:
        self.bot = bot

    @app_commands.command(
        name="unanswered",
        description=_T("Questions the documents could not answer, most asked first (admins only)"),
    )
    @app_commands.describe(days=_T("How many days back to look (default 7)"))
    async def unanswered(
        self,
        interaction: discord.Interaction,
        days: app_commands.Range[int, 1, MAX_DAYS] = DEFAULT_DAYS,
    ) -> None:
        lang = lang_for_locale(interaction.locale)
        if not is_admin(interaction, self.bot.config.discord):
            await answering.send_notice(interaction, text("unanswered_refused", lang))
            return

        async def work() -> Reply:
            groups = await self.bot.engine.unanswered(days, limit=MAX_GROUPS)
            return Reply("notice", embeds=[render_unanswered(groups, days, lang)])

        await answering.respond(
            interaction, work(), ephemeral=True, defer_now=self.bot.reindexing
        )


async def setup(bot: Shirabe) -> None:
    await bot.add_cog(Unanswered(bot))
