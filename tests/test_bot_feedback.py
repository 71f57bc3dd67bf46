"""The community loop end to end: `shirabe run` against the Discord stand-in on 127.0.0.1.

- Every answer (an /ask, a mention, an answer-channel question) carries 👍 👎 🗑; notices do not.
- A vote is acknowledged privately and lands in the query log under a keyed hash of the voter;
  the same user's second click replaces their vote.
- 🗑 deletes the reply for the user who asked, and only for them.
- The buttons of a message sent before a restart still work (persistent dynamic items).
- /unanswered lists, for admins only, questions that got "nothing" or a 👎, grouped by wording.
- Thread mode: an answer-channel question is answered in a thread started from it, and a
  question asked inside that thread is answered there.

Nothing here is timed: each check waits for what the bot sends, or for a later event's answer
(the bot handles events in order).
"""

from __future__ import annotations

import re
import signal
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest
from bot_harness import ROOT, BotHarness, assert_no_mentions, bot_command, bot_env, new_user

TOKEN = "feedback-token.SECRET-do-not-print"
ADMIN_USER = 4444
EPHEMERAL = 64
VOTE_ID = re.compile(r"shirabe:vote:(up|down):(\d+)")
DELETE_ID = re.compile(r"shirabe:del:(\d+):([0-9a-f]{32})")


