"""/source: one document's title, file, passage count and first lines, or one of its passages
with the sentences around it; titles autocomplete."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.app_commands import locale_str as _T
from discord.ext import commands

from bot import answering
from bot.answering import Reply
from bot.markdown import ELLIPSIS, escape_markdown
from bot.render import render_passage, render_source
from bot.texts import lang_for_locale, text
from index.models import DocumentInfo

if TYPE_CHECKING:
    from bot.app import Shirabe

CHOICE_LIMIT = 100  # Discord's limit for both a choice's name and its value
MAX_CHOICES = 25


def document_choice(doc: DocumentInfo) -> app_commands.Choice[str]:
    """`title (file)` shown to the user, the file path sent back as the value."""
    suffix = f" ({doc.path})"
    room = CHOICE_LIMIT - len(suffix)
    if room < 20:  # a very long path: show the title alone
        suffix, room = "", CHOICE_LIMIT
    title = doc.title if len(doc.title) <= room else doc.title[: room - 1] + ELLIPSIS
    return app_commands.Choice(name=title + suffix, value=doc.path[:CHOICE_LIMIT])


class Source(commands.Cog):
    def __init__(self, bot: Shirabe) -> None:
        self.bot = bot

    @app_commands.command(name="source", description=_T("Show a document of the corpus"))
    @app_commands.describe(
        document=_T("Document title or file name (start typing to search)"),
        passage=_T("Open this passage (the § number of a citation), with its neighbours"),
    )
    async def source(
        self,
        interaction: discord.Interaction,
        document: str,
        passage: app_commands.Range[int, 1, 100_000] | None = None,
    ) -> None:
        lang = lang_for_locale(interaction.locale)

        async def work() -> Reply:
            doc = await self.find(document)
            if doc is None:
                name = escape_markdown(document[:200])
                return Reply("problem", content=text("no_document", lang, name=name))
            if passage is None:
                return Reply("answer", embeds=[render_source(doc, lang)])
            view = await self.bot.engine.passage(doc.path, passage)
            if view is None:
                name = escape_markdown(doc.title[:200])
                message = text("no_passage", lang, name=name, number=passage, count=doc.passages)
                return Reply("problem", content=message)
            return Reply("answer", embeds=[render_passage(view, lang)])

        await answering.respond(
            interaction, work(), ephemeral=False, defer_now=self.bot.reindexing
        )

    async def find(self, name: str) -> DocumentInfo | None:
        """By path or exact title; else the only document whose title or path contains `name`."""
        doc = await self.bot.engine.document(name)
        if doc is not None or not name.strip():
            return doc
        matches = await self.bot.engine.documents(name, limit=2)
        return matches[0] if len(matches) == 1 else None

    @source.autocomplete("document")
    async def document_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        docs = await self.bot.engine.documents(current, limit=MAX_CHOICES)
        return [document_choice(d) for d in docs]


async def setup(bot: Shirabe) -> None:
    await bot.add_cog(Source(bot))
