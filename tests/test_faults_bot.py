"""The bot under abuse and Discord's own faults, end to end: `shirabe run` as a subprocess
against the Discord stand-in on 127.0.0.1.

- A flood of 1,000 questions from one user is held to the per-user rate limit (every
  interaction still acknowledged, one burst answered), and a flood of channel messages gets one
  notice, not hundreds; other users are answered meanwhile.
- 429 responses with retry_after, on an interaction callback, a webhook follow-up and a channel
  message, are waited out and retried: the answer arrives.
- A /reindex that outlives its interaction token (the stand-in answers its follow-up with 404
  Unknown Webhook, as Discord does after 15 minutes) reports in the channel instead.
- A full reconnect (new session, new READY) does not sync slash commands again.
- The token never appears in the log, in anything sent, or in any file the run wrote.
"""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path

import pytest
from bot_harness import BotHarness, assert_no_mentions, new_user
from discord_standin import Call

pytestmark = pytest.mark.slow

TOKEN = "faults-token.MTIzNDU2Nzg5.SECRET-never-print"
ADMIN_USER = 4343
COOLDOWN = 60  # written as the old key cooldown_seconds, still read as rate_seconds
BURST = 3  # the default rate_burst: questions a user may ask at once
FLOOD = 1000
EPHEMERAL = 64

class Bot(BotHarness):
    """The shared harness with this module's config; `ask` returns the interaction."""

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir, TOKEN)

    def start_bot(self) -> None:
        s = self.standin
        self.start(
            f"""guild_ids = [{s.guild_id}]
admin_user_ids = [{ADMIN_USER}]
answer_channels = [{s.channel_ids[1]}]
cooldown_seconds = {COOLDOWN}
"""
        )

    def ask(self, question: str, user: int) -> dict:
        return self.command("ask", {"question": question}, user_id=user)


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory):
    harness = Bot(tmp_path_factory.mktemp("faults-bot"))
    try:
        harness.start_bot()
        yield harness
    finally:
        harness.stop()


def is_answer(body: dict) -> bool:
    embeds = body.get("embeds") or []
    return bool(embeds) and "§" in (embeds[0].get("description") or "")


def is_cooldown_notice(body: dict) -> bool:
    content = body.get("content") or ""
    return "try again in" in content or "秒後にもう一度" in content  # English or Japanese


# ---- abuse and fairness --------------------------------------------------------------------


