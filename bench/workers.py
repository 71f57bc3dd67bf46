"""The child-process tasks: `python -m bench --worker TASK JSON` runs `worker(TASK, JSON)`.

Each task runs alone in a fresh process (see bench/measure.py: its peak memory is its own,
its result is the last JSON line it prints). Shirabe is imported inside the tasks, never at
the top: `w_cold` times the import as part of a cold start.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import json
import time
from pathlib import Path

import numpy as np

from bench import measure, rerank
from bench.inputs import load_exact_top10, load_queries, load_tokens, run_dir
from bench.peers import PEERS, Tokens, top_indices

SLOW_PEER_BUDGET_S = 90.0  # per query set, for peers that take ~1 s a query at 1M
CLI_K = 3  # `shirabe ask`'s default


def worker(task: str, arg: str) -> None:
    args = json.loads(arg)
    handlers = {
        "build": w_build,
        "fugashi": w_fugashi,
        "peer": w_peer,
        "serve": w_serve,
        "parity": w_parity,
        "incremental": w_incremental,
        "cold": w_cold,
        "engine": w_engine,
        "rerank_build": rerank.w_rerank_build,
        "rerank": rerank.w_rerank,
    }
    measure.emit(handlers[task](**args))


# ---- shirabe as a user runs it ---------------------------------------------------------


def bm25_only(func, name: str) -> dict:
    """{name: False} when `func` takes that keyword: the targets are for BM25, so semantic
    re-ranking (and the passage vectors builds of older versions encoded) is off at every
    size, keeping sizes comparable; bench/rerank.py measures it on its own."""
    return {name: False} if name in inspect.signature(func).parameters else {}


def cli_bm25_only() -> list[str]:
    """`--no-rerank` when this shirabe's CLI has it (see bm25_only)."""
    from bot.cli import make_parser

    try:
        make_parser().parse_args(["ask", "--no-rerank", "x"])
    except SystemExit:
        return []
    return ["--no-rerank"]


def open_engine(corpus: str, db: str):
    """Engine.open on an existing index, BM25 only (see bm25_only)."""
    from index.engine import Engine

    return Engine.open(
        Path(corpus), Path(db), build_if_missing=False, **bm25_only(Engine.open, "rerank")
    )


def w_build(corpus: str, db: str) -> dict:
    """shirabe's build from raw text, tokenizing included (its own process pool)."""
    import resource

    from index.storage.build import build_index

    t0 = time.perf_counter()
    report = asyncio.run(build_index(Path(corpus), Path(db), **bm25_only(build_index, "vectors")))
    seconds = time.perf_counter() - t0
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024 / 1e6
    own = resource.getrusage(resource.RUSAGE_SELF)
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "seconds": seconds,
        "report_seconds": report.seconds,
        "passages": report.passages,
        "documents": report.documents,
        "chars_per_s": chars_exact(corpus) / seconds,
        "maxrss_mb": measure.maxrss_mb(),
        "children_maxrss_mb": kids,
        "main_cpu_s": own.ru_utime + own.ru_stime,
        "workers_cpu_s": workers.ru_utime + workers.ru_stime,
    }


def chars_exact(corpus: str) -> int:
    return sum(len(p.read_text(encoding="utf-8")) for p in Path(corpus).glob("*.txt"))


FUGASHI_FILES = 1_000  # a rate, so above a million passages the first 1,000 files tell it


