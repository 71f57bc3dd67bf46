"""Load and validate the bot's TOML configuration.

Every mistake is reported as a `ConfigError` naming the dotted key (`discord.guild_ids`), because
a bot that starts with a half-understood config fails later, far from the cause. The defaults
below are exactly the values in `config.example.toml` (a test keeps the two in step), so a
missing `config.toml` behaves like a copy of the example file.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

DEFAULT_CONFIG = Path("config.toml")
TOKEN_ENV = "DISCORD_TOKEN"

DEFAULTS: dict[str, dict[str, Any]] = {
    "discord": {
        "token": "",
        "api_base": "https://discord.com/api/v10",
        "guild_ids": [],
        "admin_user_ids": [],
        "admin_role_ids": [],
        "answer_channels": [],
        "reply_in_thread": False,
        "answer_dms": False,
        "leave_foreign_guilds": False,
        "rate_burst": 3,
        "rate_seconds": 5,
        "max_question_chars": 500,
        "reply_when_nothing_found": False,
        "channel_verdict": "answered",
        "message_content_intent": True,
        "shard_ids": [],
    },
    "corpus": {"path": "corpus"},
    "index": {"path": "data/shirabe.db"},
    "search": {"top_k": 3, "rerank": False, "rerank_weight": 0.5},
}

# Discord rejects slash-command string options longer than this, so a larger limit is a typo.
MAX_QUESTION_CHARS_LIMIT = 6000
MAX_TOP_K = 10
MAX_RATE_BURST = 100

# Keys renamed since an earlier release, old dotted name -> new one. The old name is still
# read, so existing config files keep working; giving both is refused as ambiguous.
RENAMED_KEYS = {"discord.cooldown_seconds": "discord.rate_seconds"}

# Keys that are unset unless the file gives them (TOML has no null, so they cannot be in
# DEFAULTS; the example file shows them commented out).
UNSET_KEYS = {"discord.shard_count"}


class ConfigError(Exception):
    """A config value is missing or wrong; `key` is the dotted name to fix."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key


@dataclass(frozen=True)
class DiscordConfig:
    token: str = field(repr=False)  # never in a repr, so never in a log line or traceback
    api_base: str
    guild_ids: tuple[int, ...]
    admin_user_ids: frozenset[int]
    admin_role_ids: frozenset[int]
    answer_channels: frozenset[int]
    reply_in_thread: bool  # answer an answer-channel question in a thread started from it
    answer_dms: bool
    leave_foreign_guilds: bool
    rate_seconds: float  # one more question per user every this many seconds; 0: no limit
    rate_burst: int  # questions a user may ask at once
    max_question_chars: int
    reply_when_nothing_found: bool
    channel_verdict: str  # "answered" or "related": the least an answer channel replies to
    message_content_intent: bool
    shard_count: int | None  # None: one gateway connection for every guild, no sharding
    shard_ids: tuple[int, ...]  # this process's shards; empty: all of them (when sharded)

    @property
    def shards(self) -> tuple[int, ...]:
        """The shards this process serves: (0,) when not sharded."""
        if self.shard_count is None:
            return (0,)
        return self.shard_ids or tuple(range(self.shard_count))

    @property
    def syncs_commands(self) -> bool:
        """Slash commands are synced by one process only: the one serving shard 0."""
        return 0 in self.shards


@dataclass(frozen=True)
class Config:
    discord: DiscordConfig
    corpus_path: Path
    index_path: Path
    top_k: int
    rerank: bool | None  # None ("auto"): when the sentence encoder is installed
    rerank_weight: float
    source: Path | None  # the file read, or None when running on the defaults


