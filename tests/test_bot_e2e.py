"""End to end: `shirabe run` as a subprocess, real discord.py, the Discord stand-in on 127.0.0.1.

One bot process serves the whole module (starting it, with the index build, is the slow part).
The stand-in runs on its own event loop in a thread, so the tests are plain synchronous
functions: they dispatch gateway events and poll what the bot sent back over REST.
Each test uses its own user ids, so the shared per-user rate limit never couples tests.
"""

from __future__ import annotations

import re
import signal
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest
from bot_harness import (
    ROOT,
    BotHarness,
    assert_no_mentions,
    bot_command,
    bot_env,
    new_user,
    write_config,
)

TOKEN = "stand-in-token.SECRET-do-not-print"
ADMIN_USER = 4242
RATE_SECONDS = 30  # long enough that no question comes back during a test
RATE_BURST = 3
MAX_CHARS = 500
EPHEMERAL = 64
MANAGE_GUILD = 1 << 5

class Harness(BotHarness):
    """The shared harness with this module's config and an /ask that waits for the reply."""

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir, TOKEN)

    def start_bot(self) -> None:
        s = self.standin
        self.start(
            f"""guild_ids = [{s.guild_id}]
admin_user_ids = [{ADMIN_USER}]
admin_role_ids = [{s.admin_role_id}]
answer_channels = [{s.channel_ids[1]}]
rate_seconds = {RATE_SECONDS}
rate_burst = {RATE_BURST}
max_question_chars = {MAX_CHARS}
""",
            extra='[corpus]\npath = "corpus"\n\n[index]\npath = "data/shirabe.db"\n',
            sync_timeout=120,
        )

    def ask(self, question: str, *, user: int | None = None, **kwargs: Any) -> dict:
        options: dict[str, Any] = {"question": question}
        if kwargs.pop("private", False):
            options["private"] = True
        interaction = self.command("ask", options, user_id=user or new_user(), **kwargs)
        return self.reply_to(interaction)


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory):
    harness = Harness(tmp_path_factory.mktemp("bot"))
    try:
        harness.start_bot()
        yield harness
    finally:
        harness.stop()


def embed_of(body: dict) -> dict:
    assert body.get("embeds"), f"expected an embed, got {body}"
    return body["embeds"][0]


def assert_cited_answer(body: dict) -> dict:
    embed = embed_of(body)
    assert re.search(r"\*\*1\.\*\* ", embed["description"])
    assert "§" in embed["description"] and ".txt" in embed["description"]
    assert re.search(r"\*\*[^*\d][^*]*\*\*", embed["description"]), "matched terms in bold"
    assert embed["footer"]["text"].startswith(("searched:", "検索語:"))
    assert_no_mentions(body)
    return embed


# ---- start-up ------------------------------------------------------------------------------


def test_commands_synced_once_to_the_configured_guild(bot: Harness) -> None:
    s = bot.standin
    syncs = [c for c in s.calls if c.method == "PUT" and c.path.endswith("/commands")]
    assert [c.path for c in syncs] == [f"/applications/{s.app_id}/guilds/{s.guild_id}/commands"]
    commands = {c["name"]: c for c in syncs[0].body}
    assert set(commands) == {"ask", "search", "source", "reindex", "stats", "unanswered"}
    for command in commands.values():
        assert command["description_localizations"].get("ja"), command["name"]
        for option in command.get("options", []):
            assert option["description"], (command["name"], option["name"])
            assert option["description_localizations"].get("ja"), option["name"]
    gateway_bot = [c for c in s.calls if c.path == "/gateway/bot"]
    assert len(gateway_bot) == 1, "gateway discovered through api_base"
    assert bot.standin.gateway_log[0][1]["compress"] == "zlib-stream"


# ---- /ask ----------------------------------------------------------------------------------


def test_ask_in_japanese(bot: Harness) -> None:
    body = bot.ask("CSTOの議長は誰?", locale="ja")
    embed = assert_cited_answer(body)
    # The reply leads with the answering sentence, the person emphasised.
    first_line = embed["description"].split("\n")[0]
    assert first_line.startswith("**回答:**") and "__**ニコル・パシヤン首相**__" in first_line
    assert "**議長**" in embed["description"] and "**CSTO**" in embed["description"]
    assert embed["footer"]["text"].startswith("検索語:")
    assert not body.get("flags", 0) & EPHEMERAL


