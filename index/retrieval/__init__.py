"""Retrieval: BM25 over postings, ranking and excerpts, the optional sentence encoder."""
