"""One cog per feature; `bot.app.Shirabe.setup_hook` loads all of `EXTENSIONS`."""

EXTENSIONS = (
    "bot.cogs.ask",
    "bot.cogs.search",
    "bot.cogs.source",
    "bot.cogs.reindex",
    "bot.cogs.stats",
    "bot.cogs.questions",
    "bot.cogs.unanswered",
)
