"""Re-ranking on: what semantic re-ranking costs at this size, beside the BM25-only targets.

Encoding a million passages takes one to two hours on two cores, longer than the rest of a
1M run, so the passage vectors are not encoded here. Instead:

- the encoder's throughput is measured on a sample of the corpus's own passages, and the
  time to encode them all is extrapolated from it (reported as such);
- the live generation gets a vector file of the real shape and dtype (rows × 512 float16,
  random unit rows, the manifest naming the installed model), which is all the query path
  reads: one question encoding, a dot product per candidate, the sentences of the three
  shown passages encoded for the decline rule. Latency and memory with re-ranking on are
  measured on it; answer *quality* with re-ranking is `shirabe eval`'s business, not this.

The files are removed afterwards, so the index is BM25-only again for the next run.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from bench import measure
from bench.inputs import live_files, read_index

SAMPLE = 2_000  # passages encoded to measure the encoder's throughput
CHUNK = 100_000  # rows of random vectors written at a time
K = 3


def w_vectors(db: str) -> dict:
    """Measure the encoder on a sample of passages; write a vector file of the right shape."""
    from index.retrieval import semantic
    from index.storage import queries
    from index.storage.generation import VECTORS

    files = live_files(Path(db))
    ids = files.load_passage_ids()
    rows = len(ids)
    t0 = time.perf_counter()
    encoder = semantic.Encoder.load()
    load_s = time.perf_counter() - t0
    sample = [int(i) for i in ids[:: max(1, rows // SAMPLE)][:SAMPLE]]  # spread over the corpus
    found = read_index(Path(db), lambda conn: queries.passage_rows(conn, sample))
    texts = [found[i].text for i in sample]
    t0 = time.perf_counter()
    encoder.encode(texts)
    encode_s = time.perf_counter() - t0
    rate = len(texts) / encode_s
    rng = np.random.default_rng(0)
    # Filled a chunk at a time in a scratch file, not in memory (1 GB at 1M passages).
    with tempfile.TemporaryDirectory(dir=Path(db).parent) as scratch:
        out = np.lib.format.open_memmap(
            Path(scratch) / "random.npy",
            mode="w+",
            dtype=semantic.STORAGE_DTYPE,
            shape=(rows, encoder.dim),
        )
        for start in range(0, rows, CHUNK):
            block = rng.standard_normal((min(CHUNK, rows - start), encoder.dim)).astype(np.float32)
            block /= np.linalg.norm(block, axis=1, keepdims=True)
            out[start : start + len(block)] = block
        out.flush()
        files.save_vectors(out, encoder.name)
        del out
    return {
        "passages": rows,
        "dim": encoder.dim,
        "encoder_load_s": load_s,
        "sample": len(texts),
        "passages_per_s": rate,
        "extrapolated_encode_s": rows / rate,
        "vector_file_mb": files.path(VECTORS).stat().st_size / 1e6,
    }


def w_rerank(corpus: str, db: str, questions: list[str]) -> dict:
    """Cold start, engine.ask latency and resident memory with re-ranking on."""
    t0 = time.perf_counter()
    from index.engine import Engine

    async def go() -> dict:
        t1 = time.perf_counter()
        engine = await Engine.open(Path(corpus), Path(db), build_if_missing=False, rerank=True)
        t2 = time.perf_counter()
        first = await engine.ask(questions[0], K)
        t3 = time.perf_counter()
        try:
            for q in questions[:10]:
                await engine.ask(q, K)
            samples, declined = [], 0
            for q in questions:
                t = time.perf_counter_ns()
                answer = await engine.ask(q, K)
                samples.append(time.perf_counter_ns() - t)
                declined += answer.declined is not None
            half = len(questions) // 2
            return {
                "import_s": t1 - t0,
                "open_s": t2 - t1,
                "first_ask_s": t3 - t2,
                "first_reranked": any(h.similarity is not None for h in first.hits)
                or first.best_similarity is not None,
                "ask_ms": {
                    "content": measure.percentiles(samples[:half]),
                    "frequent": measure.percentiles(samples[half:]),
                    "all": measure.percentiles(samples),
                },
                "declined": declined,
                "questions": len(questions),
                "rss_mb": measure.rss_mb(),
                "rss": measure.rss_breakdown(),
            }
        finally:
            await engine.close()

    return asyncio.run(go())


def measure_rerank(corpus: Path, db: Path, texts: list[str]) -> dict:
    """Both children, then the vector files removed (see the module docstring)."""
    from index.retrieval import semantic
    from index.storage.generation import VECTORS, VECTORS_META

    if not semantic.available():
        return {"skipped": "the sentence encoder is not installed"}
    files = live_files(db)
    try:
        built = measure.run_child(["vectors", json.dumps({"db": str(db)})])
        served = measure.run_child(
            ["rerank", json.dumps({"corpus": str(corpus), "db": str(db), "questions": texts})]
        )
        return {
            "vectors": {**built.result, "tree_peak_mb": built.tree_peak_mb},
            "serving": {
                **served.result,
                "process_wall_s": served.wall_s,
                "others_cores": served.others_cores,
            },
        }
    finally:
        files.path(VECTORS).unlink(missing_ok=True)
        files.path(VECTORS_META).unlink(missing_ok=True)


def render_rows(res: dict, row, fmt) -> None:
    """Rows for the targets table: what re-ranking on costs at this size."""
    rr = res.get("engine", {}).get("rerank")
    if not rr:
        return
    if "skipped" in rr:
        row("(info) re-ranking on", "–", f"not measured: {rr['skipped']}", None)
        return
    v, s = rr["vectors"], rr["serving"]
    ask = s["ask_ms"]
    row(
        "(info) re-ranking on: engine.ask p50 / p95",
        "–",
        f"content {fmt(ask['content']['p50'])} / {fmt(ask['content']['p95'])} ms, frequent "
        f"{fmt(ask['frequent']['p50'])} / {fmt(ask['frequent']['p95'])} ms (question encoded, "
        f"10 candidates re-scored, the 3 shown passages' sentences encoded for the decline "
        f"rule; {s['declined']} of {s['questions']} declined)",
        None,
    )
    row(
        "(info) re-ranking on: cold start, open + first answer",
        "–",
        f"open {fmt(s['open_s'])} s + ask {fmt(s['first_ask_s'])} s (the encoder loads on the "
        f"first question)",
        None,
    )
    row(
        "(info) re-ranking on: resident memory while serving",
        "–",
        f"{s['rss_mb']:,.0f} MB (anon {s['rss'].get('RssAnon', 0):,.0f} MB, file-backed "
        f"{s['rss'].get('RssFile', 0):,.0f} MB); vector file {v['vector_file_mb']:,.0f} MB "
        f"({v['passages']:,} × {v['dim']} float16, memory-mapped)",
        None,
    )
    row(
        "(info) re-ranking on: encoding the passage vectors",
        "–",
        f"{v['passages_per_s']:,.0f} passages/s on a {v['sample']:,}-passage sample → "
        f"{v['extrapolated_encode_s'] / 60:,.1f} min for all {v['passages']:,} "
        f"(extrapolated; not run at this size)",
        None,
    )
