"""What the steps share: the run directory, the index's live generation, and the tokens and
queries exported from it for the peers' children.

Everything about shirabe's index goes through `index.storage` (the statements in
`index.storage.queries`, the files through `GenerationFiles`), so bench spells no SQL and no
generation file name. The bench is synchronous; `read_index` runs one read of the async
store from it. `index` is imported inside the functions: a child timing a cold start must
not have imported more of shirabe than it did before.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from bench.corpus import OUT, PARTICLES
from bench.peers import K, Tokens, top_indices

if TYPE_CHECKING:
    import aiosqlite

    from index.storage.generation import GenerationFiles

T = TypeVar("T")
TOP_FREQUENT = 20


def run_dir(size: int) -> Path:
    return OUT / f"run-{size}"


def read_index(db: Path, read: Callable[[aiosqlite.Connection], Awaitable[T]]) -> T:
    """`read(connection)` on the index at `db` (opened as the engine opens it), from
    synchronous code."""
    from index.storage import store

    async def go() -> T:
        conn = await store.connect(Path(db), create=False)
        try:
            return await read(conn)
        finally:
            await conn.close()

    return asyncio.run(go())


def live_files(db: Path) -> GenerationFiles:
    """The files of the generation the index at `db` answers from."""
    from index.storage import queries
    from index.storage.generation import GenerationFiles

    number = read_index(db, queries.live_generation)
    if number is None:
        raise RuntimeError(f"{db} has no index generation yet")
    return GenerationFiles.of(Path(db), number)


def export_tokens(db: Path, rdir: Path) -> tuple[Tokens, GenerationFiles]:
    """Each live passage's term ids in the generation's passage order, saved for the peers'
    children: the exact tokens shirabe indexed (the rows its build inverts)."""
    from index.storage import queries

    async def read(conn) -> tuple[list[bytes], dict[str, int]]:
        blobs = [b async for chunk in queries.live_term_blobs(conn, 100_000) for b in chunk]
        return blobs, await queries.vocabulary(conn)

    files = live_files(db)
    ids = files.load_postings().passage_ids
    blobs, vocabulary = read_index(db, read)
    if len(blobs) != len(ids):
        raise RuntimeError(f"{len(blobs)} live passages in {db}, {len(ids)} in {files}")
    lengths = np.fromiter((len(b) // 4 for b in blobs), dtype=np.int64, count=len(blobs))
    offsets = np.zeros(len(blobs) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    flat = np.frombuffer(b"".join(blobs), dtype=np.int32)
    del blobs
    terms = sorted(vocabulary, key=vocabulary.__getitem__)  # by id
    np.savez(rdir / "tokens.npz", flat=flat, offsets=offsets, vocabulary_size=len(terms))
    (rdir / "terms.json").write_text(json.dumps(terms, ensure_ascii=False))
    return Tokens(flat, offsets, len(terms)), files


def load_tokens(size: int) -> Tokens:
    data = np.load(run_dir(size) / "tokens.npz")
    return Tokens(data["flat"], data["offsets"], int(data["vocabulary_size"]))


def load_queries(size: int) -> dict:
    return json.loads((run_dir(size) / "queries.json").read_text())


def save_exact_top10(files: GenerationFiles, rdir: Path, atol: float = 1e-9) -> None:
    """Exact BM25's top 10 for every query, the reference of each peer's overlap@10: dense
    scores from shirabe's postings (equal to rank_bm25's, see the parity rows); per query
    the 10 best passages with a positive score, and the other passages whose score ties the
    10th (any of them may take the last places)."""
    postings = files.load_postings()
    queries = json.loads((rdir / "queries.json").read_text())
    exact: dict[str, list] = {}
    for which in ("content", "frequent"):
        exact[which] = []
        for q in queries[which]:
            scores = postings.get_scores(q)
            top = [i for i in top_indices(scores) if scores[i] > 0]
            tied: list[int] = []
            if len(top) == K:
                ties = np.flatnonzero(np.abs(scores - scores[top[-1]]) <= atol).tolist()
                tied = sorted(set(ties) - set(top))
            exact[which].append([top, tied])
    (rdir / "exact_top10.json").write_text(json.dumps(exact))


def load_exact_top10(size: int) -> dict | None:
    path = run_dir(size) / "exact_top10.json"
    return json.loads(path.read_text()) if path.exists() else None


def make_queries(tokens: Tokens, n: int, rdir: Path, files: GenerationFiles) -> dict:
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
    df = files.load_postings().dfs
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
