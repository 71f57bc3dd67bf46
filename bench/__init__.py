"""The scale benchmark: shirabe against rank_bm25, rank-bm25-rs, bm25s, SQLite FTS5 and
tantivy on one generated corpus, every peer fed shirabe's own tokens. Run it with
`python -m bench --size N` (see bench/README.md); it is not part of the test suite."""
