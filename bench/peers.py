"""One small adapter per library a user might pick instead of shirabe, all fed the same tokens.

The tokens are shirabe's own, read back from its index (term ids per passage, in the
generation's passage order), so every peer indexes exactly the same passages with exactly
the same terms and passage i is passage i everywhere. Term id t is spelled `t<t>` for the
peers that take text (FTS5, tantivy) or strings (rank_bm25, bm25s): plain ASCII words that
every tokenizer keeps whole, unlike kana, which FTS5's unicode61 would split (Groonga's
tokenizers split letters from digits: it gets letters only, see bench/groonga.py).

Each adapter separates `prepare` (turning the arrays into the library's input, untimed) from
`build` (timed: what a user pays with pre-tokenized input), and `search` (timed: tokenized
query → the top 10 passage indices, best first).
"""

from __future__ import annotations

import gc
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench import groonga

K = 10


@dataclass
class Tokens:
    """The corpus as shirabe indexed it: terms of passage i are flat[offsets[i]:offsets[i+1]]."""

    flat: np.ndarray  # int32 term ids
    offsets: np.ndarray  # int64, n + 1
    vocabulary_size: int

    @property
    def n(self) -> int:
        return len(self.offsets) - 1

    def lists(self) -> list[list[str]]:
        """Per passage, its terms as `t<id>` strings (one shared object per term)."""
        names = [f"t{i}" for i in range(self.vocabulary_size)]
        flat = self.flat.tolist()
        bounds = self.offsets.tolist()
        return [[names[t] for t in flat[bounds[i] : bounds[i + 1]]] for i in range(self.n)]


def top_indices(scores: np.ndarray, k: int = K) -> list[int]:
    """The k best passages of a dense score array, ties broken by passage order."""
    if len(scores) > k:
        part = np.argpartition(-scores, k - 1)[:k]
    else:
        part = np.arange(len(scores))
    order = np.lexsort((part, -scores[part]))
    return [int(part[i]) for i in order]


class Peer:
    """A library under test. `persistent` peers are served from a fresh process that opens
    what `build` wrote, so their serving memory is not inflated by the build's leftovers."""

    name = ""
    label = ""
    persistent = False
    exact = False  # whether its scores are rank_bm25's (the others rank by their own BM25)

    def prepare(self, tokens: Tokens, workdir: Path) -> None:
        self.workdir = workdir

    def build(self) -> None:
        raise NotImplementedError

    def release(self) -> None:
        """Drop the build input, keeping only what serving needs."""
        gc.collect()

    def open(self, workdir: Path) -> None:
        self.workdir = workdir

    def index_files(self, workdir: Path) -> list[Path]:
        """The files `open(workdir)` serves from (read into the page cache before serving)."""
        return [p for p in workdir.rglob("*") if p.is_file()]

    def search(self, query: list[int]) -> list[int]:
        raise NotImplementedError

    def server_pids(self) -> list[int]:
        """Processes serving for this peer besides this one (their memory counts too)."""
        return []

    def close(self) -> None:
        """Stop whatever `open` started."""

    @classmethod
    def missing(cls) -> str | None:
        """Why this peer cannot run here, beyond a missing Python module (see MODULES)."""
        return None


def _names(query: list[int]) -> list[str]:
    return [f"t{t}" for t in query]


class Shirabe(Peer):
    """shirabe's own postings: build = the vectorized inversion + writing the arrays (the
    part of a build that sees tokens); search = Postings.top_k, as the engine calls it."""

    name = "shirabe"
    label = "shirabe (Postings.top_k)"
    persistent = True
    exact = True

    def prepare(self, tokens: Tokens, workdir: Path) -> None:
        super().prepare(tokens, workdir)
        self.tokens = tokens

    def build(self) -> None:
        from index.storage.publisher import build_segments

        t = self.tokens
        self.workdir.mkdir(parents=True, exist_ok=True)
        # passage i is passage i here: the passage order a generation stores is the identity
        build_segments(self.workdir, t.flat, t.offsets, t.vocabulary_size)

    def open(self, workdir: Path) -> None:
        from index.storage.generation import GenerationFiles

        self.postings = GenerationFiles(workdir).load_postings()

    def index_files(self, workdir: Path) -> list[Path]:
        # a generation's own files, and the segment files it shares with others
        return super().index_files(workdir) + super().index_files(workdir.parent / "segments")

    def search(self, query: list[int]) -> list[int]:
        return [i for i, _ in self.postings.top_k([[t] for t in query], K)]


