"""`shirabe run` as a subprocess against the Discord stand-in, driven from synchronous tests.

The stand-in runs on its own event loop in a thread, so tests stay plain functions: they
dispatch gateway events and poll what the bot sent back over REST. Shared by the end-to-end
bot tests and the bot fault tests, which differ only in their config and what they ask.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from discord_standin import Call, DiscordStandIn

ROOT = Path(__file__).resolve().parent.parent
_user_ids = itertools.count(10_000)


def new_user() -> int:
    """A user id no other test has used, so the per-user cooldown never couples tests."""
    return next(_user_ids)


class BotHarness:
    """The stand-in on a background event loop, the bot subprocess, and sync helpers."""

    def __init__(
        self, workdir: Path, token: str, *, other_guild_ids: tuple[int, ...] = ()
    ) -> None:
        self.workdir = workdir
        self.token = token
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.standin = DiscordStandIn(token=token, other_guild_ids=other_guild_ids)
        self.run(self.standin.start())
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "bot.log"

    # ---- plumbing --------------------------------------------------------------------------
    def run(self, coro: Any, timeout: float = 60) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def wait(self, check: Callable[[], Any], what: str, timeout: float = 30) -> Any:
        """Poll `check` until it returns something truthy; fail with the bot's log if the
        bot exits or time runs out."""
        deadline = time.monotonic() + timeout
        while True:
            result = check()
            if result:
                return result
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"the bot exited while waiting for {what}:\n{self.log()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; bot log:\n{self.log()}")
            time.sleep(0.02)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:] if self.log_path.exists() else ""

    def start(self, discord_section: str, extra: str = "", sync_timeout: float = 180) -> None:
        """Copy the corpus, write config.toml (`[discord]` with the stand-in's api_base, then
        `discord_section`, then `extra`), start the bot and wait for its session."""
        s = self.standin
        config = write_config(self.workdir, s.api_base)
        config.write_text(
            f'[discord]\napi_base = "{s.api_base}"\n{discord_section}\n{extra}',
            encoding="utf-8",
        )
        self.process = subprocess.Popen(
            bot_command(config),
            cwd=ROOT,
            env=bot_env(self.token),
            stdout=self.log_path.open("wb"),
            stderr=subprocess.STDOUT,
        )
        self.wait(lambda: s.commands.get(s.guild_id), "the command sync", timeout=sync_timeout)
        self.wait(lambda: self.sent_events("GUILD_CREATE"), "the gateway session")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.run(self.standin.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    # ---- the gateway -----------------------------------------------------------------------
    def sent_events(self, name: str) -> list[dict]:
        return [
            p for kind, p in list(self.standin.gateway_log) if kind == "send" and p.get("t") == name
        ]

    def received_ops(self, op: int) -> list[dict]:
        return [
            p for kind, p in list(self.standin.gateway_log) if kind == "recv" and p.get("op") == op
        ]

    # ---- what the bot answered -------------------------------------------------------------
    def command(self, name: str, options: dict | None = None, **kwargs: Any) -> dict:
        return self.run(self.standin.interaction(name, options, **kwargs))

    def message(self, content: str, **kwargs: Any) -> dict:
        return self.run(self.standin.message(content, **kwargs))

    def bodies_for(self, interaction: dict) -> list[dict]:
        """Message bodies the bot sent for an interaction that Discord accepted."""
        calls = self.standin.calls_for(interaction["token"])
        return [b for c in calls if c.status < 300 and (b := c.message_body())]

    def reply_to(self, interaction: dict, timeout: float = 30) -> dict:
        """The message body that finally answered an interaction (response or follow-up)."""
        return self.wait(
            lambda: (self.bodies_for(interaction) or [None])[-1],
            f"the reply to {interaction['data']}",
            timeout,
        )

    def channel_replies(self, to: dict) -> list[Call]:
        """Accepted channel messages that reply to the message `to`."""
        return [
            c
            for c in self.standin.replies_in(int(to["channel_id"]))
            if c.status < 300
            and (c.body or {}).get("message_reference", {}).get("message_id") == int(to["id"])
        ]


def write_config(workdir: Path, api_base: str) -> Path:
    """A minimal config and a private copy of the corpus in `workdir`."""
    shutil.copytree(ROOT / "corpus", workdir / "corpus")
    config = workdir / "config.toml"
    config.write_text(f'[discord]\napi_base = "{api_base}"\n', encoding="utf-8")
    return config


def bot_command(config: Path) -> list[str]:
    return [sys.executable, "-m", "bot.cli", "run", "--config", str(config)]


def bot_env(token: str) -> dict[str, str]:
    """The environment without proxies (everything stays on 127.0.0.1), token included."""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.update(DISCORD_TOKEN=token, PYTHONUNBUFFERED="1", NO_PROXY="127.0.0.1")
    return env


def assert_no_mentions(body: dict) -> None:
    """Nothing the bot sends may ping anyone: no parsed mentions, users, roles or replies."""
    allowed = body.get("allowed_mentions")
    assert allowed is not None and allowed.get("parse") == [], body
    assert not allowed.get("users") and not allowed.get("roles")
    assert not allowed.get("replied_user")
