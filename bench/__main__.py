"""`python -m bench --size 100000`: shirabe against its peers on one generated corpus.

Steps, each build in its own child process (separate peak memory):
  1. generate (or reuse) the corpus of --size passages;
  2. build shirabe's index through the real build path (`index.storage.build.build_index`), and time
     bare fugashi lemma tokenizing of the same text on 2 processes;
  3. read shirabe's tokens back and build every peer on them;
  4. time the same queries (a "content" set and a "frequent" set) on each, and check parity;
  5. the engine-level targets: one-changed-file rebuild, cold start, serving memory, and
     `shirabe ask --json` in batch mode;
  6. the same engine with semantic re-ranking on (bench/rerank.py).
It prints one table per size and writes bench/out/run-<size>/results.json; `--record`
rewrites bench/RESULTS.md from every results.json present.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import inspect
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from bench import measure, rerank
from bench.corpus import OUT, PARTICLES, VOCABULARY, ensure_corpus, fidelity, vocabulary
from bench.peers import PEERS, Tokens, available, top_indices

ROOT = measure.ROOT
RESULTS_MD = Path(__file__).resolve().parent / "RESULTS.md"
TOP_FREQUENT = 20
SLOW_PEER_BUDGET_S = 90.0  # per query set, for peers that take ~1 s a query at 1M
CLI_K = 3  # `shirabe ask`'s default
COLD_QUESTIONS = 10  # the first answered cold, the others show deferred initialization


# ---- the orchestrator ------------------------------------------------------------------


def run_dir(size: int) -> Path:
    return OUT / f"run-{size}"


def run(size: int, n_queries: int, peers: list[str], rounds: int = 2) -> dict:
    """Everything for one size; returns the results (also written to results.json)."""
    started = time.perf_counter()
    load = measure.LoadMeter()
    rdir = run_dir(size)
    rdir.mkdir(parents=True, exist_ok=True)
    res: dict = {
        "size": size,
        "queries": n_queries,
        "machine": machine(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "shirabe_commit": git_commit(),
        "command": "python -m bench " + " ".join(sys.argv[1:]),
    }
    step("corpus")
    info = ensure_corpus(size)
    words = vocabulary()[:VOCABULARY]
    res["corpus"] = {
        "files": info.files,
        "chars": info.chars,
        "vocabulary": info.vocabulary,
        **fidelity(info.directory, words),
    }
    db = rdir / "db" / "shirabe.db"
    step("bare fugashi, 2 processes (before the build)")
    before = bare_fugashi(info.directory)
    step("shirabe build (real build path)")
    res["build"] = build_shirabe(info.directory, db)
    step("bare fugashi, 2 processes (after the build)")
    after = bare_fugashi(info.directory)
    # The faster of the two is the ceiling: the machine may be shared, and a run slowed by
    # someone else's load would flatter shirabe's ratio.
    res["fugashi"] = max(before, after, key=lambda r: r["chars_per_s"])
    res["fugashi"]["runs_chars_per_s"] = [before["chars_per_s"], after["chars_per_s"]]
    res["build"]["throughput_ratio"] = res["build"]["chars_per_s"] / res["fugashi"]["chars_per_s"]
    step("export tokens and queries")
    tokens, gen_dir = export_tokens(db, rdir)
    res["postings"] = int(np.load(gen_dir / "docs.npy", mmap_mode="r").shape[0])
    res["passages"] = tokens.n
    res["query_sets"] = make_queries(tokens, n_queries, rdir, gen_dir)
    res["peers"] = run_peers(size, peers, gen_dir, rounds)
    step("parity on a 10,000-passage sample")
    res["parity_sample"] = measure.run_child(["parity", jarg(size=size)]).result
    res["engine"] = engine_targets(info, db, rdir)
    res["total_s"] = time.perf_counter() - started
    res["others_cores"] = load.others_cores()
    res["shirabe_commit_end"] = git_commit()
    (rdir / "results.json").write_text(json.dumps(res, indent=1, ensure_ascii=False))
    return res


def step(what: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {what}", file=sys.stderr, flush=True)


def jarg(**kwargs) -> str:
    return json.dumps(kwargs)


def bare_fugashi(corpus: Path) -> dict:
    child = measure.run_child(["fugashi", jarg(corpus=str(corpus))])
    return {**child.result, "others_cores": child.others_cores}


def build_shirabe(corpus: Path, db: Path) -> dict:
    """A from-scratch build in a child; tree peak includes its tokenizing processes."""
    shutil.rmtree(db.parent, ignore_errors=True)
    child = measure.run_child(["build", jarg(corpus=str(corpus), db=str(db))])
    out = dict(child.result)
    out["tree_peak_mb"] = child.tree_peak_mb
    out["wall_s"] = child.wall_s
    out["others_cores"] = child.others_cores
    return out


def export_tokens(db: Path, rdir: Path) -> tuple[Tokens, Path]:
    """Each live passage's term ids in the generation's order (passage_ids.npy), saved for
    the peers' children: the exact tokens shirabe indexed."""
    from index.storage import store

    con = sqlite3.connect(db)
    gen = int(con.execute("SELECT value FROM meta WHERE key='generation'").fetchone()[0])
    gen_dir = store.generation_dir(db, gen)
    ids = np.load(gen_dir / "passage_ids.npy")
    blobs = dict(con.execute("SELECT id, terms FROM passages"))
    vocabulary_size = con.execute("SELECT COUNT(*) FROM terms").fetchone()[0]
    terms = [t for (t,) in con.execute("SELECT term FROM terms ORDER BY id")]
    con.close()
    ordered = [blobs[int(i)] for i in ids]
    del blobs
    lengths = np.fromiter((len(b) // 4 for b in ordered), dtype=np.int64, count=len(ordered))
    offsets = np.zeros(len(ordered) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    flat = np.frombuffer(b"".join(ordered), dtype=np.int32)
    np.savez(rdir / "tokens.npz", flat=flat, offsets=offsets, vocabulary_size=vocabulary_size)
    (rdir / "terms.json").write_text(json.dumps(terms, ensure_ascii=False))
    return Tokens(flat, offsets, vocabulary_size), gen_dir


def load_tokens(size: int) -> Tokens:
    data = np.load(run_dir(size) / "tokens.npz")
    return Tokens(data["flat"], data["offsets"], int(data["vocabulary_size"]))


def load_queries(size: int) -> dict:
    return json.loads((run_dir(size) / "queries.json").read_text())


def make_queries(tokens: Tokens, n: int, rdir: Path, gen_dir: Path) -> dict:
    """n "content" queries of 2–5 distinct terms of one passage (never one of the 20 most
    frequent terms), and the same n with 1–2 of those 20 added ("frequent"); also each
    query as question text for the engine and the CLI (terms joined by particles)."""
    rng = np.random.default_rng(7)
    freq = np.bincount(tokens.flat, minlength=tokens.vocabulary_size)
    top = [int(t) for t in np.argsort(-freq, kind="stable")[:TOP_FREQUENT]]
    top_set = set(top)
    content: list[list[int]] = []
    while len(content) < n:
        i = int(rng.integers(tokens.n))
        terms = list(
            dict.fromkeys(
                int(t)
                for t in tokens.flat[tokens.offsets[i] : tokens.offsets[i + 1]]
                if int(t) not in top_set
            )
        )
        if len(terms) < 2:
            continue
        k = min(int(rng.integers(2, 6)), len(terms))
        content.append([terms[j] for j in sorted(rng.choice(len(terms), k, replace=False))])
    frequent = []
    for q in content:
        extra = rng.choice(top, int(rng.integers(1, 3)), replace=False)
        frequent.append(q + [int(t) for t in extra])
    names = json.loads((rdir / "terms.json").read_text())
    df = np.diff(np.load(gen_dir / "offsets.npy"))
    queries = {
        "content": content,
        "frequent": frequent,
        "content_text": [question(q, names) for q in content],
        "frequent_text": [question(q, names) for q in frequent],
        "top_terms": [{"term": names[t], "df": int(df[t])} for t in top[:5]],
    }
    (rdir / "queries.json").write_text(json.dumps(queries, ensure_ascii=False))
    return {
        "n": n,
        "top_terms": queries["top_terms"],
        "mean_df_top20": float(np.mean([df[t] for t in top])) / tokens.n,
    }


def question(q: list[int], names: list[str]) -> str:
    """Terms as a Japanese-looking question: AのBをCで…は?"""
    parts = [names[t] + PARTICLES[(i + 4) % len(PARTICLES)] for i, t in enumerate(q[:-1])]
    return "".join(parts) + names[q[-1]] + "は?"


def run_peers(size: int, names: list[str], gen_dir: Path, rounds: int) -> dict:
    """Build each peer in a child; in-memory peers are timed there, persistent ones are then
    served from fresh children, `rounds` times in turn, keeping each one's round with the
    least load from other programs (the machine may be shared; a round timed while someone
    else's build runs says little about the library)."""
    results: dict = {}
    for name in names:
        why = available(name)
        if why:
            results[name] = {"skipped": why}
            step(f"{name}: skipped, {why}")
            continue
        step(f"{name}: build")
        try:
            args = jarg(
                name=name, size=size, serve=not PEERS[name].persistent, gen_dir=str(gen_dir)
            )
            child = measure.run_child(["peer", args])
            results[name] = {
                **child.result,
                "tree_peak_mb": child.tree_peak_mb,
                "others_cores_build": child.others_cores,
            }
        except Exception as exc:  # a broken peer must not sink the whole run
            results[name] = {"error": str(exc)}
            step(f"{name}: failed: {exc}")
    persistent = [n for n in names if PEERS[n].persistent and "build_s" in results.get(n, {})]
    for r in range(rounds):
        for name in persistent:
            step(f"{name}: serve, round {r + 1} of {rounds}")
            serve_dir = gen_dir if name == "shirabe" else run_dir(size) / "peers" / name
            try:
                served = measure.run_child(
                    ["serve", jarg(name=name, size=size, dir=str(serve_dir))]
                ).result
            except Exception as exc:
                step(f"{name}: serving failed: {exc}")
                continue
            out = results[name]
            out.setdefault("rounds_others_cores", []).append(served["others_cores"])
            if "others_cores" not in out or served["others_cores"] < out["others_cores"]:
                out.update(served)
    return results


def engine_targets(info, db: Path, rdir: Path) -> dict:
    """The targets measured on the whole engine rather than on the postings alone."""
    queries = load_queries(info.size)
    texts = queries["content_text"] + queries["frequent_text"]
    half = len(queries["content_text"])
    out: dict = {}
    step("one changed file: reindex until answered")
    target = sorted(info.directory.glob("*.txt"))[len(list(info.directory.glob("*.txt"))) // 2]
    original = target.read_bytes()
    try:
        out["incremental"] = measure.run_child(
            [
                "incremental",
                jarg(
                    corpus=str(info.directory),
                    db=str(db),
                    file=target.name,
                    word=info.fresh_words[0],
                ),
            ]
        ).result
    finally:
        target.write_bytes(original)
    step("cold start")
    first = texts[: COLD_QUESTIONS // 2] + texts[half : half + COLD_QUESTIONS // 2]
    child = measure.run_child(
        ["cold", jarg(corpus=str(info.directory), db=str(db), questions=first)]
    )
    out["cold"] = {**child.result, "process_wall_s": child.wall_s}
    out["cold"]["cli_wall_s"] = cli_once(info.directory, db, texts[1])
    step("serving memory and engine.ask latency")
    child = measure.run_child(
        ["engine", jarg(corpus=str(info.directory), db=str(db), questions=texts)]
    )
    out["serving"] = child.result
    step("shirabe ask --json, batch mode")
    out["cli_batch"] = cli_batch(info.directory, db, texts)
    step("re-ranking on: encoder throughput, then latency and memory on vectors of the real shape")
    out["rerank"] = rerank.measure_rerank(info.directory, db, texts)
    return out


def cli_command(corpus: Path, db: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "bot.cli",
        "ask",
        "--json",
        "--corpus",
        str(corpus),
        "--db",
        str(db),
        "-k",
        str(CLI_K),
        *cli_bm25_only(),
    ]


def cli_once(corpus: Path, db: Path, text: str) -> float:
    """Wall seconds of a whole `shirabe ask --json QUESTION` process."""
    t0 = time.perf_counter()
    subprocess.run(cli_command(corpus, db) + [text], cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - t0


def cli_batch(corpus: Path, db: Path, texts: list[str], warmup: int = 5) -> dict:
    """One `shirabe ask --json` process reading questions on stdin, one at a time: its own
    took_ms per answer, and the wall time from writing a line to reading its JSON line."""
    proc = subprocess.Popen(
        cli_command(corpus, db),
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        bufsize=1,
    )
    took: dict[str, list[float]] = {"content": [], "frequent": []}
    wall: dict[str, list[int]] = {"content": [], "frequent": []}
    half = len(texts) // 2
    try:
        for i, text in enumerate(texts[:warmup] + texts):
            t0 = time.perf_counter_ns()
            proc.stdin.write(text + "\n")
            proc.stdin.flush()
            line = proc.stdout.readline()
            elapsed = time.perf_counter_ns() - t0
            if i < warmup:
                continue
            which = "content" if i - warmup < half else "frequent"
            took[which].append(json.loads(line)["took_ms"] * 1e6)
            wall[which].append(elapsed)
    finally:
        proc.stdin.close()
        proc.wait(timeout=60)
    return {
        "took_ms": {k: measure.percentiles(v) for k, v in took.items()},
        "wall_ms": {k: measure.percentiles(v) for k, v in wall.items()},
        "took_ms_all": measure.percentiles(took["content"] + took["frequent"]),
        "wall_ms_all": measure.percentiles(wall["content"] + wall["frequent"]),
    }


def machine() -> dict:
    cpu = ""
    with open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as fh:
        mem_kb = int(fh.readline().split()[1])
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "mem_gb": round(mem_kb / 1024**2, 1),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "versions": versions(),
    }


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in (
        "numpy",
        "fugashi",
        "unidic-lite",
        "rank-bm25",
        "rank-bm25-rs",
        "bm25s",
        "numba",
        "tantivy",
    ):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out


def git_commit() -> str:
    """HEAD, the last commit that touched index/retrieval/bm25.py, and whether index/ is dirty."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()

    dirty = " (index/ has uncommitted changes)" if git("status", "--porcelain", "index") else ""
    return (
        f"HEAD {git('rev-parse', '--short', 'HEAD')}, index/retrieval/bm25.py at "
        f"{git('log', '-1', '--format=%h', '--', 'index/retrieval/bm25.py')}{dirty}"
    )


# ---- workers: run in child processes through measure.run_child ------------------------


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
        "vectors": rerank.w_vectors,
        "rerank": rerank.w_rerank,
    }
    measure.emit(handlers[task](**args))


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


def bm25_only(func, name: str) -> dict:
    """{name: False} when `func` takes that keyword: the targets are for BM25, so passage
    vectors (built by default for corpora ≤ 50,000 passages) and semantic re-ranking are
    off at every size, keeping sizes comparable."""
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


def chars_exact(corpus: str) -> int:
    return sum(len(p.read_text(encoding="utf-8")) for p in Path(corpus).glob("*.txt"))


def w_fugashi(corpus: str) -> dict:
    """Bare fugashi lemma tokenizing of the same files on 2 processes: the ceiling for
    shirabe's build throughput."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    files = [str(p) for p in sorted(Path(corpus).glob("*.txt"))]
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
    }


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
    """Open a persistent peer's index in a fresh process, then time the queries."""
    peer = PEERS[name]()
    t0 = time.perf_counter()
    peer.open(Path(dir))
    out = {"open_s": time.perf_counter() - t0}
    out.update(serve_queries(peer, size))
    if name == "shirabe":
        out["rank_ms"] = time_engine_rank(peer, size)
    return out


def serve_queries(peer, size: int) -> dict:
    """p50/p95 per query set, RSS after serving them, and the top 10 of the first queries
    (kept for the results: a quick cross-peer overlap check)."""
    queries = load_queries(size)
    budget = SLOW_PEER_BUDGET_S if size >= 500_000 else None
    out: dict = {}
    load = measure.LoadMeter()
    for which in ("content", "frequent"):
        out[which] = measure.time_queries(peer.search, queries[which], budget_s=budget)
    out["others_cores"] = load.others_cores()
    out["serving_rss_mb"] = measure.rss_mb()
    out["serving_rss"] = measure.rss_breakdown()
    out["first_top10"] = [list(map(int, peer.search(q))) for q in queries["content"][:3]]
    return out


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
    from index.retrieval.bm25 import load_postings

    postings = load_postings(gen_dir)
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


def w_incremental(corpus: str, db: str, file: str, word: str) -> dict:
    """Append a paragraph to one file of a served index; time until a question about it is
    answered from the new generation (engine.reindex swaps it in)."""

    async def go() -> dict:
        engine = await open_engine(corpus, db)
        try:
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
        finally:
            await engine.close()

    return asyncio.run(go())


def w_cold(corpus: str, db: str, questions: list[str]) -> dict:
    """Open the index and answer the first question, in a process that has not imported
    shirabe; then the slowest of the next few questions, which shows any initialization
    deferred past the first question (it is a cold-start cost all the same)."""
    t0 = time.perf_counter()
    import index.engine  # noqa: F401 - the import is part of a cold start

    async def go() -> dict:
        t1 = time.perf_counter()
        engine = await open_engine(corpus, db)
        t2 = time.perf_counter()
        answer = await engine.ask(questions[0], CLI_K)
        t3 = time.perf_counter()
        later = []
        for q in questions[1:]:
            t = time.perf_counter()
            await engine.ask(q, CLI_K)
            later.append(time.perf_counter() - t)
        await engine.close()
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
        engine = await open_engine(corpus, db)
        try:
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
                "postings": len(postings.docs),
                "passages": postings.n,
                "vocabulary": postings.vocabulary_size,
            }
        finally:
            await engine.close()

    return asyncio.run(go())


# ---- reporting -------------------------------------------------------------------------


PEER_ORDER = ["shirabe", "rank_bm25", "rank_bm25_rs", "bm25s", "fts5", "tantivy"]


def fmt(x: float | None, digits: int = 2) -> str:
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return "–"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.{digits}f}"


def render(res: dict) -> str:
    """Markdown: the retrieval table, then the targets table."""
    return "\n".join([render_header(res), "", render_peers(res), "", render_targets(res)])


def render_header(res: dict) -> str:
    c = res["corpus"]
    top = ", ".join(
        f"{t['term']} (df {t['df'] / res['passages']:.0%})" for t in res["query_sets"]["top_terms"]
    )
    return (
        f"### {res['size']:,} passages\n\n"
        f"{res['passages']:,} passages in {c['files']} files, {c['chars']:,} characters, "
        f"{res['postings']:,} postings, vocabulary {c['vocabulary']:,} generated types; "
        f"text tokenizes back to the intended words: {c['tokens_recovered']:.1%} of tokens, "
        f"{c['passages_exact']:.0%} of passages exactly. {res['query_sets']['n']} queries "
        f"per set; most frequent terms: {top}. Run took {res['total_s'] / 60:.1f} min; "
        f"shirabe at the start: {res['shirabe_commit']}"
        + (
            f"; at the end: {res['shirabe_commit_end']}"
            if res.get("shirabe_commit_end", res["shirabe_commit"]) != res["shirabe_commit"]
            else ""
        )
        + f". Other programs on the machine kept "
        f"{res.get('others_cores', 0):.2f} of its {res['machine']['nproc']} cores busy "
        f"on average during the run (shirabe build: "
        f"{res['build'].get('others_cores', 0):.2f}, bare fugashi: "
        f"{res['fugashi'].get('others_cores', 0):.2f})."
    )


def render_peers(res: dict) -> str:
    """One row per peer: build, memory, latency per set, and peer / shirabe ratios."""
    peers = res["peers"]
    base = peers.get("shirabe", {})
    rows = [
        "| peer | build s | build peak MB | serving RSS MB (B/posting) | "
        "content p50 / p95 ms | frequent p50 / p95 ms | peer ÷ shirabe: content p50 / p95 "
        "| frequent p50 / p95 | others' load while timed (cores) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in PEER_ORDER:
        p = peers.get(name)
        if p is None:
            continue
        if "skipped" in p or "error" in p:
            rows.append(f"| {name} | {p.get('skipped') or p.get('error')} ||||||||")
            continue
        rss = p.get("serving_rss_mb")
        per = rss * 1e6 / res["postings"] if rss else None
        cells = [
            p.get("label", name) + ("" if p.get("exact") else " ≈"),
            fmt(p["build_s"]),
            fmt(p.get("tree_peak_mb"), 0),
            f"{fmt(rss, 0)} ({fmt(per, 1)})",
        ]
        for which in ("content", "frequent"):
            t = p[which]
            sampled = f" (n={t['n']})" if t["n"] < res["queries"] else ""
            cells.append(f"{fmt(t['p50'], 3)} / {fmt(t['p95'], 3)}{sampled}")
        for which in ("content", "frequent"):
            if name == "shirabe" or which not in base:
                cells.append("–")
                continue
            cells.append(
                f"{ratio(p[which]['p50'], base[which]['p50'])} / "
                f"{ratio(p[which]['p95'], base[which]['p95'])}"
            )
        rounds = p.get("rounds_others_cores", [])
        cells.append(
            fmt(p.get("others_cores"))
            + (f" (rounds: {', '.join(fmt(x) for x in rounds)})" if len(rounds) > 1 else "")
        )
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def ratio(peer: float, ours: float) -> str:
    return f"{peer / ours:,.1f}×" if ours and ours == ours else "–"


def render_targets(res: dict) -> str:
    """The issue's targets table, measured."""
    peers = res["peers"]
    sh = peers.get("shirabe", {})
    eng = res["engine"]
    b = res["build"]
    rows = ["| target | goal | measured | met |", "|---|---|---|---|"]

    def row(name: str, goal: str, measured: str, ok: bool | None) -> None:
        rows.append(
            f"| {name} | {goal} | {measured} | "
            f"{'–' if ok is None else ('yes' if ok else '**no**')} |"
        )

    for which in ("content", "frequent"):
        if which in sh:
            t = sh[which]
            faster = [
                f"{n} ({', '.join(q for q in ('p50', 'p95') if peers[n][which][q] <= t[q])})"
                for n in PEER_ORDER
                if n != "shirabe"
                and which in peers.get(n, {})
                and min(peers[n][which]["p50"] - t["p50"], peers[n][which]["p95"] - t["p95"]) <= 0
            ]
            row(
                f"retrieval top-10, {which} set",
                "≤ 1 ms / ≤ 3 ms, faster than each peer",
                f"{fmt(t['p50'], 3)} / {fmt(t['p95'], 3)} ms; "
                + (
                    "faster than every peer"
                    if not faster
                    else "not faster than " + ", ".join(faster)
                ),
                t["p50"] <= 1 and t["p95"] <= 3 and not faster,
            )
    for which in ("content", "frequent"):
        if which in sh and which in peers.get("rank_bm25", {}):
            r50 = peers["rank_bm25"][which]["p50"] / sh[which]["p50"]
            r95 = peers["rank_bm25"][which]["p95"] / sh[which]["p95"]
            row(
                f"speed-up over rank_bm25, {which}",
                "≥ 300× at p50 and p95",
                f"{r50:,.0f}× / {r95:,.0f}×",
                r50 >= 300 and r95 >= 300,
            )
    cli = eng["cli_batch"]
    row(
        "`shirabe ask --json` batch, p95",
        "≤ 10 ms",
        f"took_ms p95 {fmt(cli['took_ms_all']['p95'])} ms "
        f"(content {fmt(cli['took_ms']['content']['p95'])}, "
        f"frequent {fmt(cli['took_ms']['frequent']['p95'])}); wall per line p95 "
        f"{fmt(cli['wall_ms_all']['p95'])} ms",
        cli["wall_ms_all"]["p95"] <= 10,
    )
    row(
        "build throughput vs bare fugashi (2 processes)",
        "≥ 80 %",
        f"{b['chars_per_s']:,.0f} vs {res['fugashi']['chars_per_s']:,.0f} chars/s = "
        f"{b['throughput_ratio']:.0%} (build {fmt(b['seconds'])} s"
        + (
            f", CPU: main process {fmt(b['main_cpu_s'])} s, tokenizing workers "
            f"{fmt(b['workers_cpu_s'])} s"
            if "main_cpu_s" in b
            else ""
        )
        + cpu_ratio(b, res["fugashi"])
        + "; fugashi, the faster of "
        "runs before and after the build: "
        + " / ".join(f"{x:,.0f}" for x in res["fugashi"].get("runs_chars_per_s", []))
        + " chars/s)",
        b["throughput_ratio"] >= 0.8,
    )
    row(
        "build peak memory (process tree)",
        "≤ 4 GB",
        f"{b['tree_peak_mb']:,.0f} MB (main process maxrss {b['maxrss_mb']:,.0f} MB)",
        b["tree_peak_mb"] <= 4000,
    )
    inc = eng["incremental"]
    row(
        "one changed file → new generation answering",
        "≤ 15 s",
        f"{fmt(inc['seconds'])} s (reindex {fmt(inc['reindex_s'])} s, answered from it: "
        f"{inc['answered']})",
        inc["seconds"] <= 15 and inc["answered"],
    )
    cold = eng["cold"]
    row(
        "cold start: open + first answer",
        "≤ 2 s",
        f"open {fmt(cold['open_s'])} s + ask {fmt(cold['first_ask_s'])} s (in process, "
        f"after {fmt(cold['import_s'])} s of imports; slowest of the next "
        f"{cold.get('next_asks', 0)} questions {fmt(cold.get('slowest_next_ask_s'))} s); "
        f"whole CLI process {fmt(cold['cli_wall_s'])} s",
        cold["open_and_ask_s"] <= 2,
    )
    srv = eng["serving"]
    row(
        "resident memory while serving",
        "≤ 1 GB",
        f"{srv['rss_mb']:,.0f} MB = {srv['rss_mb'] * 1e6 / srv['postings']:.1f} B/posting "
        f"(anon {srv['rss'].get('RssAnon', 0):,.0f} MB, "
        f"file-backed {srv['rss'].get('RssFile', 0):,.0f} MB)",
        srv["rss_mb"] <= 1000,
    )
    par = res["parity_sample"]
    row(
        "scores = rank_bm25's on a 10,000-passage sample",
        "≤ 1e-6",
        f"max |Δ| {par['max_abs_diff']:.1e} over {par['passages']:,} passages × "
        f"{par['queries']} queries",
        par["max_abs_diff"] <= 1e-6,
    )
    top = peers.get("rank_bm25", {}).get("parity_top10")
    if top:
        row(
            f"top-10 = rank_bm25's at {res['size']:,}",
            "equal",
            f"{top['equal']}/{top['checked']} queries equal"
            f" ({top['equal_by_tied_scores']} by tied scores)",
            top["equal"] == top["checked"],
        )
    ask = srv["ask_ms"]
    row(
        "(info) engine.ask in process, p50 / p95",
        "–",
        f"content {fmt(ask['content']['p50'])} / {fmt(ask['content']['p95'])} ms, frequent "
        f"{fmt(ask['frequent']['p50'])} / {fmt(ask['frequent']['p95'])} ms",
        None,
    )
    if "rank_ms" in sh:
        rk = sh["rank_ms"]
        row(
            "(info) index.retrieval.search.rank (top_k pool 20 + coverage), p50 / p95",
            "–",
            f"content {fmt(rk['content']['p50'], 3)} / {fmt(rk['content']['p95'], 3)} ms, "
            f"frequent {fmt(rk['frequent']['p50'], 3)} / {fmt(rk['frequent']['p95'], 3)} ms",
            None,
        )
    rerank.render_rows(res, row, fmt)
    return "\n".join(rows)


def cpu_ratio(build: dict, fugashi: dict) -> str:
    """Characters per CPU-second, build against fugashi: unlike the wall-clock ratio, it does
    not move with other programs' load (the wall-clock one is the target)."""
    if "main_cpu_s" not in build or "cpu_s" not in fugashi:
        return ""
    build_cpu = build["main_cpu_s"] + build["workers_cpu_s"]
    return (
        f"; per CPU-second {build['chars_per_s'] * build['seconds'] / build_cpu:,.0f} vs "
        f"{fugashi['chars'] / fugashi['cpu_s']:,.0f} chars = "
        f"{fugashi['cpu_s'] / build_cpu:.0%}"
    )


def record(command: str) -> None:
    """Rewrite bench/RESULTS.md from every bench/out/run-*/results.json."""
    runs = sorted(
        (json.loads(p.read_text()) for p in OUT.glob("run-*/results.json")), key=lambda r: r["size"]
    )
    if not runs:
        return
    m = runs[-1]["machine"]
    commands = list(dict.fromkeys(r.get("command", command) for r in runs))
    lines = [
        "# Benchmark results",
        "",
        "Written by `python -m bench --size N --record` (see bench/README.md for what each "
        "figure means). `≈` marks peers whose BM25 is not rank_bm25's exactly (own idf "
        "variants), so their top 10 can differ; ratios are peer time ÷ shirabe time.",
        "",
        f"Machine: {m['nproc']} cores ({m['cpu']}), {m['mem_gb']} GB RAM; Python "
        f"{m['python']}, SQLite {m['sqlite']}; "
        + ", ".join(f"{k} {v}" for k, v in m["versions"].items() if v)
        + ".",
        "Commands (from the repository root, after `pip install -e '.[bench]'`): "
        + "; ".join(f"`{c}`" for c in commands),
        "",
    ]
    for r in runs:
        lines += [f"Run of {r['date']} (`{r.get('command', command)}`):", "", render(r), ""]
    notes = ""
    if RESULTS_MD.exists():  # hand-written findings below "## Notes" are kept
        old = RESULTS_MD.read_text(encoding="utf-8")
        if "\n## Notes" in old:
            notes = old[old.index("\n## Notes") + 1 :]
    RESULTS_MD.write_text("\n".join(lines) + ("\n" + notes if notes else ""), encoding="utf-8")


# ---- entry point -----------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--size", type=int, action="append", help="passages (repeatable; default 10000)"
    )
    parser.add_argument("--queries", type=int, default=200, help="queries per set")
    parser.add_argument(
        "--peers", default=",".join(PEER_ORDER), help="comma-separated peers to run (default: all)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="serving rounds per persistent peer; the least loaded is kept",
    )
    parser.add_argument(
        "--record", action="store_true", help="rewrite bench/RESULTS.md from all results present"
    )
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(*args.worker)
        return 0
    peers = [p for p in args.peers.split(",") if p]
    unknown = set(peers) - set(PEERS)
    if unknown:
        parser.error(f"unknown peers: {', '.join(sorted(unknown))}")
    if args.record and not args.size:  # only re-render RESULTS.md from the results present
        record("python -m bench --record")
        return 0
    for size in args.size or [10_000]:
        res = run(size, args.queries, peers, args.rounds)
        print(render(res), flush=True)
    if args.record:
        record("python -m bench " + " ".join(sys.argv[1:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
