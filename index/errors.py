"""One family of errors for everything a user can act on.

Front ends catch `ShirabeError` and print its message, which says what happened and what to
do; anything else is a bug and keeps its traceback. The engine translates the errors of the
libraries beneath it (sqlite3's, the tokenizer's) into these, so no front end needs to know
what is underneath.
"""

from __future__ import annotations


class ShirabeError(RuntimeError):
    """A problem the user can act on; the message says how."""


class IndexUnusable(ShirabeError):
    """The index database cannot be used as it is (locked, read-only, full disk, missing)."""


class IndexDamaged(IndexUnusable):
    """The file is damaged, not a SQLite database, or another program's: moving it aside and
    rebuilding is the cure (unlike a locked, read-only or full disk, which a rebuild would not
    fix and whose database must be left where it is)."""


class CorpusMissing(ShirabeError, FileNotFoundError):
    """The corpus folder does not exist."""


class EmptyCorpus(ShirabeError):
    """The corpus has no indexable text; the previous index is kept."""


class ReindexRunning(ShirabeError):
    """A reindex is already running (in this engine, or another process holds the lock)."""


class BuildFailed(ShirabeError):
    """A build could not finish (a tokenizing worker died); the previous index stays live."""


class TokenizerMissing(ShirabeError):
    """fugashi or its dictionary is absent; the message says what to install."""


class EncoderMissing(ShirabeError):
    """Re-ranking was asked for but the sentence encoder is not installed."""


class TableMissing(ShirabeError):
    """The English->Japanese table that ships with the package is missing."""
