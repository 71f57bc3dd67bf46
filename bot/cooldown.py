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
