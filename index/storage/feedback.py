"""The community loop's SQL: votes on answers, the key that keeps voters anonymous, and the
questions the documents could not answer.

Nobody's Discord id is stored. A vote is kept under a keyed hash (HMAC-SHA256) of the question's
log id and the voter's id, with a random key made once per database and kept in `meta`: the same
user clicking again on the same answer hits the same row (their vote is replaced, not added),
while votes cannot be linked to a user, nor one user's votes on different answers to each other,
without the key. The 🗑 button carries such a hash of the asker (`asker_tag`) in its custom id,
so deleting needs no stored asker either.

Grouping questions by wording is plain Python over the rows read here (`group_unanswered`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata
from dataclasses import dataclass

import aiosqlite

from index.models import UnansweredQuestion

SECRET_KEY = "feedback_secret"  # the meta key of the per-database HMAC key
ASKER_TAG_CHARS = 32  # 128 bits of the HMAC: a custom id holds at most 100 characters
UNANSWERED_VERDICTS = ("nothing", "related")


@dataclass(frozen=True)
class UnansweredRow:
    """One logged question that got "nothing" or "related", or a 👎."""

    id: int
    at: str  # ISO 8601 UTC
    question: str
    verdict: str | None  # None: logged before verdicts were (or a question problem)
    down_votes: int


async def secret(db: aiosqlite.Connection) -> bytes:
    """The database's HMAC key, made on first use. Two processes making it at once agree: the
    first insert wins and both read it back."""
    async with db.execute("SELECT value FROM meta WHERE key = ?", (SECRET_KEY,)) as cur:
        row = await cur.fetchone()
    if row is None:
        await db.execute(
            "INSERT OR IGNORE INTO meta(key, value) VALUES(?, ?)",
            (SECRET_KEY, secrets.token_hex(32)),
        )
        await db.commit()
        async with db.execute("SELECT value FROM meta WHERE key = ?", (SECRET_KEY,)) as cur:
            row = await cur.fetchone()
    return bytes.fromhex(row[0])


def keyed_hash(key: bytes, purpose: str, query_id: int, user_id: int) -> str:
    """HMAC-SHA256 of (purpose, question, user) in hex: stable for one key, opaque without it."""
    message = f"{purpose}:{query_id}:{user_id}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def voter_hash(key: bytes, query_id: int, user_id: int) -> str:
    return keyed_hash(key, "vote", query_id, user_id)


def asker_tag(key: bytes, query_id: int, user_id: int) -> str:
    """What the 🗑 button of an answer carries instead of the asker's id."""
    return keyed_hash(key, "asker", query_id, user_id)[:ASKER_TAG_CHARS]


def same_tag(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


async def record_vote(
    db: aiosqlite.Connection, *, query_id: int, voter: str, value: int, at: str
) -> bool:
    """Store `voter`'s vote (+1 or -1) on a logged question, replacing their earlier one.

    False when the log has no such question (say, the database was rebuilt since the answer
    was sent), and nothing is stored."""
    if value not in (1, -1):
        raise ValueError(f"a vote is +1 or -1, not {value!r}")
    cur = await db.execute(
        "INSERT INTO votes(query_id, voter, value, at) "
        "SELECT id, ?, ?, ? FROM query_log WHERE id = ? "
        "ON CONFLICT(query_id, voter) DO UPDATE SET value = excluded.value, at = excluded.at",
        (voter, value, at, query_id),
    )
    stored = cur.rowcount > 0
    await db.commit()
    return stored


async def vote_counts(db: aiosqlite.Connection, query_id: int) -> tuple[int, int]:
    """(👍, 👎) on one logged question."""
    async with db.execute(
        "SELECT COALESCE(SUM(value > 0), 0), COALESCE(SUM(value < 0), 0) FROM votes "
        "WHERE query_id = ?",
        (query_id,),
    ) as cur:
        up, down = await cur.fetchone()
    return int(up), int(down)


async def unanswered_rows(db: aiosqlite.Connection, since: str) -> list[UnansweredRow]:
    """Questions logged at or after `since` (ISO 8601 UTC) that got "nothing" or "related",
    or at least one 👎, oldest first."""
    marks = ",".join("?" * len(UNANSWERED_VERDICTS))
    async with db.execute(
        "SELECT q.id, q.at, q.question, q.verdict, "
        "(SELECT COUNT(*) FROM votes v WHERE v.query_id = q.id AND v.value < 0) AS down "
        "FROM query_log q "
        f"WHERE q.at >= ? AND (q.verdict IN ({marks}) OR EXISTS "
        "(SELECT 1 FROM votes v WHERE v.query_id = q.id AND v.value < 0)) "
        "ORDER BY q.at, q.id",
        (since, *UNANSWERED_VERDICTS),
    ) as cur:
        return [UnansweredRow(*row) for row in await cur.fetchall()]


_TRAILING = re.compile(r"[\s?]+$")


def normalize_wording(question: str) -> str:
    """The form questions are grouped by: NFKC (so ？ is ?, full-width letters are ASCII), lower
    case, runs of whitespace as one space, no trailing question marks."""
    text = " ".join(unicodedata.normalize("NFKC", question).lower().split())
    return _TRAILING.sub("", text)


def group_unanswered(rows: list[UnansweredRow], limit: int) -> list[UnansweredQuestion]:
    """Rows grouped by `normalize_wording`, most asked first (then most recent), at most
    `limit` groups; each shown by its latest wording."""
    groups: dict[str, list[UnansweredRow]] = {}
    for row in rows:
        groups.setdefault(normalize_wording(row.question), []).append(row)
    result = [
        UnansweredQuestion(
            question=members[-1].question,
            wording=wording,
            count=len(members),
            nothing=sum(r.verdict == "nothing" for r in members),
            related=sum(r.verdict == "related" for r in members),
            down_votes=sum(r.down_votes for r in members),
            first_at=members[0].at,
            last_at=members[-1].at,
        )
        for wording, members in groups.items()
    ]
    result.sort(key=lambda g: g.wording)
    result.sort(key=lambda g: g.last_at, reverse=True)
    result.sort(key=lambda g: g.count, reverse=True)  # stable: ties stay latest first
    return result[:limit]
