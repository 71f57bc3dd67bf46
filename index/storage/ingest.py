"""Reading corpus files into `Document`s: listing, decoding, titles, the optional catalog.

Corpora come from many hands: UTF-8 with or without a BOM, Shift_JIS from older Windows
tools, UTF-16 exports, and the odd binary that slipped in. Every file is either decoded with
confidence or skipped with a warning that names it -- a build never dies on one bad file.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import re
import stat
import time
import tomllib
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from index.models import Document
from index.storage.titles import TITLES_VERSION, title_from_html, title_of

SUFFIXES = {".txt", ".md", ".html", ".htm"}
CATALOG_NAME = "catalog.toml"
# Larger files are skipped with a warning: one file is split and tokenized by one worker
# (~300,000 characters/s), so a 50 MB dump would hold a build for a minute or more and become
# one document of tens of thousands of passages; split into files it indexes in parallel.
MAX_FILE_BYTES = 32 * 1024 * 1024
# Strict UTF-8 that fails on at most this share of its non-ASCII bytes is UTF-8 with a few
# damaged bytes (a cut-off last character, a stray byte), not Shift_JIS, in which nearly every
# non-ASCII byte is invalid UTF-8. Such files are indexed with U+FFFD and a warning.
MAX_INVALID_UTF8_SHARE = 0.01
REPLACED = "utf-8, invalid bytes replaced"
# A file modified less than this long before it was read may be modified again within the
# same timestamp tick (Linux stamps files with a coarse clock), so its size is not recorded and
# the next build hashes it rather than trusting an unchanged size and mtime.
RACY_SECONDS = 2.0


class SkipFile(Exception):
    """The file cannot be used; the message says why, for the build's warning."""


@dataclass(frozen=True)
class CorpusFile:
    path: Path
    rel: str  # relative to the corpus root, forward slashes


def list_files(root: Path, unlisted: list[tuple[str, str]] | None = None) -> list[CorpusFile]:
    """Every readable-looking corpus file under `root`, sorted, each real file once.

    os.walk does not follow directory symlinks, so a symlink loop cannot trap the walk;
    symlinked files are read like any other file. Folders that cannot be listed are appended
    to `unlisted` as (relative path, reason): os.walk would otherwise drop them, and every
    file in them, without a word.
    """

    def cannot_list(exc: OSError) -> None:
        if unlisted is not None and exc.filename:
            rel = Path(exc.filename).relative_to(root).as_posix()
            unlisted.append((rel, exc.strerror or str(exc)))

    found: list[CorpusFile] = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=cannot_list):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith(".") or Path(name).suffix.lower() not in SUFFIXES:
                continue
            path = Path(dirpath) / name
            found.append(CorpusFile(path, path.relative_to(root).as_posix()))
    return found


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# Control characters other than whitespace, private-use and surrogate code points: text
# that holds these was decoded with the wrong guess (or was never text).
_NOT_TEXT = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f\ue000-\uf8ff\ud800-\udfff]")


def _looks_like_text(text: str) -> bool:
    """A decode that yields control characters or unassigned code points was a wrong guess.

    Regex for the cheap, common check over the whole text; unicodedata (per character, slow)
    only over a sample, for unassigned code points."""
    if not text:
        return True
    bad = len(_NOT_TEXT.findall(text))
    sample = text[:65536]
    bad_sample = sum(1 for ch in sample if unicodedata.category(ch) == "Cn")
    return bad / len(text) < 0.001 and bad_sample / len(sample) < 0.001


def decode(data: bytes) -> tuple[str, str]:
    """Decode file bytes, returning (text, encoding name); raise SkipFile when unsure.

    Order matters: BOMs are certain; strict UTF-8 almost never succeeds by accident on
    Shift_JIS bytes; UTF-8 with a few damaged bytes is still UTF-8 (see `_damaged_utf8`);
    CP932 (Microsoft's Shift_JIS superset) is tried last and only kept when the result looks
    like text. NUL characters end the tagger's input early (it reads C strings), so text that
    holds them is skipped rather than indexed in part.
    """
    if data.startswith(codecs.BOM_UTF8):
        candidates = ["utf-8-sig"]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = ["utf-16"]
    else:
        if b"\x00" in data[:65536]:
            raise SkipFile("looks binary (contains NUL bytes)")
        candidates = ["utf-8", REPLACED, "cp932"]
    for encoding in candidates:
        text = _try_decode(data, encoding)
        if text is None or not _looks_like_text(text):
            continue
        if "\x00" in text:
            raise SkipFile("contains NUL characters (binary data inside text)")
        return text.replace("\r\n", "\n").replace("\r", "\n"), encoding
    raise SkipFile("is neither UTF-8, UTF-16 with a BOM, nor Shift_JIS/CP932 text")


def _try_decode(data: bytes, encoding: str) -> str | None:
    """`data` decoded, or None when `encoding` does not fit it."""
    if encoding == REPLACED:
        return _damaged_utf8(data)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        return None


def _damaged_utf8(data: bytes) -> str | None:
    """UTF-8 with its few invalid bytes replaced by U+FFFD, or None if it is not UTF-8."""
    escaped = data.decode("utf-8", errors="surrogateescape")
    invalid = sum(1 for _ in _ESCAPED_BYTE.finditer(escaped))
    non_ascii = len(data) - len(data.decode("ascii", errors="ignore"))
    if not invalid or invalid > MAX_INVALID_UTF8_SHARE * non_ascii:
        return None
    return data.decode("utf-8", errors="replace")


