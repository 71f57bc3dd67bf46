"""Questions in channels: mentions and replies to the bot, every message in answer channels,
and direct messages when `answer_dms` is on. Nothing is answered outside the fence
(`bot.checks.answers_in`): guilds not in `guild_ids`, and DMs unless enabled.

Reading a message's text needs the privileged Message Content intent, except for messages that
mention the bot (Discord always shows a bot the messages that ping it). Without the intent the
content of other messages arrives empty, so they are skipped here rather than "answered".

With `reply_in_thread`, an answer to a question in an answer channel opens a thread from the
question; a question asked in that thread (its parent is an answer channel) is answered there.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

import discord
from discord.ext import commands

from bot import answering, feedback
from bot.answering import Reply, no_mentions
from bot.checks import answers_in, message_guild_id
from bot.texts import Lang, lang_for_text, text

if TYPE_CHECKING:
    from bot.app import Shirabe

log = logging.getLogger(__name__)

THREAD_NAME_LIMIT = 100  # Discord's limit on a thread's name


def bot_role_ids(message: discord.Message, me: discord.abc.Snowflake) -> set[int]:
    """The bot's own managed role(s): people often pick it instead of the bot when mentioning."""
    return {r.id for r in message.role_mentions if r.tags is not None and r.tags.bot_id == me.id}


def strip_mentions(content: str, me_id: int, role_ids: set[int]) -> str:
    """The question without the mentions of the bot that addressed it."""
    content = re.sub(rf"<@!?{me_id}>", " ", content)
    for role_id in role_ids:
        content = content.replace(f"<@&{role_id}>", " ")
    return " ".join(content.split())


def thread_name(question: str, lang: Lang) -> str:
    """The question on one line, cut to Discord's limit (a generic name if nothing is left)."""
    name = " ".join(question.split()) or text("thread_name", lang)
    if len(name) > THREAD_NAME_LIMIT:
        name = name[: THREAD_NAME_LIMIT - 1] + "…"
    return name


def replies_to(message: discord.Message, me_id: int) -> bool:
    """The message is a reply to one of the bot's own messages."""
    ref = message.reference
    resolved = ref.resolved if ref is not None else None
    return isinstance(resolved, discord.Message) and resolved.author.id == me_id


class Questions(commands.Cog):
    def __init__(self, bot: Shirabe) -> None:
        self.bot = bot

    def in_answer_channel(self, channel: discord.abc.MessageableChannel) -> bool:
        channels = self.bot.config.discord.answer_channels
        parent_id = getattr(channel, "parent_id", None)  # threads inherit their channel's role
        return channel.id in channels or (parent_id is not None and parent_id in channels)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        me = self.bot.user
        if me is None or message.author.bot or message.author.id == me.id:
            return
        guild_id = message_guild_id(message)
        if not answers_in(guild_id, self.bot.config.discord):
            return
        roles = bot_role_ids(message, me)
        mentioned = any(u.id == me.id for u in message.mentions) or bool(roles)
        direct = guild_id is None  # past the fence, a DM is always meant for the bot
        addressed = mentioned or direct or replies_to(message, me.id)
        if not addressed and not self.in_answer_channel(message.channel):
            return
        question = strip_mentions(message.content, me.id, roles)
        try:
            await self.answer(message, question, addressed=addressed)
        except Exception:
            log.exception(
                "failed to answer message %s in channel %s", message.id, message.channel.id
            )
            try:
                await message.reply(
                    text("error", lang_for_text(question)),
                    allowed_mentions=no_mentions(),
                    mention_author=False,
                )
            except discord.HTTPException:
                log.exception("could not even send the error reply")

    async def answer(self, message: discord.Message, question: str, *, addressed: bool) -> None:
        """Answer `question` as a reply to `message`, or stay silent where that is kinder.

        In answer channels (when not addressed) messages without words — emoji, "!!!", an image,
        or any message when the Message Content intent is off — and questions with nothing
        relevant are left alone, so the bot does not talk over a conversation.
        """
        config = self.bot.config
        lang = lang_for_text(question)
        if not addressed and not any(ch.isalnum() for ch in question):
            return
        early = answering.precheck(
            question,
            user_id=message.author.id,
            config=config,
            cooldown=self.bot.cooldown,
            lang=lang,
        )
        if early is not None:
            if self.bot.cooldown.may_notify(message.author.id):  # not one reply per flood item
                await self.send(message, early)
            return
        engine = self.bot.engine
        async with message.channel.typing():
            reply = await answering.ask(engine, question, k=config.top_k, lang=lang)
            silent = not addressed and not _channel_replies(reply, config)
            # Logged (silent ones too) before it is sent: the buttons name its log row.
            reply = await feedback.log_and_offer(
                engine,
                reply,
                guild_id=message.guild.id if message.guild else None,
                channel_id=message.channel.id,
                asker_id=message.author.id,
                buttons=not silent,
            )
        if not silent:
            await self.send(message, reply, question=question)

    async def send(self, message: discord.Message, reply: Reply, *, question: str = "") -> None:
        """`reply` as a reply to `message`; an answer in a new thread from it, in thread mode."""
        if reply.kind in feedback.BUTTONED and self.opens_thread(message.channel):
            thread = await self.open_thread(message, thread_name(question, lang_for_text(question)))
            if thread is not None:
                await thread.send(**reply.send_kwargs())
                return
        await message.reply(**reply.send_kwargs(), mention_author=False)

    def opens_thread(self, channel: discord.abc.MessageableChannel) -> bool:
        """Thread mode is on and `channel` is an answer channel itself (in a thread the
        question is answered where it was asked)."""
        config = self.bot.config.discord
        return config.reply_in_thread and channel.id in config.answer_channels

    async def open_thread(self, message: discord.Message, name: str) -> discord.Thread | None:
        """A public thread started from `message`, or None (logged) when Discord refuses one:
        the answer then goes to the channel as a reply instead of being lost."""
        try:
            return await message.create_thread(name=name)
        except (discord.HTTPException, ValueError) as exc:  # ValueError: no guild cached
            log.warning(
                "could not open a thread from message %s (%s); replying in the channel",
                message.id,
                exc,
            )
            return None


async def setup(bot: Shirabe) -> None:
    await bot.add_cog(Questions(bot))


def _channel_replies(reply: answering.Reply, config) -> bool:
    """Whether a question nobody addressed to the bot (a plain message in an answer channel)
    gets a reply: only when a passage states the answer, or also when passages are related
    (`channel_verdict`), and on "nothing" only with `reply_when_nothing_found`."""
    verdict = reply.answer.verdict if reply.answer is not None else None
    if verdict == "answered":
        return True
    if verdict == "related":
        return config.discord.channel_verdict == "related"
    return config.discord.reply_when_nothing_found
