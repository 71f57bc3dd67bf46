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

This module is the orchestration; the children's tasks are in bench/workers.py, the
rendering in bench/report.py, the targets table in bench/targets.py.
"""

from __future__ import annotations

import argparse
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

from bench import measure, rerank
from bench.corpus import VOCABULARY, ensure_corpus, fidelity, vocabulary
from bench.inputs import export_tokens, load_queries, make_queries, run_dir, save_exact_top10
from bench.peers import ALIASES, PEERS, available
from bench.report import record, render
from bench.targets import PEER_ORDER
from bench.workers import CLI_K, cli_bm25_only, worker
from index.storage.generation import generations_dir

ROOT = measure.ROOT
COLD_QUESTIONS = 10  # the first answered cold, the others show deferred initialization


def run(size: int, n_queries: int, peers: list[str], rounds: int = 2, note: str = "") -> dict:
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
        "peers_note": note,
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
    tokens, files = export_tokens(db, rdir)
    res["postings"] = files.load_postings().postings_count
    res["passages"] = tokens.n
    res["query_sets"] = make_queries(tokens, n_queries, rdir, files)
    save_exact_top10(files, rdir)  # the reference of every peer's overlap@10
    res["peers"] = run_peers(size, peers, files.directory, rounds)
    step("parity on a 10,000-passage sample")
    res["parity_sample"] = measure.run_child(["parity", jarg(size=size)]).result
    res["engine"] = engine_targets(info, db)
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


def run_peers(size: int, names: list[str], gen_dir: Path, rounds: int) -> dict:
    """Build each peer in a child; in-memory peers are timed there, persistent ones are then
    served from fresh children, `rounds` times in turn, keeping each one's round with the
    least load from other programs (the machine may be shared; a round timed while someone
    else's build runs says little about the library). shirabe is served from the live
    generation `gen_dir`."""
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


def engine_targets(info, db: Path) -> dict:
    """The targets measured on the whole engine rather than on the postings alone."""
    queries = load_queries(info.size)
    texts = queries["content_text"] + queries["frequent_text"]
    half = len(queries["content_text"])
    out: dict = {}
    step("one changed file: reindex until answered")
    out["incremental"] = changed_file(info, db)
    step("cold start")
    first = texts[: COLD_QUESTIONS // 2] + texts[half : half + COLD_QUESTIONS // 2]
    child = measure.run_child(
        ["cold", jarg(corpus=str(info.directory), db=str(db), questions=first)]
    )
    out["cold"] = {**child.result, "process_wall_s": child.wall_s}
    out["cold"]["cli_wall_s"] = cli_once(info.directory, db, texts[1])
    # Like the peers' serving rounds: a bot that has been up a while has its postings in the
    # page cache (the database, ~15 GB at 10M, is left to what the questions read).
    step("the index's postings read once through the page cache")
    files = [p for p in generations_dir(db).rglob("*") if p.is_file()]
    out["page_cache_warm"] = measure.read_through(files)
    step("serving memory and engine.ask latency")
    child = measure.run_child(
        ["engine", jarg(corpus=str(info.directory), db=str(db), questions=texts)]
    )
    out["serving"] = child.result
    step("shirabe ask --json, batch mode")
    out["cli_batch"] = cli_batch(info.directory, db, texts)
    step("re-ranking on: a build as `shirabe index --rerank` runs it; engine.ask unseen, cached")
    out["rerank"] = rerank.measure_rerank(info.directory, db, texts, info.size)
    return out


def changed_file(info, db: Path) -> dict:
    """A paragraph appended to the middle file, reindexed and answered; the file is put
    back afterwards (the corpus is reused by the next run)."""
    files = sorted(info.directory.glob("*.txt"))
    target = files[len(files) // 2]
    original = target.read_bytes()
    try:
        args = jarg(
            corpus=str(info.directory), db=str(db), file=target.name, word=info.fresh_words[0]
        )
        return measure.run_child(["incremental", args]).result
    finally:
        target.write_bytes(original)


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


# ---- what the run was measured on ------------------------------------------------------


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
    out["groonga"] = groonga_version()
    return out


def groonga_version() -> str | None:
    """The `groonga` command's version, None when it is not installed."""
    try:
        line = subprocess.run(
            ["groonga", "--version"], capture_output=True, text=True, timeout=30
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    words = line.split()
    return words[1] if len(words) > 1 and words[0] == "Groonga" else None


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


# ---- entry point -----------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--size", type=int, action="append", help="passages (repeatable; default 10000)"
    )
    parser.add_argument("--queries", type=int, default=200, help="queries per set")
    parser.add_argument(
        "--peers",
        default=",".join(PEER_ORDER),
        help="comma-separated peers to run (default: all; `groonga` is both Groonga rows)",
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
    parser.add_argument(
        "--peers-note", default="", help="why peers were left out (printed with the results)"
    )
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(*args.worker)
        return 0
    peers = list(dict.fromkeys(q for p in args.peers.split(",") if p for q in ALIASES.get(p, [p])))
    unknown = set(peers) - set(PEERS)
    if unknown:
        parser.error(f"unknown peers: {', '.join(sorted(unknown))}")
    if args.record and not args.size:  # only re-render RESULTS.md from the results present
        record("python -m bench --record")
        return 0
    for size in args.size or [10_000]:
        res = run(size, args.queries, peers, args.rounds, args.peers_note)
        print(render(res), flush=True)
    if args.record:
        record("python -m bench " + " ".join(sys.argv[1:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
