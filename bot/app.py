"""The Discord bot: a `commands.Bot` subclass and the `run()` entry used by `shirabe run`.

Start-up order matters and follows discord.py's own: `login` (REST: who am I, which
application) → `setup_hook` (open the index, load the cogs, sync slash commands once) →
`connect` (gateway). Reconnects and resumes only repeat the last step, so commands are synced
exactly once per process -- and, with `discord.shard_count` set, only by the process serving
shard 0, since every process shares the one application's commands.

Sharded (`ShardedShirabe`, discord.py's AutoShardedBot), each process IDENTIFYs with its
`shard_ids` and gets the events of its guilds only. The processes share one index: a /reindex
builds in the process that receives it (the build lock is per database, so one started
meanwhile anywhere is refused), and the others pick up the new generation at their next
question (`Engine._follow_other_builds`).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from dataclasses import replace
from pathlib import Path

import discord
import yarl
from discord import app_commands
from discord.ext import commands
from discord.gateway import DiscordWebSocket

from bot import answering, checks, feedback
from bot.cogs import EXTENSIONS
from bot.config import TOKEN_ENV, Config, ConfigError, load_config
from bot.cooldown import TokenBucket
from bot.localization import ShirabeTranslator
from bot.passages import PassageButton
from bot.texts import lang_for_locale, text
from index.engine import Engine
from index.errors import ReindexRunning, ShirabeError
from index.settings import DEFAULT

log = logging.getLogger("shirabe.bot")

# While another process builds the index we are about to open, look again this often.
OPEN_RETRY_SECONDS = 1.0


def use_api_base(api_base: str) -> None:
    """Send every REST call to `api_base`.

    discord.py builds all REST URLs — interaction callbacks and webhook follow-ups included
    (`discord.webhook.async_` uses the same `Route`) — from the class attribute `Route.BASE`.
    """
    discord.http.Route.BASE = api_base


class ShirabeTree(app_commands.CommandTree):
    """A command tree fenced to the configured guilds, whose errors always end in a polite
    reply and a logged traceback."""

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        """The fence (`checks.answers_in`) for every slash command and autocomplete.

        Outside it the interaction gets no response at all: Discord shows the user "did not
        respond", which tells them nothing about the corpus. Buttons are fenced by their views.
        """
        return checks.interaction_fenced_in(interaction)

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        lang = lang_for_locale(interaction.locale)
        if isinstance(error, app_commands.CommandNotFound):
            log.warning("interaction for unknown command %r", error.name)
            message = text("unknown_command", lang)
        else:
            command = interaction.command.name if interaction.command else "?"
            original = getattr(error, "original", error)
            log.error("/%s failed", command, exc_info=original)
            message = text("error", lang)
        if interaction.type is discord.InteractionType.autocomplete:
            return  # autocomplete cannot carry a message; the traceback is logged
        try:
            await answering.send_notice(interaction, message)
        except discord.HTTPException:
            log.exception("could not send the error reply")


class Shirabe(commands.Bot):
    """The bot: owns the config, the engine (opened in `setup_hook`) and the per-user rate
    limit (`cooldown`) that every way of asking shares."""

    engine: Engine

    def __init__(self, config: Config) -> None:
        # The bot never joins voice; do not warn at every start that voice libraries are absent.
        discord.VoiceClient.warn_nacl = False
        discord.VoiceClient.warn_dave = False
        intents = discord.Intents.default()
        intents.message_content = config.discord.message_content_intent
        super().__init__(
            command_prefix=commands.when_mentioned,  # unused: there are no prefix commands
            help_command=None,
            intents=intents,
            allowed_mentions=answering.no_mentions(),
            tree_cls=ShirabeTree,
            **self.shard_options(config),
        )
        self.config = config
        self.cooldown = TokenBucket(config.discord.rate_seconds, burst=config.discord.rate_burst)
        self.synced = False

    @staticmethod
    def shard_options(config: Config) -> dict:
        """Client options for the shards; none for the single connection of an unsharded bot."""
        return {}

    @property
    def reindexing(self) -> bool:
        """A reindex is running, or claimed by /reindex and about to start.

        Interactions arriving now are deferred at once: answers may wait on the rebuild's I/O.
        """
        cog = self.get_cog("Reindex")
        return bool(getattr(cog, "busy", False)) or self.engine.reindexing

    async def login(self, token: str) -> None:
        use_api_base(self.config.discord.api_base)
        await super().login(token)

    async def setup_hook(self) -> None:
        cfg = self.config
        log.info("opening the index %s (corpus %s)", cfg.index_path, cfg.corpus_path)
        self.engine = await open_engine(cfg)
        await self.engine.warm_up()
        for notice in getattr(self.engine, "notices", []):
            log.warning("index: %s", notice)
        await self.tree.set_translator(ShirabeTranslator())
        # The answer buttons (👍 👎 🗑) of messages sent by any earlier process: their custom
        # ids carry all they need, so registering the classes makes old buttons work.
        self.add_dynamic_items(*feedback.DYNAMIC_ITEMS, PassageButton)
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        await self.sync_commands()

    async def sync_commands(self) -> None:
        """To each configured guild (shows up instantly), else globally (up to an hour).

        Sharded, only the process serving shard 0 syncs: the commands belong to the
        application, not to a shard, and each sync replaces the last."""
        if self.synced:
            return
        self.synced = True
        if not self.config.discord.syncs_commands:
            log.info("slash commands are synced by the process serving shard 0, not this one")
            return
        targets = [discord.Object(gid) for gid in self.config.discord.guild_ids] or [None]
        for guild in targets:
            if guild is not None:
                self.tree.copy_global_to(guild=guild)
            try:
                synced = await self.tree.sync(guild=guild)
            except discord.Forbidden:
                log.error(
                    "cannot sync commands to guild %s: invite the bot with the "
                    "applications.commands scope (README, Discord section)",
                    guild.id if guild else "-",
                )
                continue
            where = f"guild {guild.id}" if guild else "all guilds (global)"
            log.info("synced %d slash commands to %s", len(synced), where)

    async def connect(self, *, reconnect: bool = True) -> None:
        """Discover the gateway from `{api_base}/gateway/bot`, then connect as usual.

        discord.py's single-shard client otherwise dials wss://gateway.discord.gg directly,
        which would bypass a Discord-compatible server configured through `api_base`.
        """
        recommended, url, _ = await self.http.get_bot_gateway()
        configured = self.config.discord.shard_count
        if recommended > (configured or 1):
            log.warning(
                "Discord recommends %d shards; discord.shard_count is %s (README, Scaling out)",
                recommended,
                configured or "unset",
            )
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)
        await super().connect(reconnect=reconnect)

    async def on_ready(self) -> None:
        count = self.config.discord.shard_count
        log.info(
            "ready as %s (id %s) in %d guild(s)%s",
            self.user,
            self.user and self.user.id,
            len(self.guilds),
            f", shards {list(self.config.discord.shards)} of {count}" if count else "",
        )
        for guild in list(self.guilds):
            await self.fence_guild(guild)

    async def on_guild_join(self, guild: discord.Guild) -> None:
        await self.fence_guild(guild)

    async def fence_guild(self, guild: discord.Guild) -> None:
        """Warn about a guild outside `guild_ids`, and leave it with `leave_foreign_guilds`.

        Leaving is optional because an admin may be moving the bot between servers; staying
        is safe either way, since nothing is answered there.
        """
        config = self.config.discord
        if not checks.is_foreign(guild.id, config):
            return
        if not config.leave_foreign_guilds:
            checks.warn_foreign_guild(guild.id)
            return
        log.warning("leaving guild %s (%s): not in discord.guild_ids", guild.id, guild.name)
        try:
            await guild.leave()
        except discord.HTTPException:
            log.exception("could not leave guild %s", guild.id)

    async def on_message(self, message: discord.Message) -> None:
        """No prefix commands: questions in channels are handled by the Questions cog."""

    async def close(self) -> None:
        """Close the gateway and HTTP session, then the index database."""
        await super().close()
        await self.close_engine()

    async def close_engine(self) -> None:
        """Close the index database once, whenever it was opened (even mid start-up)."""
        engine = getattr(self, "engine", None)
        if engine is not None:
            del self.engine
            await engine.close()
            log.info("index database closed")


class ShardedShirabe(Shirabe, commands.AutoShardedBot):
    """The same bot over `discord.shard_count` shards, serving `discord.shard_ids` (all when
    empty): one gateway connection per shard in this process.

    The gateway URL comes from `connect` above, since discord.py's sharded client dials its
    default gateway when the shard count is given."""

    @staticmethod
    def shard_options(config: Config) -> dict:
        d = config.discord
        return {"shard_count": d.shard_count, "shard_ids": list(d.shard_ids) or None}


def make_bot(config: Config) -> Shirabe:
    """The single-connection bot, or the sharded one when `discord.shard_count` is set."""
    return ShardedShirabe(config) if config.discord.shard_count else Shirabe(config)


async def open_engine(config: Config) -> Engine:
    """Open (or build) the index; while another process builds it -- the process of another
    shard starting at the same time, or `shirabe index` -- wait for that build and use it."""
    settings = replace(DEFAULT, rerank=config.rerank, rerank_weight=config.rerank_weight)
    waiting = False
    while True:
        try:
            return await Engine.open(
                config.corpus_path, config.index_path, build_if_missing=True, settings=settings
            )
        except ReindexRunning:
            if not waiting:
                log.info("another process is building the index; waiting for it to finish")
                waiting = True
            await asyncio.sleep(OPEN_RETRY_SECONDS)


def run(config_path: Path | None) -> int:
    """`shirabe run`: serve until SIGINT/SIGTERM. Returns the process exit code.

    2 for a bad config (the message names the key), 1 when Discord refuses us or start-up
    fails, 0 after a clean shutdown.
    """
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        print(f"shirabe: config error: {exc}", file=sys.stderr)
        return 2
    _setup_logging()
    try:
        return asyncio.run(_serve(config))
    except KeyboardInterrupt:  # a second Ctrl-C while shutting down
        return 130


def _setup_logging() -> None:
    """discord.py's log format, unless the CLI configured logging already."""
    if not logging.getLogger().handlers:
        discord.utils.setup_logging(level=logging.INFO, root=True)


