"""The targets table: every row of it declared once, here.

A `Target` names its row, shows its goal as text and holds the same goal as numbers
(`limits`, compared with `figures` read from results.json in `direction`), and says how the
measured cell reads. Rows with no limits are "(info)": measured, not judged. `bench.report`
renders the table from `TARGETS` in order; a per-set target gives one row per query set.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from bench.peers import PEERS

PEER_ORDER = list(PEERS)  # the tables' order: shirabe, then the peers as peers.py lists them
SETS = ("content", "frequent")

Read = Callable[[dict, str], object]  # (results, query set) -> a figure, a cell, a yes/no


@dataclass(frozen=True)
class Target:
    name: str  # "{which}" is the query set, "{size}" the run's size
    goal: str  # as the table shows it; "–" for (info) rows
    measured: Callable[[dict, str], str]  # the "measured" cell
    limits: tuple[float, ...] = ()  # the goal as numbers, one per figure
    figures: Callable[[dict, str], Sequence[float]] = lambda res, which: ()
    direction: str = "≤"  # met when every figure is ≤ (or ≥) its limit
    also: Callable[[dict, str], bool] = lambda res, which: True  # beyond the numbers
    shown: Callable[[dict, str], bool] = lambda res, which: True  # measured in this run
    per_set: bool = False

    def rows(self, res: dict) -> list[tuple[str, str, str, bool | None]]:
        """(name, goal, measured, met) for each row this target has in these results."""
        out = []
        for which in SETS if self.per_set else ("",):
            if self.shown(res, which):
                name = self.name.format(which=which, size=f"{res['size']:,}")
                out.append((name, self.goal, self.measured(res, which), self.met(res, which)))
        return out

    def met(self, res: dict, which: str) -> bool | None:
        if not self.limits:
            return None
        compare = operator.le if self.direction == "≤" else operator.ge
        figures = self.figures(res, which)
        return all(map(compare, figures, self.limits)) and bool(self.also(res, which))


def fmt(x: float | None, digits: int = 2) -> str:
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return "–"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.{digits}f}"


# ---- what the rows read ----------------------------------------------------------------


def shirabe(res: dict) -> dict:
    return res["peers"].get("shirabe", {})


def faster_peers(res: dict, which: str) -> list[str]:
    """Peers at least as fast as shirabe at p50 or p95 on a set, with the quantiles."""
    peers, t = res["peers"], shirabe(res)[which]
    return [
        f"{n} ({', '.join(q for q in ('p50', 'p95') if peers[n][which][q] <= t[q])})"
        for n in PEER_ORDER
        if n != "shirabe"
        and which in peers.get(n, {})
        and min(peers[n][which]["p50"] - t["p50"], peers[n][which]["p95"] - t["p95"]) <= 0
    ]


def retrieval(res: dict, which: str) -> str:
    t, faster = shirabe(res)[which], faster_peers(res, which)
    return f"{fmt(t['p50'], 3)} / {fmt(t['p95'], 3)} ms; " + (
        "faster than every peer" if not faster else "not faster than " + ", ".join(faster)
    )


def speedup(res: dict, which: str) -> tuple[float, float]:
    """rank_bm25's p50 and p95 over shirabe's."""
    theirs, ours = res["peers"]["rank_bm25"][which], shirabe(res)[which]
    return theirs["p50"] / ours["p50"], theirs["p95"] / ours["p95"]


def cli_batch(res: dict, which: str) -> str:
    cli = res["engine"]["cli_batch"]
    return (
        f"took_ms p95 {fmt(cli['took_ms_all']['p95'])} ms "
        f"(content {fmt(cli['took_ms']['content']['p95'])}, "
        f"frequent {fmt(cli['took_ms']['frequent']['p95'])}); wall per line p95 "
        f"{fmt(cli['wall_ms_all']['p95'])} ms"
    )


def throughput(res: dict, which: str) -> str:
    b, fugashi = res["build"], res["fugashi"]
    return (
        f"{b['chars_per_s']:,.0f} vs {fugashi['chars_per_s']:,.0f} chars/s = "
        f"{b['throughput_ratio']:.0%} (build {fmt(b['seconds'])} s"
        + (
            f", CPU: main process {fmt(b['main_cpu_s'])} s, tokenizing workers "
            f"{fmt(b['workers_cpu_s'])} s"
            if "main_cpu_s" in b
            else ""
        )
        + cpu_ratio(b, fugashi)
        + "; fugashi, the faster of runs before and after the build: "
        + " / ".join(f"{x:,.0f}" for x in fugashi.get("runs_chars_per_s", []))
        + " chars/s"
        + (
            f" on the first {fugashi['files']:,} of {fugashi['of_files']:,} files"
            if fugashi.get("files", 0) < fugashi.get("of_files", 0)
            else ""
        )
        + ")"
    )


def cpu_ratio(build: dict, fugashi: dict) -> str:
    """Characters per CPU-second, build against fugashi: unlike the wall-clock ratio, it does
    not move with other programs' load (the wall-clock one is the target)."""
    if "main_cpu_s" not in build or "cpu_s" not in fugashi:
        return ""
    build_cpu = build["main_cpu_s"] + build["workers_cpu_s"]
    ours = build["chars_per_s"] * build["seconds"] / build_cpu
    theirs = fugashi["chars"] / fugashi["cpu_s"]  # a rate: fugashi may have read a sample
    return f"; per CPU-second {ours:,.0f} vs {theirs:,.0f} chars = {ours / theirs:.0%}"


