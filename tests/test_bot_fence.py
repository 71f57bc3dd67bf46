"""The bot fenced to its guilds, end to end: `shirabe run` against the Discord stand-in.

With `guild_ids` set, the bot answers nothing in any other guild the stand-in puts it in --
mentions, answer-channel messages, slash commands, autocomplete and buttons all go without a
response (the chosen behaviour: no refusal either; Discord shows the user "did not respond"),
and the bot logs one warning per foreign guild. Direct messages are ignored unless
`answer_dms = true`, and `leave_foreign_guilds = true` makes it leave foreign guilds at start-up
and when invited.

"Ignored" is shown without timing: the bot handles events in the order they arrive and the
fence needs no I/O, so once an event sent *after* the ignored one is answered, the ignored one
has been dealt with -- and nothing was sent for it.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest
from bot_harness import BotHarness, new_user

from bot import checks
from bot.config import DiscordConfig, load_config

TOKEN = "fence-token.SECRET-do-not-print"
FOREIGN = 940_000_000_000_000_001  # a guild the bot is in but that is not in guild_ids
FOREIGN_CHANNEL = FOREIGN + 1  # the stand-in gives another guild one channel, its id + 1
INVITED = 950_000_000_000_000_001  # a foreign guild that invites the bot while it runs
EPHEMERAL = 64


class Harness(BotHarness):
    """The shared harness, with the bot also in the FOREIGN guild."""

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir, TOKEN, other_guild_ids=(FOREIGN,))

    def start_bot(self, extra_keys: str = "") -> None:
        s = self.standin
        # The foreign guild's channel is an answer channel too: the fence wins over it.
        self.start(
            f"guild_ids = [{s.guild_id}]\n"
            f"answer_channels = [{s.channel_ids[1]}, {FOREIGN_CHANNEL}]\n{extra_keys}"
        )
        self.wait(lambda: "ready as" in self.full_log(), "on_ready")

    def full_log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def mention(self, question: str, **kwargs: object) -> dict:
        return self.message(f"<@{self.standin.app_id}> {question}", mention_bot=True,
                            user_id=new_user(), **kwargs)

    def answered(self, msg: dict, what: str) -> dict:
        """The body of the bot's channel reply to `msg`, waiting for it."""
        return self.wait(lambda: self.channel_replies(msg), what)[0].body

    def nothing_sent_for(self, msg: dict) -> bool:
        """No reply and no typing indicator in the message's channel for it."""
        channel = msg["channel_id"]
        typing = [c for c in self.standin.calls if c.path == f"/channels/{channel}/typing"]
        return not self.channel_replies(msg) and not typing


@pytest.fixture(scope="module")
def fenced(tmp_path_factory: pytest.TempPathFactory):
    """guild_ids = [the main guild]; DMs at their default (off); foreign guilds not left."""
    harness = Harness(tmp_path_factory.mktemp("fenced"))
    try:
        harness.start_bot()
        yield harness
    finally:
        harness.stop()


@pytest.fixture(scope="module")
def open_to_dms(tmp_path_factory: pytest.TempPathFactory):
    """The same fence with answer_dms = true and leave_foreign_guilds = true."""
    harness = Harness(tmp_path_factory.mktemp("dms"))
    try:
        harness.start_bot("answer_dms = true\nleave_foreign_guilds = true\n")
        yield harness
    finally:
        harness.stop()


def is_answer(body: dict) -> bool:
    embeds = body.get("embeds") or []
    return bool(embeds) and "§" in (embeds[0].get("description") or "")


# ---- the fence, unit by unit ---------------------------------------------------------------


@pytest.fixture
def config(tmp_path: Path) -> DiscordConfig:
    (tmp_path / "corpus").mkdir()
    path = tmp_path / "c.toml"
    path.write_text('[discord]\ntoken = "t"\n[corpus]\npath = "corpus"\n', encoding="utf-8")
    return load_config(path, env={}).discord


def test_without_guild_ids_every_guild_is_answered_and_dms_are_not(
    config: DiscordConfig,
) -> None:
    assert checks.answers_in(123, config) and checks.answers_in(456, config)
    assert not checks.answers_in(None, config), "DMs are off by default"
    assert checks.answers_in(None, dataclasses.replace(config, answer_dms=True))


def test_a_foreign_guild_is_refused_and_logged_once(
    config: DiscordConfig, caplog: pytest.LogCaptureFixture
) -> None:
    fenced = dataclasses.replace(config, guild_ids=(111,))
    with caplog.at_level(logging.WARNING, logger="shirabe.bot"):
        assert checks.answers_in(111, fenced)
        assert not checks.answers_in(960_000_000_000_000_001, fenced)
        assert not checks.answers_in(960_000_000_000_000_001, fenced)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "ignoring guild 960000000000000001" in warnings[0]


# ---- guilds outside guild_ids --------------------------------------------------------------


