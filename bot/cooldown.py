"""Per-user cooldown between questions.

discord.py's `app_commands.checks.cooldown` only covers slash commands; questions also arrive as
channel messages and /search pages, and all of them share one budget per user. So this is a
tiny shared clock instead of a decorator.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class Cooldown:
    """At most one question per `seconds` per user; `clock` is injectable for tests."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._last: dict[int, float] = {}
        self._notified: dict[int, float] = {}  # user -> when they were last told to wait

    def retry_after(self, user_id: int) -> float | None:
        """Seconds the user still has to wait, or None after recording this question as theirs.

        Checking and recording are one step so two questions arriving together cannot both pass.
        """
        if self.seconds <= 0:
            return None
        now = self._clock()
        last = self._last.get(user_id)
        if last is not None and now - last < self.seconds:
            return self.seconds - (now - last)
        self._last[user_id] = now
        if len(self._last) > 10_000:  # forget users whose cooldown has long passed
            self._last = {u: t for u, t in self._last.items() if now - t < self.seconds}
        return None

    def may_notify(self, user_id: int) -> bool:
        """Whether a notice to this user ("please wait", "that is not a question") may go out
        now: at most one per `seconds`, recorded when allowed.

        A flood of channel messages must not become a flood of replies: they would spend the
        channel's rate limit (5 messages / 5 s) that other users' answers need. Slash
        commands are always answered (privately), since Discord wants every one answered.
        """
        if self.seconds <= 0:
            return True
        now = self._clock()
        last = self._notified.get(user_id)
        if last is not None and now - last < self.seconds:
            return False
        self._notified[user_id] = now
        if len(self._notified) > 10_000:
            self._notified = {u: t for u, t in self._notified.items() if now - t < self.seconds}
        return True
