"""The bot's TOML config: defaults equal the example file, and every mistake names its key."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from bot.app import run
from bot.config import DEFAULTS, UNSET_KEYS, ConfigError, load_config

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config.example.toml"
ENV = {"DISCORD_TOKEN": "env-token"}


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder with a corpus and no config.toml, as the current directory."""
    (tmp_path / "corpus").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(folder: Path, text: str) -> Path:
    path = folder / "bot.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_example_file_holds_exactly_the_defaults() -> None:
    assert tomllib.loads(EXAMPLE.read_text(encoding="utf-8")) == DEFAULTS


def test_every_key_in_the_example_is_commented() -> None:
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if "=" in line and not line.startswith("#"):
            assert lines[i - 1].startswith("#"), f"no comment above {line!r}"


def test_keys_unset_by_default_are_shown_commented_out_in_the_example() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    for name in UNSET_KEYS:
        table, key = name.split(".")
        assert key not in DEFAULTS[table]
        line = next(line for line in text.splitlines() if line.startswith(f"# {key} = "))
        uncommented = tomllib.loads(line.removeprefix("# "))
        assert set(uncommented) == {key}, line


def test_without_a_file_the_example_values_apply(folder: Path) -> None:
    config = load_config(None, env=ENV)
    assert config.source is None
    assert config.discord.api_base == "https://discord.com/api/v10"
    assert config.discord.guild_ids == () and config.discord.rate_seconds == 5
    assert config.discord.rate_burst == 3
    assert not config.discord.answer_dms and not config.discord.leave_foreign_guilds
    assert not config.discord.reply_in_thread
    assert config.corpus_path == folder / "corpus"
    assert config.index_path == folder / "data" / "shirabe.db"
    assert config.top_k == 3
    assert config.discord.shard_count is None and config.discord.shard_ids == ()
    assert config.discord.shards == (0,) and config.discord.syncs_commands


def test_config_toml_in_the_current_folder_is_the_default(folder: Path) -> None:
    (folder / "config.toml").write_text("[search]\ntop_k = 7\n", encoding="utf-8")
    assert load_config(None, env=ENV).top_k == 7


def test_values_are_read_and_relative_paths_follow_the_file(folder: Path) -> None:
    sub = folder / "conf"
    (sub / "docs").mkdir(parents=True)
    path = sub / "bot.toml"
    path.write_text(
        """
[discord]
token = "file-token"
api_base = "http://127.0.0.1:8080/api/v10/"
guild_ids = [123456789012345678, "223456789012345678"]
admin_role_ids = [5]
answer_channels = [7, 8]
reply_in_thread = true
rate_seconds = 2.5
rate_burst = 4
answer_dms = true
leave_foreign_guilds = true
reply_when_nothing_found = true
[corpus]
path = "docs"
[index]
path = "/tmp/x.db"
""",
        encoding="utf-8",
    )
    config = load_config(path, env={})
    d = config.discord
    assert d.token == "file-token"
    assert d.api_base == "http://127.0.0.1:8080/api/v10"
    assert d.guild_ids == (123456789012345678, 223456789012345678)
    assert d.admin_role_ids == {5} and d.answer_channels == {7, 8}
    assert d.rate_seconds == 2.5 and d.rate_burst == 4 and d.reply_when_nothing_found
    assert d.answer_dms and d.leave_foreign_guilds and d.reply_in_thread
    assert config.corpus_path == sub / "docs" and config.index_path == Path("/tmp/x.db")


def test_the_old_cooldown_seconds_key_still_sets_the_refill_interval(folder: Path) -> None:
    """Config files written before the token bucket keep working: one question per
    cooldown_seconds comes back, on top of the default burst."""
    config = load_config(write(folder, "[discord]\ncooldown_seconds = 12\n"), env=ENV)
    assert config.discord.rate_seconds == 12 and config.discord.rate_burst == 3
    assert load_config(write(folder, "[discord]\ncooldown_seconds = 0\n"),
                       env=ENV).discord.rate_seconds == 0


@pytest.mark.parametrize(
    ("keys", "count", "shards", "syncs"),
    [
        ("shard_count = 1", 1, (0,), True),
        ("shard_count = 4", 4, (0, 1, 2, 3), True),  # no shard_ids: all shards, here
        ("shard_count = 4\nshard_ids = [3, 1]", 4, (3, 1), False),
        ("shard_count = 2\nshard_ids = [0]", 2, (0,), True),
    ],
)
def test_shard_keys(folder: Path, keys: str, count: int, shards: tuple, syncs: bool) -> None:
    """The shards this process serves; only the one serving shard 0 syncs slash commands."""
    d = load_config(write(folder, f"[discord]\n{keys}\n"), env=ENV).discord
    assert d.shard_count == count and d.shards == shards and d.syncs_commands == syncs