def w_fugashi(corpus: str) -> dict:
    """Bare fugashi lemma tokenizing of the same files on 2 processes: the ceiling for
    shirabe's build throughput (a rate: at 10M passages, twice 40 minutes of tokenizing
    would say nothing the first 1,000 files do not)."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    every = sorted(Path(corpus).glob("*.txt"))
    files = [str(p) for p in every[:FUGASHI_FILES]]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(2, mp_context=get_context("spawn")) as pool:
        chars = sum(pool.map(measure.fugashi_lemmas, files))
    seconds = time.perf_counter() - t0
    # this process and its (reaped) workers: comparable with the build's main + workers
    return {
        "seconds": seconds,
        "chars": chars,
        "chars_per_s": chars / seconds,
        "cpu_s": measure.own_cpu_s(),
        "files": len(files),
        "of_files": len(every),
    }


# ---- peers: built and served on the exported tokens ------------------------------------


def w_peer(name: str, size: int, serve: bool, gen_dir: str) -> dict:
    """Build one peer on the exported tokens (timed); in-memory peers are served here too."""
    peer = PEERS[name]()
    workdir = run_dir(size) / "peers" / name
    workdir.parent.mkdir(parents=True, exist_ok=True)
    tokens = load_tokens(size)
    peer.prepare(tokens, workdir)
    del tokens
    gc.collect()
    input_mb = measure.rss_mb()
    t0 = time.perf_counter()
    peer.build()
    out = {
        "build_s": time.perf_counter() - t0,
        "input_rss_mb": input_mb,
        "maxrss_mb": measure.maxrss_mb(),
        "label": peer.label,
        "exact": peer.exact,
    }
    if workdir.exists():
        out["disk_mb"] = sum(p.stat().st_size for p in workdir.rglob("*") if p.is_file()) / 1e6
    if serve:
        peer.release()
        out.update(serve_queries(peer, size))
        if name == "rank_bm25":
            out["parity_top10"] = parity_top10(peer, size, Path(gen_dir))
    return out


def w_serve(name: str, size: int, dir: str) -> dict:
    """Open a persistent peer's index in a fresh process, then time the queries.

    The index files are read once through the page cache first, for every peer alike: a
    server that has been up a while has them there, and at 10M the build and the peers' indexes
    written before this round are larger than the machine's page cache, so without this a round
    times first reads from disk (content p95 23 ms cold against 7 ms warm, shirabe at 10M)."""
    peer = PEERS[name]()
    warm = measure.read_through(peer.index_files(Path(dir)))
    t0 = time.perf_counter()
    peer.open(Path(dir))
    try:
        out = {"open_s": time.perf_counter() - t0, "page_cache_warm": warm}
        out.update(serve_queries(peer, size))
        if name == "shirabe":
            out["rank_ms"] = time_engine_rank(peer, size)
    finally:
        peer.close()
    return out


def serve_queries(peer, size: int) -> dict:
    """p50/p95 per query set, RSS after serving them (with the peer's server process, if it
    has one), overlap@10 with exact BM25 on the queries timed, and the top 10 of the first
    queries (kept for the results)."""
    queries = load_queries(size)
    budget = SLOW_PEER_BUDGET_S if size >= 500_000 else None
    out: dict = {}
    found: dict[str, list] = {}
    servers = peer.server_pids()
    load = measure.LoadMeter(servers)  # a server's CPU time is the peer's, not others'
    for which in ("content", "frequent"):
        found[which] = []
        out[which] = measure.time_queries(
            peer.search, queries[which], budget_s=budget, keep=found[which]
        )
    out["others_cores"] = load.others_cores()
    if servers:
        out["server_rss_mb"] = sum(measure.rss_mb(pid) for pid in servers)
    out["serving_rss_mb"] = measure.rss_mb() + out.get("server_rss_mb", 0.0)
    out["serving_rss"] = measure.rss_breakdown()
    exact = load_exact_top10(size)
    if exact is not None:
        out["overlap10"] = {w: overlap10(found[w], exact[w]) for w in found}
    out["first_top10"] = [list(map(int, peer.search(q))) for q in queries["content"][:3]]
    return out


def overlap10(found: list[list[int]], exact: list) -> float | None:
    """The mean share of exact BM25's top 10 that a peer's top 10 holds, over the queries
    it answered; a passage tied with exact BM25's 10th counts as one of its top 10."""
    shares = []
    for got, (top, tied) in zip(found, exact, strict=False):
        if top:
            hits = len({int(i) for i in got} & (set(top) | set(tied)))
            shares.append(min(hits, len(top)) / len(top))
    return float(np.mean(shares)) if shares else None


def time_engine_rank(peer, size: int) -> dict:
    """index.retrieval.search.rank: what the engine calls (top-20 pool + coverage re-ordering)."""
    from index.retrieval.search import rank

    queries = load_queries(size)
    out = {}
    for which in ("content", "frequent"):
        out[which] = measure.time_queries(
            lambda q: rank(peer.postings, [[t] for t in q], 10), queries[which]
        )
    return out


def parity_top10(peer, size: int, gen_dir: Path) -> dict:
    """shirabe's top 10 against rank_bm25's at full size (5 queries per set at 1M, since
    rank_bm25 takes seconds a query there; 20 per set otherwise). Equal means the same
    passages in the same order, or, where ids differ, equal scores (a tie)."""
    from index.storage.generation import GenerationFiles

    postings = GenerationFiles(gen_dir).load_postings()
    queries = load_queries(size)
    n = 5 if size >= 500_000 else 20
    checked = equal = ties = 0
    for which in ("content", "frequent"):
        for q in queries[which][:n]:
            theirs = peer.scores(q)
            ref = [i for i in top_indices(theirs) if theirs[i] > 0]
            ours = postings.top_k([[t] for t in q], 10)
            ids = [i for i, _ in ours]
            checked += 1
            if ids == ref:
                equal += 1
            elif len(ids) == len(ref) and np.allclose(
                [s for _, s in ours], theirs[ref], rtol=0, atol=1e-6
            ):
                equal += 1
                ties += 1
    return {"checked": checked, "equal": equal, "equal_by_tied_scores": ties}