def cold_start(res: dict, which: str) -> str:
    cold = res["engine"]["cold"]
    return (
        f"open {fmt(cold['open_s'])} s + ask {fmt(cold['first_ask_s'])} s (in process, "
        f"after {fmt(cold['import_s'])} s of imports; slowest of the next "
        f"{cold.get('next_asks', 0)} questions {fmt(cold.get('slowest_next_ask_s'))} s); "
        f"whole CLI process {fmt(cold['cli_wall_s'])} s"
    )


def changed_file(res: dict, which: str) -> str:
    inc = res["engine"]["incremental"]
    return (
        f"{fmt(inc['seconds'])} s (reindex {fmt(inc['reindex_s'])} s, answered from it: "
        f"{inc['answered']})"
    )


def serving(res: dict, which: str) -> str:
    srv = res["engine"]["serving"]
    return (
        f"{srv['rss_mb']:,.0f} MB = {srv['rss_mb'] * 1e6 / srv['postings']:.1f} B/posting "
        f"(anon {srv['rss'].get('RssAnon', 0):,.0f} MB, "
        f"file-backed {srv['rss'].get('RssFile', 0):,.0f} MB)"
    )


def parity_sample(res: dict, which: str) -> str:
    par = res["parity_sample"]
    return (
        f"max |Δ| {par['max_abs_diff']:.1e} over {par['passages']:,} passages × "
        f"{par['queries']} queries"
    )


def top10(res: dict) -> dict:
    return res["peers"].get("rank_bm25", {}).get("parity_top10") or {}


def parity_top10(res: dict, which: str) -> str:
    top = top10(res)
    return (
        f"{top['equal']}/{top['checked']} queries equal"
        f" ({top['equal_by_tied_scores']} by tied scores)"
    )


def both_sets(timings: dict, digits: int = 2) -> str:
    """`content p50 / p95 ms, frequent p50 / p95 ms` of {set: percentiles}."""
    c, f = timings["content"], timings["frequent"]
    return (
        f"content {fmt(c['p50'], digits)} / {fmt(c['p95'], digits)} ms, frequent "
        f"{fmt(f['p50'], digits)} / {fmt(f['p95'], digits)} ms"
    )


def reranked(res: dict) -> dict:
    """The re-ranking measurements (bench/rerank.py): {} when not run, or skipped."""
    return res.get("engine", {}).get("rerank") or {}


def rerank_ran(res: dict, which: str) -> bool:
    """Measured as now: builds encode nothing, questions encode and cache passage vectors."""
    return "build" in reranked(res)


def rerank_rebuilt(res: dict, which: str) -> bool:
    """The second, re-ranking-capable build was run (it is not above a million passages)."""
    return rerank_ran(res, which) and "seconds" in reranked(res)["build"]


def rerank_legacy(res: dict, which: str) -> bool:
    """Measured when builds encoded every passage (results.json of earlier runs)."""
    return "vectors" in reranked(res)


def rerank_build_ratio(res: dict) -> float:
    return reranked(res)["build"]["seconds"] / res["build"]["seconds"]


def rerank_build(res: dict, which: str) -> str:
    b = reranked(res)["build"]
    return (
        f"{fmt(b['seconds'])} s vs {fmt(res['build']['seconds'])} s = "
        f"{rerank_build_ratio(res):.2f}× (a second build from scratch, run as `shirabe index "
        "--rerank` runs it: builds encode nothing)"
    )


def unseen(res: dict) -> dict:
    """The first asks none of whose head passages an earlier question had met (all first
    asks when there were none)."""
    s = reranked(res)["serving"]
    return s["unseen_fresh_ms"] if s["unseen_fresh_ms"]["n"] else s["unseen_ms"]


