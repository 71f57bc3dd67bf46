"""Two `shirabe run` processes as the two shards of one bot, end to end, on one index.

Both processes use the same corpus and database, with `shard_count = 2` and `shard_ids = [0]` /
`[1]`, against ONE Discord stand-in that delivers each guild's events only to the connection of
shard `(guild_id >> 22) % 2`, as Discord does. Shown here: each process IDENTIFYs with its own
shard and gets only its guilds; only the process serving shard 0 syncs the slash commands;
each answers in its own guild; one /reindex through shard 0 is carried out once, and the other
process answers from the new generation at its next question; a /reindex while a build holds
the database's lock is refused wherever it arrives. The processes start at the same time on a
missing index, so one builds it while the other waits and then uses it.

No timing is asserted: every wait is for an event (a reply, a log line, a delivery).
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from bot_harness import ROOT, BotHarness, bot_command, bot_env, new_user, write_config

TOKEN = "shards-token.SECRET-do-not-print"
ADMIN_USER = 4343
SHARDS = 2
HOME = 900_000_000_000_000_001  # the stand-in's main guild: (id >> 22) % 2 == 1
OTHER = 970_000_000_000_000_001  # a second guild, on shard 0
GUILD_OF_SHARD = {0: OTHER, 1: HOME}
NEW_FILE = "observatory.txt"
NEW_FACT = "北極星観測所\n北極星観測所の所長は山田花子である。\n"
NEW_QUESTION = "北極星観測所の所長は誰?"  # only NEW_FILE answers it


class Shards(BotHarness):
    """The stand-in with two shards and two guilds, and one bot process per shard."""

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir, TOKEN, other_guild_ids=(OTHER,))
        self.standin.shard_count = SHARDS  # set before anyone connects
        self.processes: dict[int, subprocess.Popen[bytes]] = {}

    def log_of(self, shard: int) -> str:
        path = self.workdir / f"bot-{shard}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def log(self) -> str:
        return "\n".join(f"--- shard {i}:\n{self.log_of(i)[-4000:]}" for i in range(SHARDS))

    def wait(self, check: Any, what: str, timeout: float = 30) -> Any:
        """Poll `check` until it returns something truthy; fail with both logs as soon as
        either process exits, or when time runs out."""
        deadline = time.monotonic() + timeout
        while not (result := check()):
            for shard, process in self.processes.items():
                if process.poll() is not None:
                    raise AssertionError(f"shard {shard}'s bot exited before {what}:\n{self.log()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}:\n{self.log()}")
            time.sleep(0.02)
        return result

    def start_all(self) -> None:
        """One config per shard (same corpus, same database), both processes at once."""
        s = self.standin
        write_config(self.workdir, s.api_base)  # the corpus copy
        for shard in range(SHARDS):
            config = self.workdir / f"config-{shard}.toml"
            config.write_text(
                f'[discord]\napi_base = "{s.api_base}"\nguild_ids = [{HOME}, {OTHER}]\n'
                f"admin_user_ids = [{ADMIN_USER}]\nshard_count = {SHARDS}\n"
                f'shard_ids = [{shard}]\n[corpus]\npath = "corpus"\n'
                '[index]\npath = "data/shirabe.db"\n',
                encoding="utf-8",
            )
            self.processes[shard] = subprocess.Popen(
                bot_command(config),
                cwd=ROOT,
                env=bot_env(TOKEN),
                stdout=(self.workdir / f"bot-{shard}.log").open("wb"),
                stderr=subprocess.STDOUT,
            )
        for shard in range(SHARDS):
            self.wait(lambda shard=shard: "ready as" in self.log_of(shard),
                      f"shard {shard}'s process to be ready", timeout=180)
        self.wait(lambda: s.commands.get(HOME) and s.commands.get(OTHER), "the command sync")

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait(10)
        super().stop()

    def delivered_to(self, payload: dict) -> list[int]:
        """The shards whose connections the stand-in sent this event (by its id) to."""
        return [
            shard for shard, p in list(self.standin.dispatched)
            if p["t"] in ("MESSAGE_CREATE", "INTERACTION_CREATE") and p["d"]["id"] == payload["id"]
        ]

    def mention(self, question: str, guild_id: int) -> dict:
        return self.message(f"<@{self.standin.app_id}> {question}", mention_bot=True,
                            user_id=new_user(), guild_id=guild_id)

    def answered(self, msg: dict, what: str) -> str:
        """The description of the bot's channel reply to `msg`, waiting for it."""
        body = self.wait(lambda: self.channel_replies(msg), what)[0].body
        return body["embeds"][0]["description"]

    def ask(self, question: str, guild_id: int) -> str:
        interaction = self.command("ask", {"question": question}, user_id=new_user(),
                                   guild_id=guild_id)
        assert self.delivered_to(interaction) == [self.standin.shard_of(guild_id)]
        return self.reply_to(interaction)["embeds"][0]["description"]