def w_parity(size: int, sample: int = 10_000) -> dict:
    """Every passage's score on a 10,000-passage sample: shirabe's Postings.get_scores
    against rank_bm25's get_scores, for every query of both sets."""
    from rank_bm25 import BM25Okapi

    from index.retrieval.bm25 import build_postings

    tokens = load_tokens(size)
    rng = np.random.default_rng(11)
    pick = np.sort(rng.choice(tokens.n, min(sample, tokens.n), replace=False))
    parts = [tokens.flat[tokens.offsets[i] : tokens.offsets[i + 1]] for i in pick]
    flat = np.concatenate(parts).astype(np.int32)
    offsets = np.zeros(len(parts) + 1, dtype=np.int64)
    np.cumsum([len(p) for p in parts], out=offsets[1:])
    sub = Tokens(flat, offsets, tokens.vocabulary_size)
    ours = build_postings(flat, offsets, tokens.vocabulary_size)
    reference = BM25Okapi(sub.lists())
    queries = load_queries(size)
    worst = 0.0
    compared = 0
    for q in queries["content"] + queries["frequent"]:
        a = ours.get_scores(q)
        b = np.asarray(reference.get_scores([f"t{t}" for t in q]))
        worst = max(worst, float(np.max(np.abs(a - b))))
        compared += 1
    return {"passages": len(pick), "queries": compared, "max_abs_diff": worst}


# ---- the engine ------------------------------------------------------------------------


def w_incremental(corpus: str, db: str, file: str, word: str) -> dict:
    """Append a paragraph to one file of a served index; time until a question about it is
    answered from the new generation (engine.reindex swaps it in)."""

    async def go() -> dict:
        async with await open_engine(corpus, db) as engine:
            before = engine.generation.number
            path = Path(corpus) / file
            text = (f"{word}は新しい段落です。{word}の調べは速いです。" * 4).strip()
            t0 = time.perf_counter()
            with open(path, "a", encoding="utf-8") as fh:
                fh.write("\n" + text + "\n")
            report = await engine.reindex()
            t1 = time.perf_counter()
            answer = await engine.ask(f"{word}は?", 3)
            t2 = time.perf_counter()
            hit = answer.hits[0].citation.doc if answer.hits else None
            return {
                "seconds": t2 - t0,
                "reindex_s": t1 - t0,
                "ask_ms": (t2 - t1) * 1000,
                "generation": [before, engine.generation.number],
                "answered": hit == file,
                "changed": report.changed,
                "unchanged": report.unchanged,
            }

    return asyncio.run(go())


def w_cold(corpus: str, db: str, questions: list[str]) -> dict:
    """Open the index and answer the first question, in a process that has not imported
    shirabe; then the slowest of the next few questions, which shows any initialization
    deferred past the first question (it is a cold-start cost all the same)."""
    t0 = time.perf_counter()
    import index.engine  # noqa: F401 - the import is part of a cold start

    async def go() -> dict:
        t1 = time.perf_counter()
        async with await open_engine(corpus, db) as engine:
            t2 = time.perf_counter()
            answer = await engine.ask(questions[0], CLI_K)
            t3 = time.perf_counter()
            later = []
            for q in questions[1:]:
                t = time.perf_counter()
                await engine.ask(q, CLI_K)
                later.append(time.perf_counter() - t)
        return {
            "import_s": t1 - t0,
            "open_s": t2 - t1,
            "first_ask_s": t3 - t2,
            "open_and_ask_s": t3 - t1,
            "hits": len(answer.hits),
            "next_asks": len(later),
            "slowest_next_ask_s": max(later, default=0.0),
        }

    return asyncio.run(go())


def w_engine(corpus: str, db: str, questions: list[str]) -> dict:
    """engine.ask on every question (after 10 warm-ups), then the resident memory."""

    async def go() -> dict:
        async with await open_engine(corpus, db) as engine:
            for q in questions[:10]:
                await engine.ask(q, CLI_K)
            samples = []
            for q in questions:
                t0 = time.perf_counter_ns()
                await engine.ask(q, CLI_K)
                samples.append(time.perf_counter_ns() - t0)
            postings = engine.generation.postings
            half = len(questions) // 2
            return {
                "ask_ms": {
                    "content": measure.percentiles(samples[:half]),
                    "frequent": measure.percentiles(samples[half:]),
                },
                "rss_mb": measure.rss_mb(),
                "rss": measure.rss_breakdown(),
                "postings": postings.postings_count,
                "passages": postings.n,
                "vocabulary": postings.vocabulary_size,
            }

    return asyncio.run(go())
