"""Small named checks used by the cogs."""

from __future__ import annotations

import logging

import discord

from bot.config import DiscordConfig

log = logging.getLogger("shirabe.bot")


def is_admin(interaction: discord.Interaction, config: DiscordConfig) -> bool:
    """Manage Server (or Administrator) here, or listed in `admin_user_ids` / `admin_role_ids`.

    `interaction.permissions` is what Discord resolved for this member in this channel, so it
    is right even when the member's roles are not cached.
    """
    user = interaction.user
    if user.id in config.admin_user_ids:
        return True
    if interaction.guild_id is None:
        return False
    perms = interaction.permissions
    if perms.manage_guild or perms.administrator:
        return True
    role_ids = {role.id for role in getattr(user, "roles", ())}
    return bool(role_ids & config.admin_role_ids)


# Foreign guilds already warned about: the warning is worth one line per guild and process,
# not one per message a busy foreign server sends.
_warned_guilds: set[int] = set()


def answers_in(guild_id: int | None, config: DiscordConfig) -> bool:
    """The fence: whether the bot may answer anything here (`guild_id` None: a direct message).

    With Public Bot on (Discord's default) anyone can invite the bot and read the corpus
    through it, so a non-empty `guild_ids` is a fence and not only where commands are synced.
    Outside it the bot stays silent -- no refusal either, which would still spend requests and
    confirm what the bot is. Direct messages are answered only with `answer_dms`.
    """
    if guild_id is None:
        return config.answer_dms
    if is_foreign(guild_id, config):
        warn_foreign_guild(guild_id)
        return False
    return True


def interaction_fenced_in(interaction: discord.Interaction) -> bool:
    """The fence for an interaction (command, autocomplete or button press) of this bot."""
    config = interaction.client.config  # type: ignore[attr-defined]
    return answers_in(interaction.guild_id, config.discord)


def is_foreign(guild_id: int, config: DiscordConfig) -> bool:
    """The guild is outside a configured `guild_ids` (an empty list fences nothing)."""
    return bool(config.guild_ids) and guild_id not in config.guild_ids


def warn_foreign_guild(guild_id: int) -> None:
    """Log, once per guild per process, that a guild outside `guild_ids` is being ignored."""
    if guild_id in _warned_guilds:
        return
    _warned_guilds.add(guild_id)
    log.warning(
        "ignoring guild %s: it is not in discord.guild_ids (set leave_foreign_guilds = true "
        "to leave it, and turn Public Bot off so nobody else can invite the bot)",
        guild_id,
    )


def message_guild_id(message: discord.Message) -> int | None:
    """The guild a message was sent in, None in a direct message.

    `message.guild` is None both in DMs and in a guild missing from the cache; the channel
    still knows its guild id then, and the fence must not take such a message for a DM.
    """
    if message.guild is not None:
        return message.guild.id
    return getattr(message.channel, "guild_id", None)