def test_the_environment_token_wins_and_is_never_in_a_repr(folder: Path) -> None:
    path = write(folder, '[discord]\ntoken = "file-token"\n')
    config = load_config(path, env=ENV)
    assert config.discord.token == "env-token"
    assert "env-token" not in repr(config)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("", "discord.token"),
        ('[discord]\ntoken = "  "\n', "discord.token"),
        ("[discord]\ntoken = 5\n", "discord.token"),
        ('[discord]\ntoken = "t"\nguild_ids = "123"\n', "discord.guild_ids"),
        ('[discord]\ntoken = "t"\nadmin_user_ids = [-1]\n', "discord.admin_user_ids"),
        ('[discord]\ntoken = "t"\nanswer_channels = [1.5]\n', "discord.answer_channels"),
        ('[discord]\ntoken = "t"\napi_base = "ftp://x"\n', "discord.api_base"),
        ('[discord]\ntoken = "t"\napi_base = "discord.com"\n', "discord.api_base"),
        ('[discord]\ntoken = "t"\ncooldown_seconds = -1\n', "discord.cooldown_seconds"),
        ('[discord]\ntoken = "t"\ncooldown_seconds = "5"\n', "discord.cooldown_seconds"),
        ('[discord]\ntoken = "t"\ncooldown_seconds = 5\nrate_seconds = 5\n',
         "discord.cooldown_seconds"),
        ('[discord]\ntoken = "t"\nrate_seconds = -1\n', "discord.rate_seconds"),
        ('[discord]\ntoken = "t"\nrate_seconds = true\n', "discord.rate_seconds"),
        ('[discord]\ntoken = "t"\nrate_burst = 0\n', "discord.rate_burst"),
        ('[discord]\ntoken = "t"\nrate_burst = 2.5\n', "discord.rate_burst"),
        ('[discord]\ntoken = "t"\nrate_burst = 1000\n', "discord.rate_burst"),
        ('[discord]\ntoken = "t"\nanswer_dms = "no"\n', "discord.answer_dms"),
        ('[discord]\ntoken = "t"\nleave_foreign_guilds = 1\n', "discord.leave_foreign_guilds"),
        ('[discord]\ntoken = "t"\nreply_in_thread = "yes"\n', "discord.reply_in_thread"),
        ('[discord]\ntoken = "t"\nmax_question_chars = 0\n', "discord.max_question_chars"),
        ('[discord]\ntoken = "t"\nmax_question_chars = 10000\n', "discord.max_question_chars"),
        ('[discord]\ntoken = "t"\nmax_question_chars = true\n', "discord.max_question_chars"),
        ('[discord]\ntoken = "t"\nreply_when_nothing_found = "no"\n',
         "discord.reply_when_nothing_found"),
        ('[discord]\ntoken = "t"\nshard_count = 0\n', "discord.shard_count"),
        ('[discord]\ntoken = "t"\nshard_count = -2\n', "discord.shard_count"),
        ('[discord]\ntoken = "t"\nshard_count = 2.0\n', "discord.shard_count"),
        ('[discord]\ntoken = "t"\nshard_count = "2"\n', "discord.shard_count"),
        ('[discord]\ntoken = "t"\nshard_count = true\n', "discord.shard_count"),
        ('[discord]\ntoken = "t"\nshard_ids = [0]\n', "discord.shard_ids"),
        ('[discord]\ntoken = "t"\nshard_count = 2\nshard_ids = [2]\n', "discord.shard_ids"),
        ('[discord]\ntoken = "t"\nshard_count = 2\nshard_ids = [-1]\n', "discord.shard_ids"),
        ('[discord]\ntoken = "t"\nshard_count = 2\nshard_ids = [1, 1]\n', "discord.shard_ids"),
        ('[discord]\ntoken = "t"\nshard_count = 2\nshard_ids = ["0"]\n', "discord.shard_ids"),
        ('[discord]\ntoken = "t"\nshard_count = 2\nshard_ids = [true]\n', "discord.shard_ids"),
        ('[discord]\ntoken = "t"\nshard_count = 2\nshard_ids = 0\n', "discord.shard_ids"),
        ('[discord]\ntoken = "t"\ntokn = "x"\n', "discord.tokn"),
        ('[discord]\ntoken = "t"\n[serach]\ntop_k = 3\n', "serach"),
        ('[discord]\ntoken = "t"\n[search]\ntop_k = 0\n', "search.top_k"),
        ('[discord]\ntoken = "t"\n[corpus]\npath = "nowhere"\n', "corpus.path"),
        ('[discord]\ntoken = "t"\n[index]\npath = "corpus"\n', "index.path"),
        ('[discord]\ntoken = "t"\n[index]\npath = ""\n', "index.path"),
    ],
)
def test_a_bad_or_missing_value_names_its_key(folder: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(folder, text), env={})
    assert caught.value.key == key
    assert str(caught.value).startswith(key + ":")


def test_broken_toml_names_the_file(folder: Path) -> None:
    path = write(folder, "[discord\n")
    with pytest.raises(ConfigError, match="not valid TOML") as caught:
        load_config(path, env=ENV)
    assert caught.value.key == str(path)


def test_run_with_a_bad_config_prints_the_key_and_returns_2(
    folder: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "secret-token")
    path = write(folder, "[discord]\ncooldown_seconds = -3\n")
    assert run(path) == 2
    err = capsys.readouterr().err
    assert "discord.cooldown_seconds" in err and "secret-token" not in err
    assert run(folder / "missing.toml") == 2
    assert "--config: no such file" in capsys.readouterr().err


def test_run_without_a_token_says_where_to_put_it(
    folder: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    assert run(None) == 2
    assert "discord.token: missing; set the DISCORD_TOKEN" in capsys.readouterr().err
