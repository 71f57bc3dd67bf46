"""Small named checks used by the cogs."""

from __future__ import annotations

import discord

from bot.config import DiscordConfig


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
