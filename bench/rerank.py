"""Re-ranking on: what semantic re-ranking costs at this size, beside the BM25-only targets.

Builds encode nothing: a passage's vector is encoded when a question first needs it, then
cached in memory and in the database (index/storage/vector_cache.py). So this step measures:

- the re-ranking-capable build: a second from-scratch build of the same corpus, run the way
  `shirabe index --rerank` runs it (the CLI's own code, in a child), against the plain build
  (target ≤ 1.5×);
- `engine.ask` with re-ranking on, in a fresh process whose vector cache is empty:
  * "unseen": every question once. Each encodes the head of BM25's pool it has not met
    (10 passages) and the sentences of the 3 shown ones; the p95 target (≤ 100 ms) is read
    on the questions none of whose head passages an earlier question had met (their count
    is shown), the p95 of all first asks beside it;
  * "cached": the same questions again: only the question itself is encoded (≤ 15 ms);
  * "after a restart": once more from a new engine over the same database, the vectors
    read from the store instead of memory;
- the question's own encoding, cold start (the encoder loads on the first question) and
  resident memory.

The database's vector cache is emptied before and after, so runs stay comparable.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from pathlib import Path

from bench import measure

K = 3


def w_rerank_build(corpus: str, db: str) -> dict:
    """A from-scratch build as `shirabe index --rerank` does it (bot.cli, in process)."""
    from bot.cli import main

    t0 = time.perf_counter()
    code = main(["index", "--rerank", "--corpus", corpus, "--db", db])
    seconds = time.perf_counter() - t0
    if code != 0:
        raise RuntimeError(f"`shirabe index --rerank` exited with {code}")
    return {"seconds": seconds, "maxrss_mb": measure.maxrss_mb()}


def w_rerank(corpus: str, db: str, questions: list[str]) -> dict:
    """Cold start, then engine.ask with re-ranking on: unseen, cached, after a restart."""
    t0 = time.perf_counter()
    from index.engine import Engine

    async def go() -> dict:
        t1 = time.perf_counter()
        engine = await Engine.open(Path(corpus), Path(db), build_if_missing=False, rerank=True)
        t2 = time.perf_counter()
        try:
            first = await engine.ask(questions[0], K)
            t3 = time.perf_counter()
            unseen, fresh, encoded = await _unseen(engine, questions[1:])
            cached = [await _timed(engine, q) for q in questions[1:]]
            question_ms = _question_encoding(questions[1:])
            out = {
                "import_s": t1 - t0,
                "open_s": t2 - t1,
                "first_ask_s": t3 - t2,
                "first_reranked": any(h.similarity is not None for h in first.hits),
                "unseen_ms": measure.percentiles(unseen),
                "unseen_fresh_ms": measure.percentiles(fresh),
                "passages_encoded_per_question": encoded,
                "cached_ms": measure.percentiles(cached),
                "question_encode_ms": question_ms,
                "questions": len(questions) - 1,
                "rss_mb": measure.rss_mb(),
                "rss": measure.rss_breakdown(),
            }
        finally:
            await engine.close()
        async with await Engine.open(
            Path(corpus), Path(db), build_if_missing=False, rerank=True
        ) as again:
            await again.ask(questions[0], K)  # not timed: the first question of any engine
            restarted = [await _timed(again, q) for q in questions[1:]]
            out["restarted_ms"] = measure.percentiles(restarted)
            out["restarted_from_store"] = again.vector_stats.from_store
            out["restarted_encoded"] = again.vector_stats.encoded
        return out

    return asyncio.run(go())


async def _timed(engine, question: str) -> int:
    t = time.perf_counter_ns()
    await engine.ask(question, K)
    return time.perf_counter_ns() - t


async def _unseen(engine, questions: list[str]) -> tuple[list[int], list[int], float]:
    """Each question's first answer; those with no head passage cached before it apart;
    and the mean number of passages encoded per question."""
    every, fresh, encoded = [], [], 0
    for q in questions:
        before = engine.vector_stats
        cached_before, encoded_before = before.cached, before.encoded
        took = await _timed(engine, q)
        every.append(took)
        encoded += engine.vector_stats.encoded - encoded_before
        if engine.vector_stats.cached == cached_before:
            fresh.append(took)
    return every, fresh, encoded / max(1, len(questions))


def _question_encoding(questions: list[str]) -> dict:
    """The question's own encoding, the one cost a cached question adds to BM25's."""
    from index.retrieval import semantic

    encoder = semantic.Encoder.load()
    samples = []
    for q in questions:
        t = time.perf_counter_ns()
        encoder.encode([q])
        samples.append(time.perf_counter_ns() - t)
    return measure.percentiles(samples)


REBUILD_LIMIT = 1_000_000  # passages; above it the second build is not run


def measure_rerank(corpus: Path, db: Path, texts: list[str], passages: int) -> dict:
    """The build child, then the serving child (see the module docstring). Above
    REBUILD_LIMIT passages the second build is skipped: it runs the very code of the plain
    build (builds encode nothing), and at ten million passages it would take most of an hour."""
    from index.retrieval import semantic

    if not semantic.available():
        return {"skipped": "the sentence encoder is not installed"}
    scratch = db.parent.parent / "db-rerank"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    _forget_vectors(db)
    try:
        if passages > REBUILD_LIMIT:
            build = {
                "skipped": f"above {REBUILD_LIMIT:,} passages (the plain build's code: builds "
                "encode nothing)"
            }
        else:
            built = measure.run_child(
                ["rerank_build", json.dumps({"corpus": str(corpus), "db": str(scratch / db.name)})]
            )
            build = {
                **built.result,
                "tree_peak_mb": built.tree_peak_mb,
                "others_cores": built.others_cores,
            }
        shutil.rmtree(scratch, ignore_errors=True)
        served = measure.run_child(
            ["rerank", json.dumps({"corpus": str(corpus), "db": str(db), "questions": texts})]
        )
        return {
            "build": build,
            "serving": {
                **served.result,
                "process_wall_s": served.wall_s,
                "others_cores": served.others_cores,
            },
        }
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        _forget_vectors(db)


def _forget_vectors(db: Path) -> None:
    """Empty the index's passage vector cache (every row, of every encoder)."""
    from bench.inputs import read_index
    from index.storage import vector_store

    read_index(db, vector_store.clear)