class Harness(BotHarness):
    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir, TOKEN)
        self.db = workdir / "data" / "shirabe.db"

    def start_bot(self) -> None:
        s = self.standin
        self.start(
            f"guild_ids = [{s.guild_id}]\nadmin_user_ids = [{ADMIN_USER}]\n"
            f"answer_channels = [{s.channel_ids[1]}]\nreply_in_thread = true\n"
            "rate_seconds = 30\n"
        )
        self.wait(lambda: "ready as" in self.full_log(), "on_ready")

    def restart(self) -> None:
        """Stop the bot process and start a new one on the same config and database."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        assert self.process.wait(30) == 0
        identifies = len(self.received_ops(2))
        self.process = subprocess.Popen(
            bot_command(self.workdir / "config.toml"),
            cwd=ROOT,
            env=bot_env(TOKEN),
            stdout=self.log_path.open("ab"),
            stderr=subprocess.STDOUT,
        )
        self.wait(lambda: len(self.received_ops(2)) > identifies, "the new process's IDENTIFY")
        self.wait(lambda: self.full_log().count("ready as") >= 2, "on_ready after the restart")

    def full_log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def ask(self, question: str, *, user: int, **kwargs: Any) -> dict:
        """The reply body to an /ask."""
        return self.reply_to(self.command("ask", {"question": question}, user_id=user, **kwargs))

    def mention(self, question: str, *, user: int) -> tuple[dict, dict]:
        """A mention of the bot and the body of its reply."""
        msg = self.message(f"<@{self.standin.app_id}> {question}", user_id=user,
                           mention_bot=True)
        return msg, self.wait(lambda: self.channel_replies(msg), "the reply")[0].body

    def message_of(self, body: dict) -> dict:
        """The message the stand-in holds for a reply body (its buttons name it uniquely)."""
        ids = custom_ids(body)
        assert ids, f"no buttons on {body}"
        return self.wait(
            lambda: next((m for m in list(self.standin.messages.values())
                          if custom_ids(m) == ids), None),
            "the message with these buttons",
        )

    def click(self, message: dict, emoji: str, *, user: int) -> dict:
        """Press the button showing `emoji`; the interaction (see reply_to for its answer)."""
        custom_id = button(message, emoji)["custom_id"]
        return self.run(self.standin.click(int(message["id"]), custom_id, user_id=user))

    def votes(self, query_id: int) -> list[tuple[str, int]]:
        return rows(self.db, "SELECT voter, value FROM votes WHERE query_id = ? ORDER BY voter",
                    query_id)


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory):
    harness = Harness(tmp_path_factory.mktemp("feedback-bot"))
    try:
        harness.start_bot()
        yield harness
    finally:
        harness.stop()


def rows(db: Path, sql: str, *args: object) -> list[tuple]:
    con = sqlite3.connect(db, timeout=30)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def buttons(body: dict) -> list[dict]:
    return [b for row in body.get("components") or [] for b in row.get("components", [])]


def custom_ids(body: dict) -> list[str]:
    return [b.get("custom_id", "") for b in buttons(body)]


def emojis(body: dict) -> list[str]:
    return [(b.get("emoji") or {}).get("name", "") for b in buttons(body)]


def button(body: dict, emoji: str) -> dict:
    return next(b for b in buttons(body) if (b.get("emoji") or {}).get("name") == emoji)


def query_id(body: dict) -> int:
    match = VOTE_ID.fullmatch(button(body, "👍")["custom_id"])
    assert match, custom_ids(body)
    return int(match.group(2))


def is_answer(body: dict) -> bool:
    embeds = body.get("embeds") or []
    return bool(embeds) and "§" in (embeds[0].get("description") or "")


def private_note(body: dict) -> str:
    """The content of an ephemeral reply without embeds or buttons."""
    assert body.get("flags", 0) & EPHEMERAL, body
    assert not body.get("components") and not body.get("embeds"), body
    assert_no_mentions(body)
    return body["content"]


# ---- the buttons ---------------------------------------------------------------------------


def test_answers_carry_two_vote_buttons_and_a_delete_button(bot: Harness) -> None:
    user = new_user()
    answered = bot.ask("CSTOの議長は誰?", user=user)
    _, mentioned = bot.mention("CSTOの議長は誰?", user=new_user())
    declined = bot.ask("xyzzy plugh", user=new_user())
    for body in (answered, mentioned, declined):
        assert emojis(body)[-3:] == ["👍", "👎", "🗑️"], body.get("components")
        vote_up, vote_down, delete = custom_ids(body)[-3:]
        assert VOTE_ID.fullmatch(vote_up) and VOTE_ID.fullmatch(vote_down)
        assert DELETE_ID.fullmatch(delete)
    assert is_answer(answered) and is_answer(mentioned)
    assert query_id(answered) != query_id(mentioned)
    assert str(user) not in " ".join(custom_ids(answered)), "no user id in a custom id"
    logged = rows(bot.db, "SELECT verdict FROM query_log WHERE id = ?", query_id(answered))
    assert logged == [("answered",)], "logged before the reply, with its verdict"


def test_notices_carry_no_buttons(bot: Harness) -> None:
    user = new_user()
    problem = bot.ask("？！。…", user=user)
    assert "no words" in private_note(problem)
    for _ in range(3):  # the burst
        bot.ask("CSTO", user=user)
    refused = bot.ask("CSTOの議長は誰?", user=user)
    assert "try again in" in private_note(refused)


def test_each_cited_passage_opens_privately_from_its_button(bot: Harness) -> None:
    """📖 1, 📖 2, 📖 3 under an answer: the cited passage whole, with the sentence before and
    after it, shown only to whoever pressed; no buttons on a reply that cites nothing."""
    body = bot.ask("CSTOの議長は誰?", user=new_user())
    labels = [b.get("label") for b in buttons(body) if b.get("label")]
    assert labels == ["📖 1", "📖 2", "📖 3"]
    message = bot.message_of(body)
    press = next(b for b in buttons(message) if b.get("label") == "📖 1")
    opened = bot.reply_to(
        bot.run(bot.standin.click(int(message["id"]), press["custom_id"], user_id=new_user()))
    )
    assert opened.get("flags", 0) & EPHEMERAL
    embed = opened["embeds"][0]
    assert "§" in embed["title"] and "パシヤン" in embed["description"]
    assert_no_mentions(opened)
    declined = bot.ask("xyzzy plugh", user=new_user())
    assert not [b for b in buttons(declined) if b.get("label")]


# ---- votes ---------------------------------------------------------------------------------


def test_a_vote_is_acknowledged_and_stored_and_a_second_click_replaces_it(bot: Harness) -> None:
    message = bot.message_of(bot.ask("CSTOの本部はどこ?", user=new_user()))
    query = query_id(message)
    voter, other = new_user(), new_user()

    first = bot.click(message, "👍", user=voter)
    assert "Thanks" in private_note(bot.reply_to(first))
    assert [value for _, value in bot.votes(query)] == [1]
    (voter_hash, _), = bot.votes(query)
    assert str(voter) not in voter_hash and len(voter_hash) == 64

    again = bot.click(message, "👎", user=voter)
    assert "👎" in private_note(bot.reply_to(again))
    assert bot.votes(query) == [(voter_hash, -1)], "replaced, not added"

    bot.reply_to(bot.click(message, "👍", user=other))
    assert sorted(value for _, value in bot.votes(query)) == [-1, 1]
    assert query in {m for m, in rows(bot.db, "SELECT id FROM query_log")}


# ---- 🗑 ----------------------------------------------------------------------------------------


def test_delete_removes_the_reply_for_its_asker_only(bot: Harness) -> None:
    s = bot.standin
    asker = new_user()
    message = bot.message_of(bot.ask("CSTOの議長は誰?", user=asker))
    refused = bot.click(message, "🗑️", user=new_user())
    assert "Only the person who asked" in private_note(bot.reply_to(refused))
    assert int(message["id"]) in s.messages

    deleted = bot.click(message, "🗑️", user=asker)
    bot.wait(lambda: int(message["id"]) in s.deleted, "the reply to be deleted")
    callbacks = [c.body["type"] for c in s.calls_for(deleted["token"]) if
                 c.path.endswith("/callback")]
    assert callbacks == [6], "the press is acknowledged (deferred update), then deleted"


def test_delete_works_on_a_mention_reply_for_the_author(bot: Harness) -> None:
    s = bot.standin
    author = new_user()
    _, reply = bot.mention("CSTOの議長は誰?", user=author)
    message = bot.message_of(reply)
    refused = bot.click(message, "🗑️", user=new_user())
    assert "Only the person who asked" in private_note(bot.reply_to(refused))
    bot.click(message, "🗑️", user=author)
    bot.wait(lambda: int(message["id"]) in s.deleted, "the mention reply to be deleted")


# ---- /unanswered ---------------------------------------------------------------------------


def test_unanswered_lists_declined_and_downvoted_questions_for_admins(bot: Harness) -> None:
    for wording in ("plover plugh", "Plover  plugh？"):
        assert "Nothing relevant" in bot.ask(wording, user=new_user())["embeds"][0][
            "description"]
    disliked = bot.message_of(bot.ask("カザフスタンで拘束された人数は", user=new_user()))
    bot.reply_to(bot.click(disliked, "👎", user=new_user()))

    body = bot.reply_to(bot.command("unanswered", user_id=ADMIN_USER))
    assert body.get("flags", 0) & EPHEMERAL and not body.get("components")
    description = body["embeds"][0]["description"]
    assert "**2×** Plover  plugh？" in description, description
    assert "カザフスタンで拘束された人数は" in description
    assert "CSTOの議長は誰" not in description, "asked above, answered, never disliked"
    assert_no_mentions(body)

    week = bot.reply_to(bot.command("unanswered", {"days": 1}, user_id=ADMIN_USER))
    assert "**2×** Plover  plugh？" in week["embeds"][0]["description"]


def test_unanswered_is_refused_to_others(bot: Harness) -> None:
    body = bot.reply_to(bot.command("unanswered", user_id=new_user()))
    assert "Manage Server" in private_note(body)


# ---- thread mode ---------------------------------------------------------------------------


def test_thread_mode_answers_in_a_thread_and_follow_ups_there(bot: Harness) -> None:
    s = bot.standin
    answers = s.channel_ids[1]
    asked = bot.message("CSTOの本部はどこ?", user_id=new_user(), channel_id=answers)
    thread_id = int(asked["id"])  # a thread started from a message has the message's id
    thread = bot.wait(lambda: s.threads.get(thread_id), "the thread")
    assert int(thread["parent_id"]) == answers and thread["name"] == "CSTOの本部はどこ?"
    (answer,) = bot.wait(lambda: s.replies_in(thread_id), "the answer in the thread")
    assert is_answer(answer.body) and emojis(answer.body)[-3:] == ["👍", "👎", "🗑️"]
    assert not bot.channel_replies(asked), "not also in the channel"

    follow_up = bot.message("CSTOの議長は誰?", user_id=new_user(), channel_id=thread_id)
    reply = bot.wait(lambda: bot.channel_replies(follow_up), "the answer to the follow-up")[0]
    assert reply.path == f"/channels/{thread_id}/messages" and is_answer(reply.body)
    assert list(s.threads) == [thread_id], "no thread from a thread"


def test_outside_answer_channels_a_mention_is_a_plain_reply(bot: Harness) -> None:
    msg, body = bot.mention("CSTOの議長は誰?", user=new_user())
    assert is_answer(body) and int(msg["id"]) not in bot.standin.threads


# ---- after a restart (keep these last) -----------------------------------------------------


def test_buttons_sent_before_a_restart_still_work(bot: Harness) -> None:
    s = bot.standin
    asker, voter = new_user(), new_user()
    message = bot.message_of(bot.ask("CSTOの議長は誰?", user=asker))
    query = query_id(message)
    bot.restart()

    vote = bot.click(message, "👎", user=voter)
    assert "Thanks" in private_note(bot.reply_to(vote))
    assert [value for _, value in bot.votes(query)] == [-1]
    again = bot.click(message, "👍", user=voter)
    bot.reply_to(again)
    assert [value for _, value in bot.votes(query)] == [1], "the same voter, after a restart"

    refused = bot.click(message, "🗑️", user=voter)
    assert "Only the person who asked" in private_note(bot.reply_to(refused))
    bot.click(message, "🗑️", user=asker)
    bot.wait(lambda: int(message["id"]) in s.deleted, "the old reply to be deleted")


def test_nothing_failed_pinged_or_leaked(bot: Harness) -> None:
    failed = [(c.method, c.path, c.status) for c in bot.standin.calls if c.status >= 400]
    assert not failed
    for body in bot.standin.sent_message_bodies():
        assert_no_mentions(body)
    log = bot.full_log()
    assert TOKEN not in log and "Traceback" not in log