def test_ask_in_english(bot: Harness) -> None:
    embed = assert_cited_answer(bot.ask("who chairs CSTO?"))
    assert "CSTO" in embed["footer"]["text"].upper()
    assert embed["title"] == "who chairs CSTO?"


def test_private_ask_is_ephemeral(bot: Harness) -> None:
    body = bot.ask("CSTOの議長は誰?", private=True)
    assert body.get("flags", 0) & EPHEMERAL
    assert_cited_answer(body)


def test_nothing_relevant_says_what_was_searched(bot: Harness) -> None:
    embed = embed_of(bot.ask("xyzzy plugh"))
    assert "Nothing relevant" in embed["description"]
    assert "xyzzy" in embed["footer"]["text"]


def wait_seconds(content: str) -> int:
    """The seconds a rate-limit notice asks the user to wait."""
    found = re.search(r"try again in (\d+) s", content or "")
    assert found, f"not a rate-limit notice: {content!r}"
    return int(found.group(1))


def test_a_follow_up_is_answered_and_the_question_after_the_burst_waits(bot: Harness) -> None:
    s = bot.standin
    user = new_user()
    assert_cited_answer(bot.ask("CSTOの議長は誰?", user=user))
    assert_cited_answer(bot.ask("who chairs CSTO?", user=user))  # the follow-up, back to back
    search = bot.reply_to(bot.command("search", {"query": "カザフスタン"}, user_id=user))
    assert embed_of(search)["description"].startswith("**1.** "), "/search shares the bucket"
    refused = bot.ask("アルメニア", user=user)  # the fourth question within the burst
    assert refused.get("flags", 0) & EPHEMERAL and not refused.get("embeds")
    assert 1 <= wait_seconds(refused["content"]) <= RATE_SECONDS
    # Mentions share the bucket too; a channel cannot carry a private note, so the refusal is
    # one short notice per window (naming the seconds), and further refusals are silent.
    first = bot.message(f"<@{s.app_id}> CSTO", user_id=user, mention_bot=True)
    notice = bot.wait(lambda: bot.channel_replies(first), "the rate-limit notice")[0].body
    assert 1 <= wait_seconds(notice["content"]) <= RATE_SECONDS and not notice.get("embeds")
    again = bot.message(f"<@{s.app_id}> CSTO", user_id=user, mention_bot=True)
    marker = bot.message(f"<@{s.app_id}> カザフスタン", user_id=new_user(), mention_bot=True)
    bot.wait(lambda: bot.channel_replies(marker), "another user's answer")
    assert not bot.channel_replies(again), "one notice per window, not one per message"


# ---- hostile input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "expect"),
    [
        ("", "Please ask a question"),
        ("？！。…", "no words"),
        ("議" * 5000, f"at most {MAX_CHARS} characters"),
    ],
)
def test_unaskable_questions_get_a_short_explanation(
    bot: Harness, question: str, expect: str
) -> None:
    body = bot.ask(question)
    assert expect in body["content"] and len(body["content"]) < 200
    assert body.get("flags", 0) & EPHEMERAL
    assert_no_mentions(body)


@pytest.mark.parametrize(
    "question",
    ["@everyone CSTOの議長は誰?", "```\nCSTO\n``` **CSTO** ||議長|| <@4242> [x](https://evil.example)"],
)
def test_hostile_text_cannot_ping_or_break_layout(bot: Harness, question: str) -> None:
    body = bot.ask(question)
    assert_no_mentions(body)
    title = embed_of(body)["title"]
    assert "@everyone" not in title  # a zero-width space keeps it from even looking like one
    assert "```" not in title and "||" not in title
    assert not re.search(r"(?<!\\)<@|(?<!\\)\]\(", title), "mention and link syntax escaped"


# ---- channel questions ---------------------------------------------------------------------


def test_mention_is_answered_as_a_reply(bot: Harness) -> None:
    s = bot.standin
    msg = bot.message(f"<@{s.app_id}> CSTOの議長は誰?", user_id=new_user(), mention_bot=True)
    reply = bot.wait(lambda: bot.channel_replies(msg), "the reply to a mention")[0]
    assert_cited_answer(reply.body)
    typing = [c for c in s.calls if c.path == f"/channels/{msg['channel_id']}/typing"]
    assert typing and s.calls.index(typing[-1]) < s.calls.index(reply)


