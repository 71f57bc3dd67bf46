"""/reindex: admins rebuild the index incrementally while the bot keeps answering."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.app_commands import locale_str as _T
from discord.ext import commands

from bot import answering
from bot.answering import Reply
from bot.checks import is_admin
from bot.markdown import plain
from bot.render import render_reindex
from bot.texts import lang_for_locale, text
from index.errors import BuildFailed, IndexUnusable, ReindexRunning

if TYPE_CHECKING:
    from bot.app import Shirabe

log = logging.getLogger(__name__)


class Reindex(commands.Cog):
    def __init__(self, bot: Shirabe) -> None:
        self.bot = bot
        # Set before the first await, so of two requests arriving together exactly one runs.
        self.busy = False

    @app_commands.command(
        name="reindex",
        description=_T("Update the index from the corpus folder (admins only)"),
    )
    async def reindex(self, interaction: discord.Interaction) -> None:
        lang = lang_for_locale(interaction.locale)
        if not is_admin(interaction, self.bot.config.discord):
            await answering.send_notice(interaction, text("reindex_refused", lang))
            return
        engine = self.bot.engine
        if self.busy or engine.reindexing:
            await answering.send_notice(interaction, text("reindex_running", lang))
            return
        self.busy = True
        started = time.monotonic()
        try:
            # A rebuild takes seconds to minutes: always defer, then follow up with the report.
            await interaction.response.defer(thinking=True)
            report = await engine.reindex()
        except ReindexRunning:  # e.g. `shirabe index` is building the same database
            await answering.send_notice(interaction, text("reindex_running", lang))
            return
        except (IndexUnusable, BuildFailed) as exc:  # a damaged or locked database, a dead worker
            log.error("reindex failed: %s", exc)
            failed = Reply("problem", content=text("reindex_failed", lang, reason=plain(str(exc))))
            await answering.report_back(interaction, failed, started=started, lang=lang)
            return
        finally:
            self.busy = False
        log.info(
            "reindex by %s: %d added, %d changed, %d removed, %d skipped in %.2fs",
            interaction.user.id,
            report.added,
            report.changed,
            report.removed,
            report.skipped,
            report.seconds,
        )
        reply = Reply("answer", embeds=[render_reindex(report, lang)])
        await answering.report_back(interaction, reply, started=started, lang=lang)


async def setup(bot: Shirabe) -> None:
    await bot.add_cog(Reindex(bot))
