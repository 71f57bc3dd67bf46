"""Rendering answers and build progress for a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from bot.texts import searched_parts
from index.models import Answer, ReindexReport

BOLD, RESET = "\033[1m", "\033[22m"
UNDERLINE, NO_UNDERLINE = "\033[4m", "\033[24m"


def searched_line(answer: Answer) -> str:
    """ "searched: 議長 (chairs), csto" -- what the question was turned into."""
    shown = searched_parts(answer)
    return "searched: " + (", ".join(shown) if shown else "(no searchable words)")


def render_answer(answer: Answer, color: bool = False) -> str:
    """Readable text with numbered excerpts, matched terms marked, and citations."""
    if answer.problem:
        return answer.problem
    lines = [searched_line(answer)]
    if not answer.hits:
        lines.append(f"Nothing relevant found ({answer.declined}).")
        return "\n".join(lines)
    left, right = (BOLD, RESET) if color else ("【", "】")
    answer_left, answer_right = (UNDERLINE, NO_UNDERLINE) if color else ("《", "》")
    if answer.answer is not None:
        lines.append("")
        sentence = answer.answer.marked(answer_left, answer_right)
        lines.append(f"Answer: {' '.join(sentence.split())}  [{answer.answer.rank}]")
    elif answer.verdict == "related":
        lines.append("")
        lines.append(f"No passage states this directly ({answer.reason}); the closest passages:")
    for hit in answer.hits:
        lines.append("")
        excerpt = hit.excerpt.marked(left, right, answer_left, answer_right)
        lines.append(f"{hit.rank}. {excerpt}")
        # The number shown is the one the order is by (fused), not plain BM25.
        order = hit.fused if hit.fused is not None else hit.score
        lines.append(f"   — {hit.citation.label()}  [order {order:.3f}, bm25 {hit.score:.3f}]")
        if hit.citation.url:
            lines.append(f"   {hit.citation.url}")
    return "\n".join(lines)


def render_report(report: ReindexReport) -> str:
    if report.kept_previous:
        return f"Index not replaced: {report.kept_previous}"
    lines = [
        f"Indexed generation {report.generation}: {report.documents} documents, "
        f"{report.passages} passages in {report.seconds:.2f} s",
        f"  files added {report.added}, changed {report.changed}, removed {report.removed}, "
        f"skipped {report.skipped}, unchanged {report.unchanged}",
    ]
    if report.retitled:
        lines.append(f"  titles, links or dates updated from the catalog: {report.retitled}")
    lines.extend(f"  warning: {w}" for w in report.warnings)
    return "\n".join(lines)


class ProgressBar:
    """A one-line progress bar with rate and ETA, drawn only on a terminal."""

    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self.stream = stream
        self.enabled = stream.isatty()
        self.started = time.perf_counter()
        self.last_draw = 0.0
        self.unit = ""
        self.finished = False

    def __call__(self, done: int, total: int, unit: str, passages: int | None = None) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if unit != self.unit:
            self.unit, self.started, self.finished = unit, now, False
        if self.finished or (now - self.last_draw < 0.1 and done < total):
            return
        self.finished = done >= total
        self.last_draw = now
        elapsed = max(now - self.started, 0.05)
        rate = done / elapsed
        eta = (total - done) / rate if rate > 0 else 0.0
        width = 30
        filled = int(width * done / total) if total else width
        counts = f"{done:,}/{total:,} {unit}"
        if passages is not None:
            counts += f", {passages:,} passages ({passages / elapsed:,.0f}/s)"
        else:
            counts += f" ({rate:,.0f}/s)"
        self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {counts} ETA {eta:4.0f}s ")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()
