"""The `--json` shape of an answer (one object per question), beside the terminal text
(bot/terminal.py) and the Discord embeds (bot/render.py): three renderings of one `Answer`."""

from __future__ import annotations

from index.models import Answer, AnswerLine, Hit


def answer_json(answer: Answer) -> dict:
    """The documented `--json` object (README, "Usage")."""
    return {
        "question": answer.question,
        "query_terms": answer.query_terms,
        "translations": answer.translations,
        "verdict": answer.verdict,
        "reason": answer.reason,
        "answer": _line(answer.answer),
        "hits": [_hit(h) for h in answer.hits],
        "declined": answer.declined,
        "best_coverage": _round(answer.best_coverage, 4),
        "best_similarity": _round(answer.best_similarity, 4),
        "qtype": answer.qtype,
        "answer_support": _round(answer.answer_support, 4),
        "answer_found": answer.answer_found,
        "best_sentence_similarity": _round(answer.best_sentence_similarity, 4),
        "problem": answer.problem,
        "took_ms": round(answer.took_ms, 3),
    }


def _hit(h: Hit) -> dict:
    return {
        "rank": h.rank,
        "score": h.score,
        "coverage": round(h.coverage, 4),
        "similarity": _round(h.similarity, 4),
        "fused": _round(h.fused, 6),
        "doc": h.citation.doc,
        "title": h.citation.title,
        "passage": h.citation.passage,
        "start": h.start,
        "end": h.end,
        "line_start": h.citation.line_start,
        "line_end": h.citation.line_end,
        "url": h.citation.url,
        "text": h.text,
        "excerpt": h.excerpt.text,
        "marks": [list(m) for m in h.excerpt.marks],
    }


def _line(line: AnswerLine | None) -> dict | None:
    if line is None:
        return None
    a, b = line.span if line.span else (0, 0)
    return {
        "rank": line.rank,
        "sentence": line.sentence,
        "start": line.start,
        "end": line.end,
        "span": list(line.span) if line.span else None,
        "text": line.sentence[a:b] if line.span else None,
    }


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)
