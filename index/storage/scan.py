"""The change scan of a build: which corpus files are new, changed, removed or unreadable."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from index.models import Document, ReindexReport
from index.storage import ingest
from index.storage.queries import LiveDocument

BATCH_CHARS = 500_000  # characters of documents handed to a tokenizing worker at once

Progress = Callable[..., None]  # (done, total, unit, passages=None) for progress bars
Live = dict[str, LiveDocument]  # path -> the live document's id, sha256, size and mtime


class ChangeScan:
    """Compares the corpus with the live documents and reads what changed.

    A file whose size and mtime are those recorded with its indexed bytes is not read again
    (at ten thousand files, hashing them all took most of a one-file rebuild); any other file
    is read and compared by sha256. Skipped files go into the report's warnings; a skipped
    file that was indexed before keeps its previous version (it is not counted as removed)."""

    def __init__(self, report: ReindexReport, progress: Progress, live: Live) -> None:
        self.report = report
        self.progress = progress
        self.live = live
        self.unchanged: list[ingest.CorpusFile] = []  # the files whose sha256 is the same
        self.restamped: list[tuple[int, int | None, float]] = []  # (id, size, mtime) to record

    def changed(self, files: list[ingest.CorpusFile]) -> list[tuple[ingest.CorpusFile, int]]:
        """(file, size) of the files that are new or changed. Runs in a worker thread:
        reading and hashing a large corpus would otherwise hold up the event loop of a bot
        answering questions during /reindex (hashlib and file reads release the GIL)."""
        changed: list[tuple[ingest.CorpusFile, int]] = []
        for i, file in enumerate(files):
            self.progress(i, len(files), "files checked")
            old = self.live.get(file.rel)
            if old and ingest.unchanged_since(file, old.size, old.mtime):
                self.report.unchanged += 1
                self.unchanged.append(file)
                continue
            try:
                data, stamp = ingest.read_stamped(file)
            except ingest.SkipFile as exc:
                self.skip(file.rel, str(exc))
                continue
            if old and old.sha256 == ingest.sha256_of(data):
                self.report.unchanged += 1
                self.unchanged.append(file)
                if (stamp.size, stamp.mtime) != (old.size, old.mtime):
                    self.restamped.append((old.id, stamp.size, stamp.mtime))
            else:
                changed.append((file, len(data)))
        self.progress(len(files), len(files), "files checked")
        return changed

    def removed(self, files: list[ingest.CorpusFile], unlisted: list[tuple[str, str]]) -> list:
        """Ids of live documents whose file is gone (files in folders that could not be
        listed are kept, like skipped files)."""
        for folder, reason in unlisted:
            self.skip(folder, f"folder could not be listed ({reason})")
        listed = {f.rel for f in files}
        hidden = tuple(_folder_prefix(folder) for folder, _ in unlisted)
        return [
            doc.id
            for path, doc in self.live.items()
            if path not in listed and not path.startswith(hidden)
        ]

    def metadata(self, catalog: dict) -> list[tuple[int, str, str | None, str | None]]:
        """(document id, title, url, date) of the unchanged files as the catalog and the
        title rules now say; read again, since titles come from the text. Runs in a thread."""
        out = []
        for file in self.unchanged:
            try:
                data, stamp = ingest.read_stamped(file)
                doc = ingest.make_document(file, data, stamp, catalog)
            except (ingest.SkipFile, OSError):
                continue  # it stays as it was; a later build reports it if it stays unreadable
            out.append((self.live[file.rel].id, doc.title, doc.url, doc.date))
        return out

    def skip(self, rel: str, reason: str) -> None:
        self.report.skipped += 1
        kept = " (its previous version stays indexed)" if rel in self.live else ""
        self.report.warnings.append(f"skipped {rel}: {reason}{kept}")

    def batches(self, changed, catalog: dict) -> Iterator[list[Document]]:
        """Decoded documents in batches of about BATCH_CHARS characters."""
        batch: list[Document] = []
        size = 0
        for file, _ in changed:
            try:
                data, stamp = ingest.read_stamped(file)
                doc = ingest.make_document(file, data, stamp, catalog)
            except (ingest.SkipFile, OSError) as exc:
                self.skip(file.rel, str(exc))
                continue
            if note := ingest.invalid_bytes_note(doc):
                self.report.warnings.append(note)
            batch.append(doc)
            size += len(doc.text)
            if size >= BATCH_CHARS:
                yield batch
                batch, size = [], 0
        if batch:
            yield batch


def _folder_prefix(folder: str) -> str:
    """What the paths of documents inside `folder` (relative, "." for the root) start with."""
    return "" if folder in ("", ".") else folder + "/"