async def _serve(config: Config) -> int:
    config.index_path.parent.mkdir(parents=True, exist_ok=True)
    bot = make_bot(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # Windows: Ctrl-C raises instead
            pass
    main = asyncio.create_task(bot.start(config.discord.token), name="shirabe")
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait({main, stopped}, return_when=asyncio.FIRST_COMPLETED)
    code = 0
    if main.done() and (exc := main.exception()) is not None:
        code = _explain(exc, config)
    else:
        log.info("signal received, shutting down")
    stopped.cancel()
    await bot.close()
    if not main.done():  # stopped during start-up (say, while the index was being built)
        main.cancel()
        try:
            await asyncio.wait_for(main, timeout=10)
        except (TimeoutError, asyncio.CancelledError, Exception):
            log.debug("the start-up task ended uneasily during shutdown", exc_info=True)
        await bot.close_engine()  # setup_hook may have opened it after close() ran
    return code


def _explain(exc: BaseException, config: Config) -> int:
    """One readable line for the failures users can fix; a traceback for the rest."""
    if isinstance(exc, discord.LoginFailure):
        print(
            f"shirabe: Discord rejected the token (discord.token / {TOKEN_ENV}); reset it in the "
            "Developer Portal under Bot → Reset Token",
            file=sys.stderr,
        )
    elif isinstance(exc, discord.PrivilegedIntentsRequired):
        print(
            "shirabe: the Message Content intent is not enabled for this bot. Enable it in the "
            "Developer Portal (Bot → Privileged Gateway Intents), or set "
            "discord.message_content_intent = false (then answer_channels cannot work)",
            file=sys.stderr,
        )
    elif isinstance(exc, ShirabeError):
        print(f"shirabe: {exc}", file=sys.stderr)
    elif isinstance(exc, discord.GatewayNotFound | discord.HTTPException | OSError):
        print(f"shirabe: cannot reach Discord at {discord.http.Route.BASE}: {exc}", file=sys.stderr)
    else:
        log.error("the bot stopped with an error", exc_info=exc)
    return 1
