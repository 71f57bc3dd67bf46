"""Shared fixtures: the bundled corpus (copied, indexed, tokenized), an engine around a test
body, and the CLI as a subprocess."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = ROOT / "corpus"


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A private copy of the bundled corpus that a test may change."""
    target = tmp_path / "corpus"
    shutil.copytree(BUNDLED, target)
    return target


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "shirabe.db"


@pytest.fixture(scope="session")
def bundled_engine_paths(tmp_path_factory) -> tuple[Path, Path]:
    """An index of the unchanged bundled corpus, built once for read-only tests."""
    from index.storage.build import build_index

    db = tmp_path_factory.mktemp("bundled") / "shirabe.db"
    asyncio.run(build_index(BUNDLED, db))
    return BUNDLED, db


@pytest.fixture(scope="session")
def vocabulary() -> set[str]:
    """Every term of the bundled corpus, as the index tokenizes it."""
    from index.language.tokenize import tokenize

    terms: set[str] = set()
    for path in sorted(BUNDLED.glob("*.txt")):
        terms.update(tokenize(path.read_text(encoding="utf-8")))
    return terms


@pytest.fixture(scope="session")
def names(vocabulary):
    """The name index over the bundled corpus's katakana terms."""
    from index.language.names import NameIndex

    return NameIndex.build(vocabulary)


def with_engine(corpus: Path, db: Path, body, **kwargs):
    """Run `await body(engine)` on an engine opened (and closed) around it; its result."""
    from index.engine import Engine

    async def scenario():
        async with await Engine.open(corpus, db, **kwargs) as engine:
            return await body(engine)

    return asyncio.run(scenario())


def run_cli(*args: str, cwd: Path = ROOT, stdin: str | None = None, timeout: float = 120):
    """Run `shirabe ...` as a subprocess, the way a user would."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**env, "PYTHONPATH": str(ROOT)},
    )