def test_reply_to_the_bot_is_answered(bot: Harness) -> None:
    s = bot.standin
    first = bot.message(f"<@{s.app_id}> CSTO", user_id=new_user(), mention_bot=True)
    answer = bot.wait(lambda: bot.channel_replies(first), "the first answer")[0]
    bot_message = next(
        m for m in list(s.messages.values())
        if int(m.get("message_reference", {}).get("message_id", 0)) == int(first["id"])
    )
    follow_up = bot.message("who chairs CSTO?", user_id=new_user(), reply_to=bot_message)
    reply = bot.wait(lambda: bot.channel_replies(follow_up), "the reply to a reply")[0]
    assert_cited_answer(reply.body)
    assert answer is not reply


def test_answer_channel_answers_every_message_and_ignores_others(bot: Harness) -> None:
    s = bot.standin
    general, answers = s.channel_ids
    asked = bot.message("CSTOの議長は誰?", user_id=new_user(), channel_id=answers)
    ignored = [
        bot.message("CSTOの議長は誰?", user_id=new_user(), channel_id=general),
        bot.message("CSTOの議長は誰?", user_id=new_user(), channel_id=answers, bot=True),
        bot.message("CSTOの議長は誰?", user_id=s.app_id, channel_id=answers),
        bot.message("xyzzy plugh", user_id=new_user(), channel_id=answers),  # nothing relevant
        bot.message("👍", user_id=new_user(), channel_id=answers),
    ]
    reply = bot.wait(lambda: bot.channel_replies(asked), "the answer-channel reply")[0]
    assert_cited_answer(reply.body)
    # What the bot does, it does in order; one more answered question proves the rest was read.
    marker = bot.message("カザフスタン", user_id=new_user(), channel_id=answers)
    bot.wait(lambda: bot.channel_replies(marker), "the marker reply")
    for msg in ignored:
        assert not bot.channel_replies(msg), msg["content"]


def test_answer_channel_speaks_only_when_a_passage_states_the_answer(bot: Harness) -> None:
    """Nobody asked the bot in an answer channel: an unanswerable question (the documents name
    Tokayev but never his age) and small talk get no reply; an answerable one does."""
    answers = bot.standin.channel_ids[1]
    silent = [
        bot.message("how old is Tokayev?", user_id=new_user(), channel_id=answers),
        bot.message("おはよう", user_id=new_user(), channel_id=answers),
        bot.message("thanks bot", user_id=new_user(), channel_id=answers),
    ]
    asked = bot.message("CSTOの本部はどこ?", user_id=new_user(), channel_id=answers)
    reply = bot.wait(lambda: bot.channel_replies(asked), "the answer-channel reply")[0]
    description = assert_cited_answer(reply.body)["description"]
    # Asked in Japanese, so the lead is Japanese (回答 = answer).
    assert description.startswith("**回答:**") and "__**モスクワ**__" in description
    for msg in silent:  # the bot handles messages in order: the answer came after these
        assert not bot.channel_replies(msg), msg["content"]


def test_a_mention_without_a_stated_answer_shows_the_closest_passages(bot: Harness) -> None:
    s = bot.standin
    msg = bot.message(f"<@{s.app_id}> how old is Tokayev?", user_id=new_user(), mention_bot=True)
    reply = bot.wait(lambda: bot.channel_replies(msg), "the related reply")[0]
    description = assert_cited_answer(reply.body)["description"]
    assert description.startswith("*No passage states this directly")
    assert "トカエフ" in description


def test_declined_mention_still_says_so(bot: Harness) -> None:
    s = bot.standin
    msg = bot.message(f"<@{s.app_id}> xyzzy plugh", user_id=new_user(), mention_bot=True)
    reply = bot.wait(lambda: bot.channel_replies(msg), "the declined reply")[0]
    assert "Nothing relevant" in embed_of(reply.body)["description"]


# ---- /search, /source, /stats ---------------------------------------------------------------