class RankBM25(Peer):
    """rank_bm25.BM25Okapi: get_scores over every passage, then the top 10."""

    name = "rank_bm25"
    label = "rank_bm25 get_scores + top-k"
    exact = True
    module = "rank_bm25"

    def prepare(self, tokens: Tokens, workdir: Path) -> None:
        super().prepare(tokens, workdir)
        self.docs = tokens.lists()

    def build(self) -> None:
        import importlib

        self.index = importlib.import_module(self.module).BM25Okapi(self.docs)

    def release(self) -> None:
        del self.docs
        super().release()

    def scores(self, query: list[int]) -> np.ndarray:
        return np.asarray(self.index.get_scores(_names(query)))

    def search(self, query: list[int]) -> list[int]:
        return top_indices(self.scores(query))


class RankBM25RS(RankBM25):
    """rank-bm25-rs: rank_bm25's API and scores bit for bit, from a Rust core."""

    name = "rank_bm25_rs"
    label = "rank-bm25-rs get_scores + top-k"
    module = "rank_bm25_rs"


class BM25S(Peer):
    """bm25s with its numba backend (its fastest). Method "robertson" is the one closest to
    BM25Okapi, but it floors negative idf at 0 instead of ε·mean idf, and scores in float32,
    so its ranking is near rank_bm25's, not equal."""

    name = "bm25s"
    label = "bm25s (numba backend)"
    persistent = True

    def prepare(self, tokens: Tokens, workdir: Path) -> None:
        super().prepare(tokens, workdir)
        self.docs = tokens.lists()

    def build(self) -> None:
        import bm25s

        retriever = bm25s.BM25(method="robertson", k1=1.5, b=0.75, backend="numba")
        retriever.index(self.docs, show_progress=False)
        if self.workdir.exists():
            shutil.rmtree(self.workdir)
        retriever.save(str(self.workdir), show_progress=False)

    def release(self) -> None:
        del self.docs
        super().release()

    def open(self, workdir: Path) -> None:
        import bm25s

        self.retriever = bm25s.BM25.load(str(workdir), show_progress=False, verbosity=0)
        self.retriever.backend = "numba"
        self.retriever.compile(activate_numba=True, warmup=False)

    def search(self, query: list[int]) -> list[int]:
        docs, _ = self.retriever.retrieve([_names(query)], k=K, show_progress=False, n_threads=1)
        return [int(d) for d in docs[0]]


class FTS5(Peer):
    """SQLite FTS5, ranked by its bm25() function; a contentless table (rowid = passage + 1)
    since only ids are wanted back."""

    name = "fts5"
    label = "SQLite FTS5 bm25()"
    persistent = True

    def prepare(self, tokens: Tokens, workdir: Path) -> None:
        super().prepare(tokens, workdir)
        self.tokens = tokens

    def build(self) -> None:
        if self.workdir.exists():
            shutil.rmtree(self.workdir)
        self.workdir.mkdir(parents=True)
        con = sqlite3.connect(self.workdir / "fts.db")
        con.execute("PRAGMA journal_mode=OFF")
        con.execute("PRAGMA synchronous=OFF")
        con.execute("CREATE VIRTUAL TABLE f USING fts5(body, content='')")
        t = self.tokens
        flat = t.flat.tolist()
        bounds = t.offsets.tolist()
        rows = (
            (i + 1, " ".join(f"t{x}" for x in flat[bounds[i] : bounds[i + 1]])) for i in range(t.n)
        )
        with con:
            con.executemany("INSERT INTO f(rowid, body) VALUES(?, ?)", rows)
        con.execute("INSERT INTO f(f) VALUES('optimize')")
        con.commit()
        con.close()

    def open(self, workdir: Path) -> None:
        self.con = sqlite3.connect(workdir / "fts.db")

    def search(self, query: list[int]) -> list[int]:
        rows = self.con.execute(
            "SELECT rowid FROM f WHERE f MATCH ? ORDER BY bm25(f) LIMIT 10",
            (" OR ".join(_names(query)),),
        ).fetchall()
        return [r[0] - 1 for r in rows]