def rerank_unseen(res: dict, which: str) -> str:
    s = reranked(res)["serving"]
    fresh, every = s["unseen_fresh_ms"], s["unseen_ms"]
    return (
        f"{fmt(unseen(res)['p50'])} / {fmt(unseen(res)['p95'])} ms p50 / p95 on the "
        f"{fresh['n']} questions whose 10 head passages were all new (every first ask: "
        f"{fmt(every['p50'])} / {fmt(every['p95'])} ms, "
        f"{s['passages_encoded_per_question']:.1f} passages encoded a question), each also "
        "encoding the question and its 3 shown passages' sentences"
    )


def rerank_cached(res: dict, which: str) -> str:
    s = reranked(res)["serving"]
    c, r, q = s["cached_ms"], s["restarted_ms"], s["question_encode_ms"]
    return (
        f"{fmt(c['p50'])} / {fmt(c['p95'])} ms p50 / p95, the same {c['n']} questions again "
        f"(after a restart, read from the database: {fmt(r['p50'])} / {fmt(r['p95'])} ms); "
        f"of which the question's own encoding {fmt(q['p50'])} / {fmt(q['p95'])} ms"
    )


def rerank_cold(res: dict, which: str) -> str:
    s = reranked(res)["serving"]
    return (
        f"open {fmt(s['open_s'])} s + ask {fmt(s['first_ask_s'])} s (the encoder loads on the "
        f"first question)"
    )


def rerank_memory(res: dict, which: str) -> str:
    s = reranked(res)["serving"]
    return (
        f"{s['rss_mb']:,.0f} MB (anon {s['rss'].get('RssAnon', 0):,.0f} MB, file-backed "
        f"{s['rss'].get('RssFile', 0):,.0f} MB) after {s['questions'] * 2:,} re-ranked "
        "questions, the vectors they encoded cached in memory"
    )


def legacy_latency(res: dict, which: str) -> str:
    s = reranked(res)["serving"]
    return both_sets(s["ask_ms"]) + (
        " (question encoded, 10 candidates re-scored, the 3 shown passages' sentences encoded "
        f"for the decline rule; {s['declined']} of {s['questions']} declined)"
    )


def legacy_memory(res: dict, which: str) -> str:
    v, s = reranked(res)["vectors"], reranked(res)["serving"]
    return (
        f"{s['rss_mb']:,.0f} MB (anon {s['rss'].get('RssAnon', 0):,.0f} MB, file-backed "
        f"{s['rss'].get('RssFile', 0):,.0f} MB); vector file {v['vector_file_mb']:,.0f} MB "
        f"({v['passages']:,} × {v['dim']} float16, memory-mapped)"
    )


def legacy_encoding(res: dict, which: str) -> str:
    v = reranked(res)["vectors"]
    return (
        f"{v['passages_per_s']:,.0f} passages/s on a {v['sample']:,}-passage sample → "
        f"{v['extrapolated_encode_s'] / 60:,.1f} min for all {v['passages']:,} "
        f"(extrapolated; not run at this size)"
    )


# ---- the table -------------------------------------------------------------------------

TEN_MILLION = 5_000_000  # from this size on, the ten-million-passage goals apply


def huge(res: dict) -> bool:
    return res["size"] >= TEN_MILLION