def button(body: dict, label: str) -> dict:
    buttons = [b for row in body.get("components", []) for b in row["components"]]
    return next(b for b in buttons if label in b["label"])


def test_search_pages_with_buttons(bot: Harness) -> None:
    s = bot.standin
    interaction = bot.command("search", {"query": "カザフスタン"}, user_id=new_user())
    first = bot.reply_to(interaction)
    embed = embed_of(first)
    assert embed["description"].startswith("**1.** ") and "**6.**" not in embed["description"]
    assert button(first, "Previous")["disabled"] and not button(first, "Next").get("disabled")
    message_id = s.interaction_messages[interaction["token"]]
    click = bot.run(s.click(message_id, button(first, "Next")["custom_id"], user_id=new_user()))
    second = bot.reply_to(click)
    assert second is not first and "**6.** " in embed_of(second)["description"]
    assert not button(second, "Previous").get("disabled")
    assert_no_mentions(second)


def test_source_autocompletes_and_shows_a_document(bot: Harness) -> None:
    s = bot.standin
    auto = bot.command("source", {"document": "カザフ"}, user_id=new_user(), kind=4,
                       focused="document")
    callback = bot.wait(
        lambda: [c for c in s.calls_for(auto["token"]) if c.body and c.body["type"] == 8],
        "autocomplete choices",
    )[0]
    choices = callback.body["data"]["choices"]
    assert choices and all(len(c["name"]) <= 100 and c["value"].endswith(".txt") for c in choices)
    body = bot.reply_to(bot.command("source", {"document": choices[0]["value"]},
                                    user_id=new_user()))
    embed = embed_of(body)
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["File"].replace("\\", "") == choices[0]["value"]
    assert int(fields["Passages"]) > 0 and embed["description"]


def test_source_opens_a_cited_passage_with_its_neighbours(bot: Harness) -> None:
    """The citation 001_….txt §7 opens: the passage, the sentences around it, its lines."""
    body = bot.reply_to(
        bot.command(
            "source",
            {"document": "001_cf5af9e718c402f7.txt", "passage": 7},
            user_id=new_user(),
        )
    )
    embed = embed_of(body)
    assert "§7" in embed["title"] and "ニコル・パシヤン首相" in embed["description"]
    assert embed["description"].startswith("*…") and embed["description"].endswith("…*")
    missing = bot.reply_to(
        bot.command(
            "source", {"document": "001_cf5af9e718c402f7.txt", "passage": 999}, user_id=new_user()
        )
    )
    assert "no passage 999" in missing["content"]


def test_stats_counts_questions(bot: Harness) -> None:
    bot.ask("CSTOの議長は誰?")
    body = bot.reply_to(bot.command("stats", user_id=new_user()))
    fields = {f["name"]: f["value"] for f in embed_of(body)["fields"]}
    assert int(fields["Documents"]) == 5 and int(fields["Passages"]) > 5
    assert int(fields["Questions answered"]) >= 1
    assert "<t:" in fields["Last reindex"]


# ---- /reindex ------------------------------------------------------------------------------


def test_reindex_refused_for_non_admins(bot: Harness) -> None:
    body = bot.reply_to(bot.command("reindex", user_id=new_user()))
    assert body.get("flags", 0) & EPHEMERAL
    assert "Manage Server" in body["content"]


def test_reindex_by_admins_one_at_a_time(bot: Harness) -> None:
    (bot.workdir / "corpus" / "new.txt").write_text(
        "新しい記事\nCSTOの議長国はアルメニアである。\n", encoding="utf-8"
    )

    async def together() -> list[dict]:  # back to back, as two admins clicking at once
        s = bot.standin
        return [
            await s.interaction("reindex", user_id=ADMIN_USER),
            await s.interaction("reindex", user_id=new_user(), permissions=MANAGE_GUILD),
            await s.interaction("ask", {"question": "CSTOの議長は誰?"}, user_id=new_user()),
        ]

    first, second, during = bot.run(together())
    report = embed_of(bot.reply_to(first, timeout=60))
    fields = {f["name"]: f["value"] for f in report["fields"]}
    assert fields["Added"] == "1" and fields["Removed"] == "0" and float(fields["Seconds"]) >= 0
    refused = bot.reply_to(second)
    assert "already running" in refused["content"] and refused.get("flags", 0) & EPHEMERAL
    assert_cited_answer(bot.reply_to(during))
    callbacks = [c.body["type"] for c in bot.standin.calls_for(during["token"]) if
                 c.path.endswith("/callback")]
    assert callbacks == [5], "an /ask during a reindex is deferred, then followed up"
    by_role = bot.command("reindex", user_id=new_user(), roles=(bot.standin.admin_role_id,))
    fields = {f["name"]: f["value"] for f in embed_of(bot.reply_to(by_role, timeout=60))["fields"]}
    assert fields["Added"] == "0" and fields["Unchanged"] == "6"