class Tantivy(Peer):
    """tantivy through its official Python bindings: a text field with term frequencies (no
    positions, like shirabe's postings) and the passage index as a fast field."""

    name = "tantivy"
    label = "tantivy (Rust, official bindings)"
    persistent = True

    def prepare(self, tokens: Tokens, workdir: Path) -> None:
        super().prepare(tokens, workdir)
        self.tokens = tokens

    @staticmethod
    def schema():
        import tantivy

        builder = tantivy.SchemaBuilder()
        builder.add_text_field("body", stored=False, index_option="freq")
        builder.add_unsigned_field("pid", stored=False, indexed=False, fast=True)
        return builder.build()

    def build(self) -> None:
        import tantivy

        if self.workdir.exists():
            shutil.rmtree(self.workdir)
        self.workdir.mkdir(parents=True)
        index = tantivy.Index(self.schema(), path=str(self.workdir))
        writer = index.writer(heap_size=1_000_000_000, num_threads=2)
        t = self.tokens
        flat = t.flat.tolist()
        bounds = t.offsets.tolist()
        for i in range(t.n):
            body = " ".join(f"t{x}" for x in flat[bounds[i] : bounds[i + 1]])
            doc = tantivy.Document()
            doc.add_text("body", body)
            doc.add_unsigned("pid", i)  # Document(pid=i) would make it an i64, not the u64 field
            writer.add_document(doc)
        writer.commit()
        writer.wait_merging_threads()

    def open(self, workdir: Path) -> None:
        import tantivy

        self.tantivy = tantivy
        self.index = tantivy.Index.open(str(workdir))
        self.index.reload()
        self.searcher = self.index.searcher()
        self.schema_ = self.index.schema

    def search(self, query: list[int]) -> list[int]:
        tv = self.tantivy
        q = tv.Query.boolean_query(
            [(tv.Occur.Should, tv.Query.term_query(self.schema_, "body", n)) for n in _names(query)]
        )
        hits = self.searcher.search(q, K, count=False).hits
        return self.searcher.fast_field_values("pid", [addr for _, addr in hits])


class GroongaMecab(Peer):
    """Groonga through its command line (bench/groonga.py): a table of passages, a lexicon
    with TokenMecab, ranked by Groonga's default score (term frequency: the sum of the
    query terms' occurrences in the passage); one long-lived `groonga DB` process serves."""

    name = "groonga-mecab"
    label = "Groonga TokenMecab (TF score)"
    persistent = True
    tokenizer = "TokenMecab"

    def prepare(self, tokens: Tokens, workdir: Path) -> None:
        super().prepare(tokens, workdir)
        self.commands = workdir.parent / f"{self.name}.commands.grn"  # outside what is measured
        self.letters = groonga.width(tokens.vocabulary_size)
        names = groonga.spellings(tokens.vocabulary_size)
        groonga.write_commands(self.commands, tokens.flat, tokens.offsets, names, self.tokenizer)

    def build(self) -> None:
        if self.workdir.exists():
            shutil.rmtree(self.workdir)
        self.workdir.mkdir(parents=True)
        try:
            groonga.run_commands(self.workdir / "db", self.commands)
        finally:
            self.commands.unlink(missing_ok=True)
        (self.workdir / "letters").write_text(str(self.letters))  # how serving spells terms

    def open(self, workdir: Path) -> None:
        self.letters = int((workdir / "letters").read_text())
        self.server = groonga.Server(workdir / "db")
        self.server.command("status")  # returns once the database is open

    def search(self, query: list[int]) -> list[int]:
        words = [groonga.spell(t, self.letters) for t in query]
        return groonga.ids(self.server.command(groonga.select(words)))

    def server_pids(self) -> list[int]:
        return [self.server.pid]

    def close(self) -> None:
        self.server.close()

    @classmethod
    def missing(cls) -> str | None:
        return groonga.missing(cls.tokenizer)


class GroongaBigram(GroongaMecab):
    """The same with Groonga's default tokenizer for Japanese, TokenBigram (ASCII words
    stay whole, as the terms here are)."""

    name = "groonga-bigram"
    label = "Groonga TokenBigram (TF score)"
    tokenizer = "TokenBigram"


PEERS: dict[str, type[Peer]] = {
    p.name: p
    for p in (Shirabe, RankBM25, RankBM25RS, BM25S, FTS5, Tantivy, GroongaMecab, GroongaBigram)
}
ALIASES = {"groonga": [GroongaMecab.name, GroongaBigram.name]}  # --peers groonga: both rows
MODULES = {
    "rank_bm25": "rank_bm25",
    "rank_bm25_rs": "rank_bm25_rs",
    "bm25s": "numba",
    "fts5": "sqlite3",
    "tantivy": "tantivy",
}


def available(name: str) -> str | None:
    """None when the peer can run here, else why not (a missing package, no FTS5, no
    groonga command or MeCab plugin)."""
    import importlib

    module = MODULES.get(name)
    try:
        if module is not None:
            importlib.import_module(module)
        if name == "bm25s":
            importlib.import_module("bm25s")
    except ImportError as exc:
        return f"not installed ({exc.name}); `pip install -e '.[bench]'`"
    if name == "fts5":
        try:
            sqlite3.connect(":memory:").execute("CREATE VIRTUAL TABLE x USING fts5(a)")
        except sqlite3.OperationalError:
            return "this Python's SQLite has no FTS5"
    return PEERS[name].missing()
