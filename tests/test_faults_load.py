"""Reindex under load: 200 questions while `Engine.reindex()` rebuilds a changed corpus.

Questions go through `bot.answering.ask`, the way the bot asks them (within its global bound
on questions in the engine at once). Every one must be answered, from the old generation or
the new one -- never an error, never a mix -- while a heartbeat task, ticking every 5 ms,
proves the event loop (which serves Discord's gateway) never stalled for 100 ms.
Also: a corpus that became empty keeps the old index and says why, and k beyond the number of
passages is fine.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

import pytest

from bot import answering
from bot.render import DESCRIPTION_LIMIT, MESSAGE_EMBEDS_TOTAL, TITLE_LIMIT, render_reindex
from index.answer import MAX_K
from index.engine import Engine
from index.models import Answer
from index.storage.build import build_index
from tests.conftest import BUNDLED, run_cli

QUESTIONS = ["CSTOの議長は誰?", "カザフスタンで拘束された人数は", "who chairs CSTO?", "セブ湖"]
CONCURRENT = 200
# A build blocking the loop would stall it for seconds; the margin is for a busy 2-core box.
MAX_STALL_SECONDS = 0.250
TICK_SECONDS = 0.005
NEW_FILES = 150  # ~1,900 new passages to tokenize: a build long enough to ask during

Hits = tuple[tuple[str, int, float], ...]


def hits_of(answer: Answer) -> Hits:
    return tuple((h.citation.doc, h.citation.passage, round(h.score, 6)) for h in answer.hits)


def grow(corpus: Path, files: int) -> None:
    sources = [p.read_text(encoding="utf-8") for p in sorted(BUNDLED.glob("*.txt"))]
    for i in range(files):
        text = sources[i % len(sources)].replace("。", f"。追記{i}。", 5)
        (corpus / f"new_{i:03d}.txt").write_text(f"増補{i}\n{text}", encoding="utf-8")


class Heartbeat:
    """A task that ticks every TICK_SECONDS and keeps the longest time between two ticks."""

    def __init__(self) -> None:
        self.longest = 0.0
        self.ticks = 0
        self._task: asyncio.Task | None = None

    async def _beat(self) -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(TICK_SECONDS)
            now = time.perf_counter()
            self.longest = max(self.longest, now - last - TICK_SECONDS)
            self.ticks += 1
            last = now

    def __enter__(self) -> Heartbeat:
        self._task = asyncio.create_task(self._beat())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


async def ask_all(engine: Engine, questions: list[str]) -> list[answering.Reply]:
    """Every question at once, as the bot would receive them from many users."""
    return await asyncio.gather(
        *(answering.ask(engine, q, k=3, lang="en") for q in questions), return_exceptions=True
    )


@pytest.mark.slow
@pytest.mark.perf
def test_questions_during_a_reindex_are_answered_and_the_loop_never_stalls(
    tmp_path: Path,
) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(BUNDLED, corpus)

    async def scenario():
        engine = await Engine.open(corpus, tmp_path / "data" / "shirabe.db")
        try:
            await engine.warm_up()
            old = {q: hits_of(await engine.ask(q)) for q in QUESTIONS}
            grow(corpus, NEW_FILES)
            questions = [QUESTIONS[i % len(QUESTIONS)] for i in range(CONCURRENT)]
            with Heartbeat() as heart:
                reindex = asyncio.create_task(engine.reindex())
                while not engine.reindexing:  # the build is under way when the questions come
                    await asyncio.sleep(0)
                during: list[bool] = []  # per answered question: was the build still running?

                async def ask_one(q: str) -> answering.Reply:
                    reply = await answering.ask(engine, q, k=3, lang="en")
                    during.append(engine.reindexing)
                    return reply

                replies = await asyncio.gather(*map(ask_one, questions), return_exceptions=True)
                overlapped = any(during)
                report = await reindex
                await asyncio.sleep(3 * TICK_SECONDS)
            new = {q: hits_of(await engine.ask(q)) for q in QUESTIONS}
            return old, new, questions, replies, report, heart, overlapped
        finally:
            await engine.close()

    old, new, questions, replies, report, heart, overlapped = asyncio.run(scenario())
    assert report.added == NEW_FILES and not report.kept_previous
    assert overlapped, "no question was answered while the reindex was running"
    errors = [r for r in replies if isinstance(r, BaseException)]
    assert not errors, errors[:3]
    for question, reply in zip(questions, replies, strict=True):
        assert reply.kind == "answer", (question, reply.kind)
        assert hits_of(reply.answer) in (old[question], new[question]), question
        (embed,) = reply.embeds
        assert len(embed.title or "") <= TITLE_LIMIT
        assert len(embed.description or "") <= DESCRIPTION_LIMIT and len(embed) <= (
            MESSAGE_EMBEDS_TOTAL
        )
    assert heart.ticks > 100
    assert heart.longest < MAX_STALL_SECONDS, (
        f"the event loop stalled for {heart.longest * 1000:.0f} ms"
    )


def test_the_bound_on_questions_in_the_engine_holds() -> None:
    """However many arrive, at most MAX_CONCURRENT_QUESTIONS are in the engine at once."""

    class SlowEngine:
        inside = 0
        most = 0

        async def ask(self, question: str, k: int) -> Answer:
            SlowEngine.inside += 1
            SlowEngine.most = max(SlowEngine.most, SlowEngine.inside)
            await asyncio.sleep(0.01)
            SlowEngine.inside -= 1
            return Answer(question, [], [], 1.0, declined="nothing")

    async def scenario() -> list:
        return await ask_all(SlowEngine(), ["q"] * 50)  # type: ignore[arg-type]

    replies = asyncio.run(scenario())
    assert all(r.kind == "declined" for r in replies)
    assert SlowEngine.most == answering.MAX_CONCURRENT_QUESTIONS


def test_a_corpus_that_became_empty_keeps_the_old_index_and_says_why(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(BUNDLED, corpus)

    async def scenario():
        engine = await Engine.open(corpus, tmp_path / "data" / "shirabe.db")
        try:
            before = hits_of(await engine.ask(QUESTIONS[0]))
            for path in corpus.glob("*.txt"):
                path.unlink()
            (corpus / "binary.txt").write_bytes(b"\x00\x01\x02" * 100)  # nothing indexable
            report = await engine.reindex()
            return before, report, hits_of(await engine.ask(QUESTIONS[0])), engine.generation
        finally:
            await engine.close()

    before, report, after, generation = asyncio.run(scenario())
    assert report.kept_previous and "no indexable text" in report.kept_previous
    assert report.generation == generation.number == 1
    assert after == before and after, "still answering from the previous generation"
    embed = render_reindex(report)
    assert embed.title == "Index kept unchanged" and "no indexable text" in embed.description


def test_an_empty_corpus_from_the_start_is_explained(tmp_path: Path) -> None:
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "empty.txt").write_bytes(b"")
    result = run_cli("ask", "CSTOの議長は誰?", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "no indexable text" in result.stderr and "Traceback" not in result.stderr


def test_k_beyond_the_number_of_passages(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "one.txt").write_text("短い記事\nCSTOの議長国はアルメニアである。\n", "utf-8")

    async def scenario():
        engine = await Engine.open(corpus, tmp_path / "data" / "shirabe.db")
        try:
            return (
                engine.generation.postings.n,
                await engine.ask("CSTOの議長", k=MAX_K),
                await engine.ask("CSTOの議長", k=10_000),
                await engine.search("CSTOの議長", k=5, offset=5),
                await engine.search("CSTOの議長", k=MAX_K, offset=10_000),
            )
        finally:
            await engine.close()

    passages, wide, huge, past, far = asyncio.run(scenario())
    assert 1 <= len(wide.hits) <= passages and [h.rank for h in wide.hits] == [1]
    assert hits_of(huge) == hits_of(wide)
    assert past.hits == [] and far.hits == []


def test_builds_by_another_process_while_serving(tmp_path: Path) -> None:
    """`shirabe index` beside a running bot, twice: the bot must keep answering."""
    corpus = tmp_path / "corpus"
    shutil.copytree(BUNDLED, corpus)
    db = tmp_path / "data" / "shirabe.db"

    async def scenario() -> list[Answer]:
        engine = await Engine.open(corpus, db, rerank=False)
        try:
            first = await engine.ask(QUESTIONS[0])
            changed = corpus / first.hits[0].citation.doc
            for n in (1, 2):  # what two `shirabe index` runs in another process would do
                changed.write_text(changed.read_text("utf-8") + f"\n追記{n}。\n", "utf-8")
                await build_index(corpus, db)
            return [first, await engine.ask(QUESTIONS[0])]
        finally:
            await engine.close()

    first, later = asyncio.run(scenario())
    assert later.hits and later.hits[0].citation.doc == first.hits[0].citation.doc