TARGETS = [
    Target(
        "retrieval top-10, {which} set",
        "≤ 1 ms / ≤ 3 ms, faster than each peer",
        retrieval,
        limits=(1, 3),
        figures=lambda res, which: (shirabe(res)[which]["p50"], shirabe(res)[which]["p95"]),
        also=lambda res, which: not faster_peers(res, which),
        shown=lambda res, which: which in shirabe(res) and not huge(res),
        per_set=True,
    ),
    Target(
        "retrieval top-10, {which} set",
        "p95 ≤ 10 ms, faster than each peer",
        retrieval,
        limits=(10,),
        figures=lambda res, which: (shirabe(res)[which]["p95"],),
        also=lambda res, which: not faster_peers(res, which),
        shown=lambda res, which: which in shirabe(res) and huge(res),
        per_set=True,
    ),
    Target(
        "speed-up over rank_bm25, {which}",
        "≥ 300× at p50 and p95",
        lambda res, which: "{:,.0f}× / {:,.0f}×".format(*speedup(res, which)),
        limits=(300, 300),
        figures=speedup,
        direction="≥",
        shown=lambda res, which: (
            which in shirabe(res) and which in res["peers"].get("rank_bm25", {})
        ),
        per_set=True,
    ),
    Target(
        "`shirabe ask --json` batch, p95",
        "≤ 10 ms",
        cli_batch,
        limits=(10,),
        figures=lambda res, which: (res["engine"]["cli_batch"]["wall_ms_all"]["p95"],),
    ),
    Target(
        "build throughput vs bare fugashi (2 processes)",
        "≥ 80 %",
        throughput,
        limits=(0.8,),
        figures=lambda res, which: (res["build"]["throughput_ratio"],),
        direction="≥",
    ),
    Target(
        "build peak memory (process tree)",
        "≤ 4 GB",
        lambda res, which: (
            f"{res['build']['tree_peak_mb']:,.0f} MB "
            f"(main process maxrss {res['build']['maxrss_mb']:,.0f} MB)"
        ),
        limits=(4000,),
        figures=lambda res, which: (res["build"]["tree_peak_mb"],),
    ),
    Target(
        "one changed file → new generation answering",
        "≤ 15 s",
        changed_file,
        limits=(15,),
        figures=lambda res, which: (res["engine"]["incremental"]["seconds"],),
        also=lambda res, which: res["engine"]["incremental"]["answered"],
    ),
    Target(
        "cold start: open + first answer",
        "≤ 2 s",
        cold_start,
        limits=(2,),
        figures=lambda res, which: (res["engine"]["cold"]["open_and_ask_s"],),
    ),
    Target(
        "resident memory while serving",
        "≤ 1 GB",
        serving,
        limits=(1000,),
        figures=lambda res, which: (res["engine"]["serving"]["rss_mb"],),
        shown=lambda res, which: not huge(res),
    ),
    Target(
        "resident memory while serving",
        "≤ 2 GB (memory-mapped)",
        serving,
        limits=(2000,),
        figures=lambda res, which: (res["engine"]["serving"]["rss_mb"],),
        shown=lambda res, which: huge(res),
    ),
    Target(
        "scores = rank_bm25's on a 10,000-passage sample",
        "≤ 1e-6",
        parity_sample,
        limits=(1e-6,),
        figures=lambda res, which: (res["parity_sample"]["max_abs_diff"],),
    ),
    Target(
        "top-10 = rank_bm25's at {size}",
        "equal",
        parity_top10,
        limits=(0,),
        figures=lambda res, which: (top10(res)["checked"] - top10(res)["equal"],),  # unequal
        shown=lambda res, which: bool(top10(res)),
    ),
    Target(
        "(info) engine.ask in process, p50 / p95",
        "–",
        lambda res, which: both_sets(res["engine"]["serving"]["ask_ms"]),
    ),
    Target(
        "(info) index.retrieval.search.rank (top_k pool 20 + coverage), p50 / p95",
        "–",
        lambda res, which: both_sets(shirabe(res)["rank_ms"], 3),
        shown=lambda res, which: "rank_ms" in shirabe(res),
    ),
    Target(
        "(info) re-ranking on",
        "–",
        lambda res, which: f"not measured: {reranked(res)['skipped']}",
        shown=lambda res, which: "skipped" in reranked(res),
    ),
    Target(
        "re-ranking on: build from scratch, vs the plain build",
        "≤ 1.5×",
        rerank_build,
        limits=(1.5,),
        figures=lambda res, which: (rerank_build_ratio(res),),
        shown=rerank_rebuilt,
    ),
    Target(
        "(info) re-ranking on: build from scratch",
        "–",
        lambda res, which: f"not measured: {reranked(res)['build']['skipped']}",
        shown=lambda res, which: rerank_ran(res, which) and not rerank_rebuilt(res, which),
    ),
    Target(
        "re-ranking on: engine.ask p95, passages never seen before",
        "≤ 100 ms",
        rerank_unseen,
        limits=(100,),
        figures=lambda res, which: (unseen(res)["p95"],),
        shown=rerank_ran,
    ),
    Target(
        "re-ranking on: engine.ask p95, their vectors cached",
        "≤ 15 ms",
        rerank_cached,
        limits=(15,),
        figures=lambda res, which: (reranked(res)["serving"]["cached_ms"]["p95"],),
        shown=rerank_ran,
    ),
    Target(
        "(info) re-ranking on: engine.ask p50 / p95",
        "–",
        legacy_latency,
        shown=rerank_legacy,
    ),
    Target(
        "(info) re-ranking on: cold start, open + first answer",
        "–",
        rerank_cold,
        shown=lambda res, which: rerank_ran(res, which) or rerank_legacy(res, which),
    ),
    Target(
        "(info) re-ranking on: resident memory while serving", "–", rerank_memory, shown=rerank_ran
    ),
    Target(
        "(info) re-ranking on: resident memory while serving",
        "–",
        legacy_memory,
        shown=rerank_legacy,
    ),
    Target(
        "(info) re-ranking on: encoding the passage vectors",
        "–",
        legacy_encoding,
        shown=rerank_legacy,
    ),
]
