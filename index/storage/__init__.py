"""Storage: the SQLite store, a generation's files, reading the corpus and building the index."""