def load_config(path: Path | None = None, *, env: dict[str, str] | None = None) -> Config:
    """Read `path` (default `config.toml`, else the built-in example values) and validate it.

    `DISCORD_TOKEN` in `env` (default: the process environment) wins over `[discord] token`.
    """
    env = os.environ if env is None else env
    raw: dict[str, Any] = {}
    source: Path | None = None
    if path is not None:
        if not path.is_file():
            raise ConfigError("--config", f"no such file: {path}")
        source = path
    elif DEFAULT_CONFIG.is_file():
        source = DEFAULT_CONFIG
    if source is not None:
        try:
            raw = tomllib.loads(source.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(str(source), f"not valid TOML ({exc})") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(str(source), f"cannot read ({exc})") from None
    merged = _merge(raw)
    base_dir = source.parent if source is not None else Path.cwd()
    return _validate(merged, base_dir=base_dir, env=env, source=source)


def _merge(raw: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Defaults overlaid with the file, refusing unknown tables and keys (they are typos)."""
    merged = {table: dict(values) for table, values in DEFAULTS.items()}
    for table, values in raw.items():
        if table not in DEFAULTS:
            raise ConfigError(table, f"unknown table [{table}]; expected one of {sorted(DEFAULTS)}")
        if not isinstance(values, dict):
            raise ConfigError(table, "must be a table")
        for key, value in values.items():
            name = f"{table}.{key}"
            if key not in DEFAULTS[table] and name not in RENAMED_KEYS.keys() | UNSET_KEYS:
                raise ConfigError(name, "unknown key")
            new_name = RENAMED_KEYS.get(name)
            if new_name is not None and new_name.split(".")[1] in values:
                raise ConfigError(name, f"is the old name of {new_name}; keep only {new_name}")
            merged[table][key] = value
    return merged


def _validate(
    c: dict[str, dict[str, Any]], *, base_dir: Path, env: Any, source: Path | None
) -> Config:
    d = c["discord"]
    token = env.get(TOKEN_ENV) or _string(d, "discord", "token")
    if not token.strip():
        raise ConfigError(
            "discord.token", f"missing; set the {TOKEN_ENV} environment variable or [discord] token"
        )
    discord = DiscordConfig(
        token=token.strip(),
        api_base=_api_base(d["api_base"]),
        guild_ids=tuple(_snowflakes(d, "guild_ids")),
        admin_user_ids=frozenset(_snowflakes(d, "admin_user_ids")),
        admin_role_ids=frozenset(_snowflakes(d, "admin_role_ids")),
        answer_channels=frozenset(_snowflakes(d, "answer_channels")),
        reply_in_thread=_bool(d, "discord", "reply_in_thread"),
        answer_dms=_bool(d, "discord", "answer_dms"),
        leave_foreign_guilds=_bool(d, "discord", "leave_foreign_guilds"),
        rate_seconds=_number(d, "discord", _rate_seconds_key(d), low=0, high=86400),
        rate_burst=int(
            _number(d, "discord", "rate_burst", low=1, high=MAX_RATE_BURST, integer=True)
        ),
        max_question_chars=int(
            _number(
                d,
                "discord",
                "max_question_chars",
                low=1,
                high=MAX_QUESTION_CHARS_LIMIT,
                integer=True,
            )
        ),
        reply_when_nothing_found=_bool(d, "discord", "reply_when_nothing_found"),
        channel_verdict=_choice(d, "discord", "channel_verdict", ("answered", "related")),
        message_content_intent=_bool(d, "discord", "message_content_intent"),
        **_shards(d),
    )
    corpus_path = _path(c["corpus"], "corpus", base_dir)
    if not corpus_path.is_dir():
        raise ConfigError("corpus.path", f"no such folder: {corpus_path}")
    index_path = _path(c["index"], "index", base_dir)
    if index_path.is_dir():
        raise ConfigError("index.path", f"is a folder, expected a database file: {index_path}")
    return Config(
        discord=discord,
        corpus_path=corpus_path,
        index_path=index_path,
        top_k=int(_number(c["search"], "search", "top_k", low=1, high=MAX_TOP_K, integer=True)),
        rerank=_rerank(c["search"]["rerank"]),
        rerank_weight=_number(c["search"], "search", "rerank_weight", low=0, high=1),
        source=source,
    )


def _rate_seconds_key(section: dict[str, Any]) -> str:
    """The key that holds the refill interval: the old `cooldown_seconds` when the file uses
    it (so an error names the key the admin wrote), else `rate_seconds`."""
    return "cooldown_seconds" if "cooldown_seconds" in section else "rate_seconds"


def _rerank(value: Any) -> bool | None:
    """true / false, or "auto": re-rank when the sentence encoder is installed."""
    if isinstance(value, bool):
        return value
    if value == "auto":
        return None
    raise ConfigError("search.rerank", 'must be true, false or "auto"')


def _shards(d: dict[str, Any]) -> dict[str, Any]:
    """`shard_count` (unset, or at least 1) and `shard_ids` (distinct, each below the count)."""
    count = d.get("shard_count")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
        raise ConfigError("discord.shard_count", f"must be an integer of at least 1, not {count!r}")
    ids = d["shard_ids"]
    if not isinstance(ids, list) or any(isinstance(i, bool) or not isinstance(i, int) for i in ids):
        raise ConfigError("discord.shard_ids", f"must be a list of shard numbers, not {ids!r}")
    if ids and count is None:
        raise ConfigError(
            "discord.shard_ids", "needs discord.shard_count, the total number of shards"
        )
    if count is not None and (bad := [i for i in ids if not 0 <= i < count]):
        raise ConfigError(
            "discord.shard_ids", f"{bad[0]} is not a shard of {count} (0 to {count - 1})"
        )
    if len(set(ids)) != len(ids):
        raise ConfigError("discord.shard_ids", f"lists a shard twice: {ids}")
    return {"shard_count": count, "shard_ids": tuple(ids)}


def _string(values: dict[str, Any], table: str, key: str) -> str:
    value = values[key]
    if not isinstance(value, str):
        raise ConfigError(f"{table}.{key}", f"must be a string, not {type(value).__name__}")
    return value


def _choice(values: dict[str, Any], table: str, key: str, allowed: tuple[str, ...]) -> str:
    value = values[key]
    if value not in allowed:
        raise ConfigError(f"{table}.{key}", "must be " + " or ".join(f'"{a}"' for a in allowed))
    return value


def _bool(values: dict[str, Any], table: str, key: str) -> bool:
    value = values[key]
    if not isinstance(value, bool):
        raise ConfigError(f"{table}.{key}", "must be true or false")
    return value


def _number(
    values: dict[str, Any], table: str, key: str, *, low: float, high: float, integer: bool = False
) -> float:
    value = values[key]
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        kind = "an integer" if integer else "a number"
        raise ConfigError(f"{table}.{key}", f"must be {kind}, not {value!r}")
    if not low <= value <= high:
        raise ConfigError(f"{table}.{key}", f"must be between {low} and {high}, not {value}")
    return value


def _snowflakes(values: dict[str, Any], key: str) -> list[int]:
    """Discord IDs, as TOML integers or digit strings (some tools quote 64-bit numbers)."""
    value = values[key]
    name = f"discord.{key}"
    if not isinstance(value, list):
        raise ConfigError(name, "must be a list of Discord IDs, e.g. [123456789012345678]")
    ids: list[int] = []
    for item in value:
        if isinstance(item, str) and item.strip().isdigit():
            item = int(item.strip())
        if isinstance(item, bool) or not isinstance(item, int) or not 0 < item < 2**64:
            raise ConfigError(name, f"{item!r} is not a Discord ID")
        ids.append(item)
    return ids


def _api_base(value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigError("discord.api_base", "must be a string URL")
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(
            "discord.api_base",
            f"must be an http(s) URL like https://discord.com/api/v10, not {value!r}",
        )
    return value.strip().rstrip("/")


def _path(values: dict[str, Any], table: str, base_dir: Path) -> Path:
    value = values["path"]
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{table}.path", "must be a non-empty path string")
    path = Path(value).expanduser()
    return path if path.is_absolute() else base_dir / path