def test_a_flood_of_slash_questions_is_held_to_the_rate_limit(bot: Bot) -> None:
    flooder, others = new_user(), [new_user() for _ in range(5)]

    async def flood() -> tuple[list[dict], list[tuple[float, dict]]]:
        mine, theirs = [], []
        for i in range(FLOOD):
            mine.append(await bot.standin.interaction(
                "ask", {"question": f"CSTOの議長は誰? {i}"}, user_id=flooder))
            if i % (FLOOD // len(others)) == FLOOD // 10:  # others ask in the thick of it
                user = others[len(theirs)]
                theirs.append((time.monotonic(), await bot.standin.interaction(
                    "ask", {"question": "カザフスタンで拘束された人数は"}, user_id=user)))
        return mine, theirs

    mine, theirs = bot.run(flood())
    for asked_at, interaction in theirs:
        body = bot.reply_to(interaction, timeout=30)
        assert is_answer(body), body
        answered_at = max(c.at for c in bot.standin.calls_for(interaction["token"]))
        assert answered_at - asked_at < 20, "another user waited behind the flood"
    bot.wait(lambda: all(bot.standin.calls_for(i["token"]) for i in mine),
             "every flooded interaction to be acknowledged", timeout=120)
    replies = [bot.bodies_for(i) for i in mine]
    assert all(len(r) == 1 for r in replies), "exactly one response per interaction"
    answered = [r[0] for r in replies if is_answer(r[0])]
    notices = [r[0] for r in replies if is_cooldown_notice(r[0])]
    assert len(answered) == BURST and len(notices) == FLOOD - BURST
    assert all(n.get("flags", 0) & EPHEMERAL for n in notices), "notices are private"


def test_a_flood_of_channel_messages_gets_one_notice(bot: Bot) -> None:
    s = bot.standin
    channel = s.channel_ids[1]  # an answer channel: every message is a question
    flooder, other, marker_user = new_user(), new_user(), new_user()

    async def flood() -> tuple[list[dict], dict]:
        mine = []
        for i in range(300):
            # Distinct messages that search the same words (a number would be a word of its
            # own, and the answer channel replies only when a passage states the answer).
            text = "CSTOの議長は誰?" + "!" * (i % 7) + "?" * (i // 7)
            mine.append(await s.message(text, user_id=flooder, channel_id=channel))
            if i == 150:
                theirs = await s.message("セブ湖を占領した軍", user_id=other, channel_id=channel)
        return mine, theirs

    mine, theirs = bot.run(flood())
    assert is_answer(bot.wait(lambda: bot.channel_replies(theirs), "the other user's answer")[0]
                     .body)
    marker = bot.run(s.message("カザフスタン", user_id=marker_user, channel_id=channel))
    bot.wait(lambda: bot.channel_replies(marker), "the marker's answer")
    replies = [c.body for m in mine for c in bot.channel_replies(m)]
    assert sum(map(is_answer, replies)) == BURST
    assert sum(map(is_cooldown_notice, replies)) == 1, "one notice, not one per message"
    assert len(replies) == BURST + 1


# ---- Discord's rate limits -----------------------------------------------------------------


def retried(bot: Bot, pattern: str, retry_after: float) -> tuple[Call, Call]:
    """The 429'd request and its successful retry, at least retry_after apart."""
    calls = [c for c in list(bot.standin.calls) if re.fullmatch(pattern, c.path)]
    limited = [c for c in calls if c.status == 429]
    assert len(limited) == 1, [(c.path, c.status) for c in calls]
    after = [c for c in calls if c.at > limited[0].at and c.status < 300]
    assert after, "the request was not retried"
    assert after[0].at - limited[0].at >= retry_after * 0.9
    assert after[0].body == limited[0].body, "the same answer, not a different one"
    return limited[0], after[0]


def test_429_on_an_interaction_response_is_waited_out(bot: Bot) -> None:
    user = new_user()
    bot.standin.rate_limit_once("POST", r"/interactions/\d+/[^/]+/callback", 0.5)
    interaction = bot.ask("CSTOの議長は誰?", user)
    assert is_answer(bot.reply_to(interaction))
    retried(bot, rf"/interactions/\d+/{interaction['token']}/callback", 0.5)


def test_429_on_a_follow_up_is_waited_out(bot: Bot) -> None:
    s = bot.standin
    s.rate_limit_once("POST", rf"/webhooks/{s.app_id}/[^/]+", 0.5)
    interaction = bot.run(s.interaction("reindex", user_id=ADMIN_USER))
    body = bot.reply_to(interaction, timeout=120)
    assert body.get("embeds") and body["embeds"][0]["title"] == "Reindex finished"
    retried(bot, rf"/webhooks/{s.app_id}/{interaction['token']}", 0.5)


def test_429_on_a_channel_message_is_waited_out(bot: Bot) -> None:
    s = bot.standin
    channel = s.channel_ids[0]
    s.rate_limit_once("POST", rf"/channels/{channel}/messages", 0.5, is_global=True)
    msg = bot.run(s.message(f"<@{s.app_id}> CSTOの議長は誰?", user_id=new_user(),
                            mention_bot=True, channel_id=channel))
    reply = bot.wait(lambda: bot.channel_replies(msg), "the reply to a mention")[0]
    assert is_answer(reply.body)
    retried(bot, rf"/channels/{channel}/messages", 0.5)


# ---- long operations and reconnects --------------------------------------------------------


def test_a_reindex_outliving_its_token_reports_in_the_channel(bot: Bot) -> None:
    s = bot.standin
    (bot.workdir / "corpus" / "late.txt").write_text("遅い記事\nバイカル湖の話。\n", "utf-8")
    s.token_lifetime = 0.0  # every follow-up finds its token expired
    try:
        interaction = bot.run(s.interaction("reindex", user_id=ADMIN_USER))
        channel = int(interaction["channel_id"])

        def posted() -> list[Call]:
            return [c for c in s.replies_in(channel) if c.status == 200
                    and "/reindex" in ((c.body or {}).get("content") or "")]

        (post,) = bot.wait(posted, "the reindex report in the channel", timeout=120)
    finally:
        s.token_lifetime = None
    expired = [c for c in s.calls_for(interaction["token"]) if c.status == 404]
    assert expired, "the follow-up was tried first"
    assert f"<@{ADMIN_USER}>" in post.body["content"]
    embed = post.body["embeds"][0]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert embed["title"] == "Reindex finished" and fields["Added"] == "1"
    assert_no_mentions(post.body)


def test_follow_ups_stop_before_the_token_expires() -> None:
    """Past 15 minutes less a margin, a late reply goes straight to the channel."""
    from bot.answering import INTERACTION_TOKEN_SECONDS, TOKEN_MARGIN_SECONDS, token_alive

    assert INTERACTION_TOKEN_SECONDS == 15 * 60
    assert token_alive(100.0, now=100.0 + INTERACTION_TOKEN_SECONDS - TOKEN_MARGIN_SECONDS - 1)
    assert not token_alive(100.0, now=100.0 + INTERACTION_TOKEN_SECONDS - TOKEN_MARGIN_SECONDS)


def test_a_full_reconnect_does_not_sync_commands_again(bot: Bot) -> None:
    s = bot.standin
    ready_before = len(bot.sent_events("READY"))
    s.invalidate_session()
    bot.run(s.drop_connection(4000))
    bot.wait(lambda: len(bot.sent_events("READY")) > ready_before, "a new READY", timeout=60)
    bot.wait(lambda: bot.log().count("ready as") >= 2, "on_ready to run again")
    assert is_answer(bot.reply_to(bot.ask("CSTOの議長は誰?", new_user())))
    syncs = [c for c in s.calls if c.method == "PUT" and c.path.endswith("/commands")]
    assert len(syncs) == 1, "commands are synced once per process, not per READY"


# ---- secrets (keep last: it stops the bot) -------------------------------------------------


def test_the_token_is_never_written_anywhere(bot: Bot) -> None:
    s = bot.standin
    broken = bot.run(s.interaction("ask", {}, user_id=new_user()))  # no question: an error
    assert "something went wrong" in (bot.reply_to(broken).get("content") or "")
    assert bot.process is not None
    bot.process.send_signal(signal.SIGTERM)
    assert bot.process.wait(30) == 0
    secret = TOKEN.encode()
    log = bot.log_path.read_bytes()
    assert b"Traceback" in log, "the error above was logged with its traceback"
    written = [p for p in bot.workdir.rglob("*") if p.is_file()]
    assert any(p.suffix == ".npy" for p in written) and any(p.name == "shirabe.db" for p in
                                                           written)
    for path in written:
        assert secret not in path.read_bytes(), f"the token is in {path}"
    for call in s.calls:
        assert TOKEN not in repr(call.body), f"the token was sent in {call.method} {call.path}"
    for kind, payload in s.gateway_log:
        if not (kind == "recv" and payload.get("op") in (2, 6)):  # IDENTIFY and RESUME carry it
            assert TOKEN not in repr(payload), payload.get("t") or payload.get("op")