# ---- load and connection trouble -----------------------------------------------------------


def test_twenty_simultaneous_asks_are_all_answered(bot: Harness) -> None:
    questions = ["CSTOの議長は誰?", "who chairs CSTO?", "CSTOの部隊派遣", "アルメニア"] * 5

    async def dispatch_all() -> list[dict]:
        return [
            await bot.standin.interaction("ask", {"question": q}, user_id=new_user())
            for q in questions
        ]

    interactions = bot.run(dispatch_all())
    replies = [bot.reply_to(interaction, timeout=30) for interaction in interactions]
    for question, reply in zip(questions, replies, strict=True):
        assert embed_of(reply)["title"] == question
        assert_cited_answer(reply)


def test_resumes_after_the_gateway_drops_and_never_syncs_again(bot: Harness) -> None:
    s = bot.standin
    identifies = len(bot.received_ops(2))
    bot.run(s.drop_connection(4000))
    bot.wait(lambda: bot.sent_events("RESUMED"), "the RESUMED event", timeout=30)
    assert bot.received_ops(6), "the bot sent RESUME"
    assert any(p.get("path") == "/resume-gateway" for k, p in s.gateway_log if k == "connect")
    assert_cited_answer(bot.ask("CSTOの議長は誰?"))
    assert len(bot.received_ops(2)) == identifies, "resumed, not re-identified"
    syncs = [c for c in s.calls if c.method == "PUT" and c.path.endswith("/commands")]
    assert len(syncs) == 1


def test_unknown_command_gets_a_polite_reply(bot: Harness) -> None:
    body = bot.reply_to(bot.command("frobnicate", user_id=new_user()))
    assert "not available" in body["content"] and body.get("flags", 0) & EPHEMERAL


# ---- start-up failures (their own short-lived bot processes) --------------------------------


def run_until_exit(config: Path) -> tuple[int, str]:
    done = subprocess.run(bot_command(config), cwd=ROOT, env=bot_env(TOKEN), capture_output=True,
                          text=True, timeout=90)
    return done.returncode, done.stdout + done.stderr


def test_a_rejected_token_stops_with_a_clear_message(tmp_path: Path) -> None:
    harness = Harness(tmp_path)
    try:
        harness.standin.token = "another-token"
        code, output = run_until_exit(write_config(tmp_path, harness.standin.api_base))
    finally:
        harness.stop()
    assert code == 1 and "Discord rejected the token" in output
    assert TOKEN not in output and "Traceback" not in output


def test_an_unreachable_api_stops_with_a_clear_message(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code, output = run_until_exit(write_config(tmp_path, f"http://127.0.0.1:{port}/api/v10"))
    assert code == 1 and f"cannot reach Discord at http://127.0.0.1:{port}/api/v10" in output
    assert TOKEN not in output


# ---- whole-run properties (keep these last) ------------------------------------------------


def test_every_message_the_bot_sent_allows_no_mentions(bot: Harness) -> None:
    bodies = bot.standin.sent_message_bodies()
    assert len(bodies) > 20
    for body in bodies:
        assert_no_mentions(body)


def test_no_unexpected_routes_and_token_never_printed(bot: Harness) -> None:
    failed = [(c.method, c.path, c.status) for c in bot.standin.calls if c.status >= 400]
    assert not failed
    assert TOKEN not in bot.log_path.read_text(errors="replace")


def test_sigterm_closes_cleanly(bot: Harness) -> None:
    assert bot.process is not None
    bot.process.send_signal(signal.SIGTERM)
    assert bot.process.wait(20) == 0
    log = bot.log()
    assert "index database closed" in log and "Traceback" not in log
