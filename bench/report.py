"""Markdown from results.json: one section per size (header, peer table, targets table), and
bench/RESULTS.md from every results.json present (`python -m bench --record`).

Rendering reads only the results, so a run recorded by an older bench renders the same way.
"""

from __future__ import annotations

import json
from pathlib import Path

from bench.corpus import OUT
from bench.targets import PEER_ORDER, TARGETS, fmt

RESULTS_MD = Path(__file__).resolve().parent / "RESULTS.md"


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
        f"{res['fugashi'].get('others_cores', 0):.2f})." + not_run(res)
    )


def not_run(res: dict) -> str:
    """The peers this run left out (`--peers`), so "faster than every peer" is read right."""
    missing = [name for name in PEER_ORDER if name not in res["peers"]]
    if not missing:
        return ""
    why = res.get("peers_note") or "not asked for in this run's --peers"
    return f" Peers not run at this size: {', '.join(missing)} ({why})."


def render_peers(res: dict) -> str:
    """One row per peer: build, memory, latency per set, and peer / shirabe ratios."""
    peers = res["peers"]
    rows = [
        "| peer | build s | build peak MB | serving RSS MB (B/posting), server process MB | "
        "content p50 / p95 ms | frequent p50 / p95 ms | peer ÷ shirabe: content p50 / p95 "
        "| frequent p50 / p95 | overlap@10 with exact BM25: content / frequent "
        "| others' load while timed (cores) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in PEER_ORDER:
        p = peers.get(name)
        if p is None:
            continue
        if "skipped" in p or "error" in p:
            rows.append(f"| {name} | {p.get('skipped') or p.get('error')} |||||||||")
            continue
        rows.append("| " + " | ".join(peer_cells(res, name, p)) + " |")
    return "\n".join(rows)


def peer_cells(res: dict, name: str, p: dict) -> list[str]:
    base = res["peers"].get("shirabe", {})
    rss = p.get("serving_rss_mb")
    per = rss * 1e6 / res["postings"] if rss else None
    cells = [
        p.get("label", name) + ("" if p.get("exact") else " ≈"),
        fmt(p["build_s"]),
        fmt(p.get("tree_peak_mb"), 0),
        f"{fmt(rss, 0)} ({fmt(per, 1)})"
        + (f", server {fmt(p['server_rss_mb'], 0)}" if "server_rss_mb" in p else ""),
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
    overlap = p.get("overlap10", {})
    cells.append(" / ".join(percent(overlap.get(which)) for which in ("content", "frequent")))
    rounds = p.get("rounds_others_cores", [])
    cells.append(
        fmt(p.get("others_cores"))
        + (f" (rounds: {', '.join(fmt(x) for x in rounds)})" if len(rounds) > 1 else "")
    )
    return cells


def percent(share: float | None) -> str:
    return "–" if share is None else f"{share:.0%}"


def ratio(peer: float, ours: float) -> str:
    return f"{peer / ours:,.1f}×" if ours and ours == ours else "–"


def render_targets(res: dict) -> str:
    """The issue's targets table, measured (bench/targets.py declares the rows)."""
    rows = ["| target | goal | measured | met |", "|---|---|---|---|"]
    for target in TARGETS:
        for name, goal, measured, ok in target.rows(res):
            met = "–" if ok is None else ("yes" if ok else "**no**")
            rows.append(f"| {name} | {goal} | {measured} | {met} |")
    return "\n".join(rows)


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
        "variants), so their top 10 can differ; ratios are peer time ÷ shirabe time; "
        "overlap@10 is the share of exact BM25's top 10 a peer returns (ties counted).",
        "",
        f"Machine: {m['nproc']} cores ({m['cpu']}), {m['mem_gb']} GB RAM; Python "
        f"{m['python']}, SQLite {m['sqlite']}; "
        + ", ".join(f"{k} {v}" for k, v in m["versions"].items() if v)
        + ".",
        "Commands (from the repository root, after `pip install -e '.[bench]'` and "
        "`sh bench/setup_groonga.sh`): " + "; ".join(f"`{c}`" for c in commands),
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