def test_a_mention_outside_guild_ids_is_ignored_while_the_same_one_inside_is_answered(
    fenced: Harness,
) -> None:
    outside = fenced.mention("CSTOの議長は誰?", guild_id=FOREIGN)
    inside = fenced.mention("CSTOの議長は誰?")
    assert is_answer(fenced.answered(inside, "the answer in the configured guild"))
    assert fenced.nothing_sent_for(outside)


def test_answer_channel_messages_and_replies_outside_are_ignored(fenced: Harness) -> None:
    s = fenced.standin
    bot_message = next(m for m in list(s.messages.values()) if m.get("guild_id"))
    ignored = [
        fenced.message("CSTOの議長は誰?", user_id=new_user(), guild_id=FOREIGN),
        fenced.message("who chairs CSTO?", user_id=new_user(), guild_id=FOREIGN,
                       reply_to=bot_message),
    ]
    marker = fenced.message("カザフスタン", user_id=new_user(), channel_id=s.channel_ids[1])
    assert is_answer(fenced.answered(marker, "the answer-channel reply in the configured guild"))
    for msg in ignored:
        assert fenced.nothing_sent_for(msg), msg["content"]


def test_slash_commands_and_autocomplete_outside_get_no_response(fenced: Harness) -> None:
    s = fenced.standin
    outside = [
        fenced.command("ask", {"question": "CSTOの議長は誰?"}, user_id=new_user(),
                       guild_id=FOREIGN),
        fenced.command("search", {"query": "CSTO"}, user_id=new_user(), guild_id=FOREIGN),
        fenced.command("source", {"document": "カザフ"}, user_id=new_user(), kind=4,
                       focused="document", guild_id=FOREIGN),
    ]
    inside = fenced.command("ask", {"question": "CSTOの議長は誰?"}, user_id=new_user())
    assert is_answer(fenced.reply_to(inside))
    for interaction in outside:
        assert not s.calls_for(interaction["token"]), interaction["data"]["name"]


def test_buttons_pressed_outside_get_no_response(fenced: Harness) -> None:
    """Say a pager from before guild_ids was set, or a forged press: the view's own check."""
    s = fenced.standin
    search = fenced.command("search", {"query": "カザフスタン"}, user_id=new_user())
    page = fenced.reply_to(search)
    message_id = s.interaction_messages[search["token"]]
    next_id = next(b["custom_id"] for row in page["components"] for b in row["components"]
                   if "Next" in b["label"])
    outside = fenced.run(s.click(message_id, next_id, user_id=new_user(), guild_id=FOREIGN))
    inside = fenced.run(s.click(message_id, next_id, user_id=new_user()))
    assert "**6.** " in fenced.reply_to(inside)["embeds"][0]["description"]
    assert not s.calls_for(outside["token"])


def test_a_foreign_guild_is_logged_once_and_not_left_by_default(fenced: Harness) -> None:
    fenced.mention("CSTO", guild_id=FOREIGN)
    marker = fenced.mention("CSTO")
    fenced.answered(marker, "the marker answer")
    log = fenced.full_log()
    assert log.count(f"ignoring guild {FOREIGN}") == 1, "one warning per guild, not per event"
    assert f"ignoring guild {fenced.standin.guild_id}" not in log
    assert fenced.standin.left_guilds == []


# ---- direct messages -----------------------------------------------------------------------


def test_a_dm_is_ignored_by_default(fenced: Harness) -> None:
    s = fenced.standin
    dm = fenced.message("CSTOの議長は誰?", user_id=new_user(), dm=True)
    command = fenced.command("ask", {"question": "CSTOの議長は誰?"}, user_id=new_user(), dm=True)
    marker = fenced.mention("CSTO")
    fenced.answered(marker, "the marker answer")
    assert fenced.nothing_sent_for(dm)
    assert not s.calls_for(command["token"])


def test_a_dm_is_answered_with_answer_dms(open_to_dms: Harness) -> None:
    dm = open_to_dms.message("CSTOの議長は誰?", user_id=new_user(), dm=True)
    reply = open_to_dms.answered(dm, "the answer to a DM")
    assert is_answer(reply)
    assert open_to_dms.standin.guild_of(int(dm["channel_id"])) is None, "sent in the DM"


# ---- leave_foreign_guilds ------------------------------------------------------------------


def test_foreign_guilds_are_left_at_start_and_when_invited(open_to_dms: Harness) -> None:
    s = open_to_dms.standin
    open_to_dms.wait(lambda: FOREIGN in s.left_guilds, "leaving the foreign guild at start-up")
    open_to_dms.run(s.join_guild(INVITED))
    open_to_dms.wait(lambda: INVITED in s.left_guilds, "leaving a guild that invites the bot")
    assert s.guild_id not in s.left_guilds
    log = open_to_dms.full_log()
    assert f"leaving guild {FOREIGN}" in log and f"leaving guild {INVITED}" in log
    assert is_answer(open_to_dms.answered(open_to_dms.mention("CSTO"), "an answer at home"))
