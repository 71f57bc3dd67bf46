"""Timing and memory: per-query latencies, and builds run in child processes.

Every build runs in its own child process so each one's peak memory is its own: the parent
samples the resident memory of the child *and all its descendants* (shirabe's build spawns
tokenizing workers) from /proc, and the child reports its own ru_maxrss as well. Results come
back as one JSON line on the child's stdout.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PAGE = os.sysconf("SC_PAGE_SIZE")
ROOT = Path(__file__).resolve().parent.parent  # repository root: children run from here


def percentiles(samples_ns: Sequence[int]) -> dict[str, float]:
    """p50/p95/max in milliseconds (numpy's linear interpolation), and the count."""
    if not samples_ns:
        return {"n": 0, "p50": float("nan"), "p95": float("nan"), "max": float("nan")}
    ms = np.asarray(samples_ns, dtype=np.float64) / 1e6
    return {
        "n": len(ms),
        "p50": float(np.percentile(ms, 50)),
        "p95": float(np.percentile(ms, 95)),
        "max": float(ms.max()),
    }


def time_queries(
    search: Callable[[list[int]], object],
    queries: list[list[int]],
    warmup: int = 10,
    budget_s: float | None = None,
    keep: list | None = None,
) -> dict[str, float]:
    """Latency of `search` per query (perf_counter_ns), after `warmup` untimed queries.

    With `budget_s`, stops early once that much time is spent (a slow peer at 1M), and the
    count in the result says how many queries were timed. With `keep`, each timed query's
    result is appended to it (after its time is taken).
    """
    for q in queries[:warmup]:
        search(q)
    samples: list[int] = []
    started = time.perf_counter()
    for q in queries:
        t0 = time.perf_counter_ns()
        found = search(q)
        samples.append(time.perf_counter_ns() - t0)
        if keep is not None:
            keep.append(found)
        if budget_s is not None and time.perf_counter() - started > budget_s:
            break
    return percentiles(samples)


def read_through(files: list[Path], chunk: int = 8 << 20) -> dict[str, float]:
    """Read `files` once (into the page cache, not into this process's memory); MB and s."""
    started = time.perf_counter()
    total = 0
    buffer = bytearray(chunk)
    for path in files:
        with open(path, "rb", buffering=0) as fh:
            while n := fh.readinto(buffer):
                total += n
    return {"mb": total / 1e6, "s": time.perf_counter() - started}


def rss_mb(pid: int | str = "self") -> float:
    """Current resident set size of a process, in MB."""
    try:
        with open(f"/proc/{pid}/statm") as fh:
            return int(fh.read().split()[1]) * PAGE / 1e6
    except (OSError, IndexError, ValueError):
        return 0.0


def maxrss_mb() -> float:
    """This process's peak resident set size so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6


def rss_breakdown() -> dict[str, float]:
    """RssAnon / RssFile of this process in MB: mapped index files count as RssFile, which
    the kernel can drop under pressure, unlike the heap."""
    out: dict[str, float] = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(("RssAnon", "RssFile", "VmRSS")):
                key, value = line.split(":")
                out[key] = int(value.split()[0]) * 1024 / 1e6
    return out


def _descendants(root: int) -> list[int]:
    """root and every process below it, found through /proc/<pid>/stat's ppid field."""
    parent_of: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        parent_of[int(entry)] = int(fields[1])
    tree = {root}
    grew = True
    while grew:
        grew = False
        for pid, ppid in parent_of.items():
            if ppid in tree and pid not in tree:
                tree.add(pid)
                grew = True
    return sorted(tree)


@dataclass
class ChildResult:
    """A child's JSON result, wall time, the peak RSS of its process tree, and how many
    cores other programs kept busy meanwhile (the machine may be shared: say so)."""

    result: dict
    wall_s: float
    tree_peak_mb: float
    others_cores: float


def busy_cpu_s() -> float:
    """CPU seconds the whole machine has spent busy (not idle or waiting) since boot."""
    with open("/proc/stat") as fh:
        fields = [int(x) for x in fh.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def own_cpu_s() -> float:
    """CPU seconds of this process and every child (and grandchild) it has waited for."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def pid_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a running process has used, from /proc/<pid>/stat."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            stat = fh.read()
    except OSError:
        return 0.0
    fields = stat[stat.rfind(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class LoadMeter:
    """Cores kept busy by other programs over an interval: machine busy time minus ours
    (this process, the children it has waited for, and the running processes `pids` that
    work for it, such as a peer's server)."""

    def __init__(self, pids: Sequence[int] = ()) -> None:
        self.pids = list(pids)
        self.t0 = time.perf_counter()
        self.busy0 = busy_cpu_s()
        self.own0 = self.own_cpu_s()

    def own_cpu_s(self) -> float:
        return own_cpu_s() + sum(pid_cpu_s(pid) for pid in self.pids)

    def others_cores(self) -> float:
        wall = time.perf_counter() - self.t0
        others = (busy_cpu_s() - self.busy0) - (self.own_cpu_s() - self.own0)
        return max(0.0, others / wall) if wall > 0 else 0.0


def run_child(
    args: list[str], timeout: float | None = None, env: dict | None = None, stdin: str | None = None
) -> ChildResult:
    """Run `python -m bench --worker ...args` and sample its tree's memory every 0.1 s."""
    cmd = [sys.executable, "-m", "bench", "--worker", *args]
    load = LoadMeter()
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stdin=subprocess.PIPE if stdin else None,
        text=True,
        env={**os.environ, **(env or {})},
    )
    peak = [0.0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            total = sum(rss_mb(pid) for pid in _descendants(proc.pid))
            peak[0] = max(peak[0], total)
            done.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        out, _ = proc.communicate(stdin, timeout=timeout)
    finally:
        done.set()
        sampler.join()
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:2])} failed with exit code {proc.returncode}")
    lines = [line for line in out.splitlines() if line.startswith("{")]
    return ChildResult(json.loads(lines[-1]), wall, peak[0], load.others_cores())


def emit(result: dict) -> None:
    """A child's way to hand its result to run_child (the last JSON line on stdout)."""
    print(json.dumps(result), flush=True)


_TAGGER = None


def fugashi_lemmas(path: str) -> int:
    """Bare fugashi: the lemma of every node of one file, paragraph by paragraph (keeping
    MeCab's inputs small, as shirabe does); returns the characters read. Runs in a worker
    process, so it lives in an importable module."""
    global _TAGGER
    if _TAGGER is None:
        import fugashi

        _TAGGER = fugashi.Tagger()
    text = Path(path).read_text(encoding="utf-8")
    for para in text.split("\n\n"):
        for word in _TAGGER(para):
            word.feature.lemma  # noqa: B018 - the work being measured
    return len(text)
