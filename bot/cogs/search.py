"""/search: a ranked list of matching passages, paged with Previous/Next buttons."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.app_commands import locale_str as _T
from discord.ext import commands

from bot import answering
from bot.answering import Reply, no_mentions
from bot.checks import interaction_fenced_in
from bot.render import render_search_page
from bot.texts import Lang, lang_for_locale, text
from index.models import Answer

if TYPE_CHECKING:
    from bot.app import Shirabe

log = logging.getLogger(__name__)

PAGE_SIZE = 5
PAGER_TIMEOUT_SECONDS = 600  # interaction tokens live 15 minutes; stop listening before that


def has_next_page(answer: Answer, offset: int) -> bool:
    """More results exist after this page (when the engine does not say, a full page hints so)."""
    total = getattr(answer, "total_hits", None)
    if total is not None:
        return offset + PAGE_SIZE < total
    return len(answer.hits) >= PAGE_SIZE


class SearchPager(discord.ui.View):
    """Previous/Next for one search; re-runs the search at the new offset and edits in place."""

    def __init__(self, bot: Shirabe, query: str, lang: Lang) -> None:
        super().__init__(timeout=PAGER_TIMEOUT_SECONDS)
        self.bot = bot
        self.query = query
        self.lang = lang
        self.offset = 0
        self.origin: discord.Interaction | None = None
        self.previous.label = text("previous", lang)
        self.next.label = text("next", lang)

    async def page(self, offset: int) -> discord.Embed:
        """Render the page at `offset` and set the buttons to what is reachable from it."""
        async with answering.question_slots():
            answer = await self.bot.engine.search(self.query, k=PAGE_SIZE, offset=offset)
        self.offset = offset
        self.previous.disabled = offset == 0
        self.next.disabled = not has_next_page(answer, offset)
        total = getattr(answer, "total_hits", None)
        return render_search_page(answer, offset=offset, total=total, lang=self.lang)

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        """The fence applies to button presses too: the command tree's check never sees them."""
        return interaction_fenced_in(interaction)

    @discord.ui.button(label="◀ Previous", style=discord.ButtonStyle.secondary)
    async def previous(self, interaction: discord.Interaction, _: discord.ui.Button) -> None:
        await self._turn(interaction, max(0, self.offset - PAGE_SIZE))

    @discord.ui.button(label="Next ▶", style=discord.ButtonStyle.secondary)
    async def next(self, interaction: discord.Interaction, _: discord.ui.Button) -> None:
        await self._turn(interaction, self.offset + PAGE_SIZE)

    async def _turn(self, interaction: discord.Interaction, offset: int) -> None:
        embed = await self.page(offset)
        await interaction.response.edit_message(
            embed=embed, view=self, allowed_mentions=no_mentions()
        )

    async def on_timeout(self) -> None:
        """Remove the buttons so nobody clicks a pager that no longer listens."""
        if self.origin is None:
            return
        try:
            await self.origin.edit_original_response(view=None, allowed_mentions=no_mentions())
        except discord.HTTPException:
            pass  # the message is gone or the token expired; nothing to tidy

    async def on_error(
        self, interaction: discord.Interaction, error: Exception, item: discord.ui.Item
    ) -> None:
        log.error("search pager failed", exc_info=error)
        await answering.send_notice(interaction, text("error", self.lang))


class Search(commands.Cog):
    def __init__(self, bot: Shirabe) -> None:
        self.bot = bot

    @app_commands.command(
        name="search", description=_T("List the passages that match a query, best first")
    )
    @app_commands.describe(query=_T("Words to look for, in Japanese or English"))
    async def search(self, interaction: discord.Interaction, query: str) -> None:
        lang = lang_for_locale(interaction.locale)
        early = answering.precheck(
            query,
            user_id=interaction.user.id,
            config=self.bot.config,
            cooldown=self.bot.cooldown,
            lang=lang,
        )
        if early is not None:
            await interaction.response.send_message(**early.send_kwargs(), ephemeral=True)
            return
        pager = SearchPager(self.bot, answering.clean_question(query), lang)
        pager.origin = interaction

        async def first_page() -> Reply:
            return Reply("answer", embeds=[await pager.page(0)])

        await answering.respond(
            interaction,
            first_page(),
            ephemeral=False,
            defer_now=self.bot.reindexing,
            view=pager,
        )


async def setup(bot: Shirabe) -> None:
    await bot.add_cog(Search(bot))
