"""The per-user token bucket behind every way of asking, on an injected clock."""

from __future__ import annotations

import pytest

import bot.cooldown
from bot.cooldown import Cooldown, TokenBucket


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def bucket(clock: Clock, seconds: float = 5, burst: int = 3) -> TokenBucket:
    return TokenBucket(seconds, burst=burst, clock=clock)


def test_a_follow_up_one_and_a_half_seconds_later_is_answered() -> None:
    clock = Clock()
    limit = bucket(clock)
    assert limit.retry_after(1) is None
    clock.now += 1.5
    assert limit.retry_after(1) is None


def test_the_question_after_the_burst_is_told_how_long_to_wait() -> None:
    clock = Clock()
    limit = bucket(clock)
    assert [limit.retry_after(1) for _ in range(3)] == [None, None, None]
    assert limit.retry_after(1) == pytest.approx(5)
    clock.now += 2
    assert limit.retry_after(1) == pytest.approx(3)


def test_one_question_comes_back_every_rate_seconds() -> None:
    clock = Clock()
    limit = bucket(clock)
    for _ in range(3):
        limit.retry_after(1)
    clock.now += 5
    assert limit.retry_after(1) is None
    assert limit.retry_after(1) == pytest.approx(5)
    clock.now += 15  # idle long enough: the whole burst is back
    assert [limit.retry_after(1) for _ in range(3)] == [None, None, None]
    assert limit.retry_after(1) is not None


def test_a_refused_question_costs_nothing() -> None:
    clock = Clock()
    limit = bucket(clock)
    for _ in range(3):
        limit.retry_after(1)
    for _ in range(100):  # a flood of refusals does not push the next question back
        assert limit.retry_after(1) == pytest.approx(5)
    clock.now += 5
    assert limit.retry_after(1) is None


def test_users_have_their_own_buckets() -> None:
    limit = bucket(Clock())
    for _ in range(3):
        limit.retry_after(1)
    assert limit.retry_after(1) is not None
    assert limit.retry_after(2) is None


def test_zero_seconds_disables_the_limit() -> None:
    limit = bucket(Clock(), seconds=0)
    assert all(limit.retry_after(1) is None for _ in range(50))
    assert all(limit.may_notify(1) for _ in range(5))


def test_a_burst_of_one_is_the_old_cooldown() -> None:
    clock = Clock()
    limit = Cooldown(10, clock=clock)
    assert limit.retry_after(1) is None
    assert limit.retry_after(1) == pytest.approx(10)
    clock.now += 9.9
    assert limit.retry_after(1) is not None
    clock.now += 0.1
    assert limit.retry_after(1) is None
    with pytest.raises(ValueError):
        TokenBucket(5, burst=0)


def test_at_most_one_notice_per_window() -> None:
    clock = Clock()
    limit = bucket(clock)
    assert limit.may_notify(1) and not limit.may_notify(1)
    assert limit.may_notify(2), "another user's notice is their own"
    clock.now += 4.9
    assert not limit.may_notify(1)
    clock.now += 0.1
    assert limit.may_notify(1)


def test_idle_users_are_forgotten(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bot.cooldown, "MAX_REMEMBERED_USERS", 50)
    clock = Clock()
    limit = bucket(clock)
    for user in range(50):
        limit.retry_after(user)
        limit.may_notify(user)
    clock.now += 15  # every bucket is full again and every notice window over
    for user in range(1000, 1010):
        limit.retry_after(user)
        limit.may_notify(user)
    assert limit.remembered() == 2 * 10, "only the users still within their window are kept"
    for _ in range(3):
        limit.retry_after(1000)
    assert limit.retry_after(1000) is not None, "forgetting others kept this user's state"
    assert limit.retry_after(7) is None, "a forgotten user starts with a full bucket"