_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")


def invalid_bytes_note(doc: Document) -> str | None:
    """The warning for a document decoded as damaged UTF-8, None for every other one."""
    if doc.encoding != REPLACED:
        return None
    count = doc.text.count("\ufffd")
    return f"{doc.path}: {count} invalid UTF-8 byte sequence(s) replaced with U+FFFD"


class _TextOnly(HTMLParser):
    """Collects the visible text of an HTML page, one block per line."""

    BLOCKS = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "section"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in ("script", "style", "noscript", "template"):
            self._skip += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "noscript", "template") and self._skip:
            self._skip -= 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _TextOnly()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).split("\n"))
    return "\n".join(line for line in lines if line)


def catalog_fingerprint(root: Path) -> str:
    """Changes when `catalog.toml` or the title rules change: the build then re-reads the
    titles, links and dates of unchanged documents too."""
    path = root / CATALOG_NAME
    try:
        data = path.read_bytes()
    except OSError:
        data = b""
    return f"{TITLES_VERSION}:{hashlib.sha256(data).hexdigest()}"


def load_catalog(root: Path) -> tuple[dict[str, dict], list[str]]:
    """`catalog.toml`: optional `["file.txt"] title/url/date` tables; bad ones are warned."""
    path = root / CATALOG_NAME
    if not path.is_file():
        return {}, []
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return {}, [f"{CATALOG_NAME}: ignored ({exc})"]
    catalog = {k: v for k, v in data.items() if isinstance(v, dict)}
    return catalog, []


@dataclass(frozen=True)
class Stamp:
    """What a file's status said when its bytes were read. `size` is None when the status
    cannot vouch for those bytes (modified too recently, or changed while it was read)."""

    mtime: float
    size: int | None


def read_stamped(file: CorpusFile) -> tuple[bytes, Stamp]:
    """The file's bytes and its status taken before reading them; SkipFile for anything but a
    readable regular file of sane size.

    FIFOs, devices and sockets are refused before reading (a FIFO blocks forever, /dev/zero
    never ends), and at most MAX_FILE_BYTES + 1 bytes are read, so a file that grows while it
    is read cannot exhaust memory either. The status comes from the open file before the read,
    so a change made during or after the read gives the file a newer mtime than the one stored
    with these bytes, and the next build reads it again.
    """
    try:
        fd = os.open(file.path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError as exc:
        raise SkipFile("disappeared while the corpus was being read") from exc
    except PermissionError as exc:
        raise SkipFile("is not readable (permission denied)") from exc
    except OSError as exc:
        raise SkipFile(f"could not be read ({exc.strerror or exc})") from exc
    with os.fdopen(fd, "rb") as fh:
        try:
            info = os.fstat(fd)
            read_at = time.time()
            if stat.S_ISDIR(info.st_mode):
                raise SkipFile("is a directory")
            if not stat.S_ISREG(info.st_mode):
                raise SkipFile("is not a regular file (a device, FIFO or socket)")
            if info.st_size > MAX_FILE_BYTES:
                raise SkipFile(_too_big())
            data = fh.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise SkipFile(f"could not be read ({exc.strerror or exc})") from exc
    if len(data) > MAX_FILE_BYTES:
        raise SkipFile(_too_big())
    settled = read_at - info.st_mtime >= RACY_SECONDS and len(data) == info.st_size
    return data, Stamp(info.st_mtime, info.st_size if settled else None)


def unchanged_since(file: CorpusFile, size: int | None, mtime: float) -> bool:
    """True when the file's size and mtime are those recorded with its indexed bytes, so it
    need not be read and hashed again (as make and git decide). A recorded size of None never
    vouches: see RACY_SECONDS."""
    if size is None:
        return False
    try:
        info = os.stat(file.path)
    except OSError:
        return False  # the read that follows reports why
    return stat.S_ISREG(info.st_mode) and info.st_size == size and info.st_mtime == mtime


def _too_big() -> str:
    return (
        f"is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB; split it into smaller files "
        "to index it"
    )


def make_document(file: CorpusFile, data: bytes, stamp: Stamp, catalog: dict) -> Document:
    """Decode and describe one file; raises SkipFile with the reason."""
    text, encoding = decode(data)
    page_title = None
    if file.path.suffix.lower() in (".html", ".htm"):
        page_title = title_from_html(text)
        text = html_to_text(text)
    entry = catalog.get(file.rel, {})
    title = str(entry.get("title") or page_title or title_of(text, file.rel))
    return Document(
        path=file.rel,
        title=title,
        text=text,
        sha256=sha256_of(data),
        mtime=stamp.mtime,
        size=stamp.size,
        encoding=encoding,
        url=str(entry["url"]) if entry.get("url") else None,
        date=str(entry["date"]) if entry.get("date") else None,
    )


def iter_documents(root: Path) -> Iterator[Document | tuple[str, str]]:
    """Documents, or (relative path, reason) for files that were skipped."""
    catalog, _ = load_catalog(root)
    for file in list_files(root):
        try:
            data, stamp = read_stamped(file)
            yield make_document(file, data, stamp, catalog)
        except SkipFile as exc:
            yield (file.rel, str(exc))
