"""Per-user rate limit on questions: a token bucket.

discord.py's `app_commands.checks.cooldown` only covers slash commands; questions also arrive as
mentions, channel messages and /search, and all of them share one budget per user. So this is a
tiny shared bucket instead of a decorator.

A bucket rather than "one question per N seconds": people ask, then rephrase or try /search
straight away, and a plain cooldown refused exactly that follow-up. A burst of `burst`
questions is allowed at once, and one more becomes available every `seconds`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

# Past this many remembered users, the idle ones (full bucket, no pending notice window) are
# dropped. Forgetting them changes nothing: a forgotten user has a full bucket, as they would.
MAX_REMEMBERED_USERS = 10_000


class TokenBucket:
    """`burst` questions at once per user, one more every `seconds`; `seconds <= 0` disables.

    Each user is one number, the time their bucket is full again (the "generic cell rate
    algorithm"), so the state is small and a user whose time has passed can be forgotten.
    `burst = 1` is the old one-question-per-`seconds` cooldown. `clock` is injectable for tests.
    """

    def __init__(
        self, seconds: float, burst: int = 1, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.seconds = seconds
        self.burst = burst
        self._clock = clock
        self._full_at: dict[int, float] = {}  # user -> when their bucket is full again
        self._quiet_until: dict[int, float] = {}  # user -> when they may be told to wait again

    def retry_after(self, user_id: int) -> float | None:
        """Seconds the user still has to wait, or None after taking a question from their bucket.

        Checking and taking are one step so two questions arriving together cannot both pass
        on the last token. A refused question takes nothing.
        """
        if self.seconds <= 0:
            return None
        now = self._clock()
        start = max(self._full_at.get(user_id, now), now)
        # Tokens already used and not yet back, in seconds; a question needs one token free.
        owed = start - now
        allowance = (self.burst - 1) * self.seconds
        if owed > allowance:
            return owed - allowance
        self._full_at[user_id] = start + self.seconds
        self._full_at = _forget_past(self._full_at, now)
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
        if self._quiet_until.get(user_id, now) > now:
            return False
        self._quiet_until[user_id] = now + self.seconds
        self._quiet_until = _forget_past(self._quiet_until, now)
        return True

    def remembered(self) -> int:
        """Users currently held in memory (for tests of the bound)."""
        return len(self._full_at) + len(self._quiet_until)


def _forget_past(times: dict[int, float], now: float) -> dict[int, float]:
    """`times` without the users whose time has passed, once it holds too many."""
    if len(times) <= MAX_REMEMBERED_USERS:
        return times
    return {user: t for user, t in times.items() if t > now}


# The name bot.answering and older tests import; it is the same bucket.
Cooldown = TokenBucket