def stopped(pid: int) -> bool:
    """Whether the process is stopped by a signal (state T in /proc/<pid>/stat)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rindex(")") + 2] == "T"


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory):
    harness = Shards(tmp_path_factory.mktemp("shards"))
    try:
        harness.start_all()
        yield harness
    finally:
        harness.stop()


def test_guild_ids_map_to_different_shards(shards: Shards) -> None:
    assert {shards.standin.shard_of(g) for g in (HOME, OTHER)} == {0, 1}
    assert all(shards.standin.shard_of(g) == i for i, g in GUILD_OF_SHARD.items())


def test_each_process_identifies_with_its_shard_and_gets_only_its_guilds(shards: Shards) -> None:
    s = shards.standin
    assert sorted(tuple(p["d"]["shard"]) for p in shards.received_ops(2)) == [(0, 2), (1, 2)]
    for shard, guild in GUILD_OF_SHARD.items():
        created = [int(p["d"]["id"]) for sh, p in s.dispatched if p["t"] == "GUILD_CREATE"
                   and sh == shard]
        assert created == [guild]
        assert f"in 1 guild(s), shards [{shard}] of 2" in shards.log_of(shard)
    discovered = [c for c in s.calls if c.path == "/gateway/bot"]
    assert len(discovered) == SHARDS, "each process found the gateway through api_base"
    assert "Discord recommends" not in shards.log(), "shard_count matches the recommendation"


def test_only_the_process_serving_shard_0_syncs_the_commands(shards: Shards) -> None:
    s = shards.standin
    syncs = sorted(c.path for c in s.calls if c.method == "PUT" and c.path.endswith("/commands"))
    assert syncs == sorted(f"/applications/{s.app_id}/guilds/{g}/commands" for g in (HOME, OTHER))
    assert shards.log_of(0).count("synced 6 slash commands") == 2
    assert "synced 6 slash commands" not in shards.log_of(1)
    assert "synced by the process serving shard 0" in shards.log_of(1)


def test_one_process_built_the_index_and_the_other_used_it(shards: Shards) -> None:
    """Started together on a missing index, whichever process took the build lock first built
    it; the other waited for that build (or found it done) and did not build a second one."""
    db = sqlite3.connect(f"file:{shards.workdir / 'data' / 'shirabe.db'}?mode=ro", uri=True)
    try:
        live = db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
    finally:
        db.close()
    assert live == ("1",)


def test_each_process_answers_in_its_own_guild(shards: Shards) -> None:
    """Shard 1's process is paused (SIGSTOP) while a question arrives in its guild: nobody
    answers it, although a later question in shard 0's guild is answered; once resumed, shard
    1's process answers it. So each reply comes from the process owning the guild's shard."""
    paused = shards.processes[1]
    paused.send_signal(signal.SIGSTOP)
    try:
        shards.wait(lambda: stopped(paused.pid), "shard 1's process to stop")
        waiting = shards.mention("CSTOの議長は誰?", HOME)
        other = shards.mention("CSTOの議長は誰?", OTHER)
        assert "§" in shards.answered(other, "shard 0's answer in its guild")
        assert not shards.channel_replies(waiting), "answered while its shard's process slept"
    finally:
        paused.send_signal(signal.SIGCONT)
    assert "§" in shards.answered(waiting, "shard 1's answer once its process runs again")
    assert shards.delivered_to(waiting) == [1] and shards.delivered_to(other) == [0]


def test_one_reindex_through_shard_0_is_seen_by_both_processes(shards: Shards) -> None:
    before = shards.ask(NEW_QUESTION, HOME)  # shard 1's process, on the first generation
    assert NEW_FILE not in before and "山田花子" not in before
    (shards.workdir / "corpus" / NEW_FILE).write_text(NEW_FACT, encoding="utf-8")
    reindex = shards.command("reindex", user_id=ADMIN_USER, guild_id=OTHER)
    assert shards.delivered_to(reindex) == [0]
    report = shards.reply_to(reindex, timeout=120)["embeds"][0]
    fields = {f["name"]: f["value"] for f in report["fields"]}
    assert fields["Added"] == "1"
    for guild in (HOME, OTHER):  # shard 1's process first: it did not build, it follows
        after = shards.ask(NEW_QUESTION, guild)
        assert NEW_FILE in after and "山田花子" in after, guild
    assert "reindex by" in shards.log_of(0) and "reindex by" not in shards.log_of(1)


def test_a_reindex_while_the_database_is_being_built_is_refused(shards: Shards) -> None:
    """The build lock is per database: while a build holds it (here the test takes it, as the
    other process's build would), a /reindex arriving at either process is refused."""
    lock_path = shards.workdir / "data" / "shirabe.db.lock"
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        for guild in (HOME, OTHER):
            refused = shards.reply_to(shards.command("reindex", user_id=ADMIN_USER,
                                                     guild_id=guild))
            assert "already running" in refused["content"], guild
    finally:
        os.close(fd)
    again = shards.reply_to(shards.command("reindex", user_id=ADMIN_USER, guild_id=HOME), 120)
    fields = {f["name"]: f["value"] for f in again["embeds"][0]["fields"]}
    assert fields["Added"] == "0" and fields["Unchanged"] == "6"


def test_both_stop_cleanly_and_never_print_the_token(shards: Shards) -> None:
    for process in shards.processes.values():
        process.send_signal(signal.SIGTERM)
    for shard, process in shards.processes.items():
        assert process.wait(30) == 0, shards.log()
        log = shards.log_of(shard)
        assert "index database closed" in log and "Traceback" not in log
        assert TOKEN not in log


# ---- start-up while another process builds (in-process, deterministic) ---------------------


def test_start_up_waits_for_another_process_building_the_index(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from bot.app import open_engine
    from bot.config import load_config

    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / NEW_FILE).write_text(NEW_FACT, encoding="utf-8")
    config_path = tmp_path / "config.toml"
    config_path.write_text('[discord]\ntoken = "t"\n', encoding="utf-8")
    config = load_config(config_path, env={})
    config.index_path.parent.mkdir(parents=True)
    fd = os.open(config.index_path.with_name("shirabe.db.lock"), os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # "another process is building"

    async def scenario() -> int:
        opening = asyncio.create_task(open_engine(config))
        while "waiting for it to finish" not in caplog.text:
            assert not opening.done(), opening
            await asyncio.sleep(0.02)
        os.close(fd)  # that build ends (here: without publishing, so this one builds)
        engine = await opening
        try:
            return engine.generation.number
        finally:
            await engine.close()

    with caplog.at_level(logging.INFO, logger="shirabe.bot"):
        assert asyncio.run(scenario()) == 1
