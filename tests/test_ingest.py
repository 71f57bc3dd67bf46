from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from index.storage import ingest

JA = (
    "集団安全保障条約機構(CSTO)は6日、カザフスタンに部隊を派遣すると発表した。\n"
    "議長はパシニャン首相。\n"
)


def test_decodes_utf8_and_bom_and_utf16():
    assert ingest.decode(JA.encode("utf-8")) == (JA, "utf-8")
    assert ingest.decode(codecs.BOM_UTF8 + JA.encode("utf-8")) == (JA, "utf-8-sig")
    assert ingest.decode(JA.encode("utf-16")) == (JA, "utf-16")


def test_detects_shift_jis():
    text, encoding = ingest.decode(JA.encode("shift_jis"))
    assert text == JA
    assert encoding == "cp932"


def test_crlf_becomes_lf():
    assert ingest.decode(b"a\r\nb\rc")[0] == "a\nb\nc"


@pytest.mark.parametrize(
    "data",
    [bytes(range(256)) * 4, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", b"\x81\x00\xff\xfe\x00"],
)
def test_binary_is_refused(data):
    with pytest.raises(ingest.SkipFile):
        ingest.decode(data)


def test_html_keeps_visible_text_only():
    html = (
        "<html><head><style>p{}</style><script>var x=1</script></head>"
        "<body><h1>題名</h1><p>本文です。</p></body></html>"
    )
    assert ingest.html_to_text(html) == "題名\n本文です。"


def test_catalog_overrides_title(tmp_path: Path):
    (tmp_path / "a.txt").write_text("本文の最初の行\n", encoding="utf-8")
    (tmp_path / "catalog.toml").write_text(
        '["a.txt"]\ntitle = "カタログの題"\nurl = "https://example.org/a"\ndate = "2022-01-06"\n',
        encoding="utf-8",
    )
    docs = [d for d in ingest.iter_documents(tmp_path)]
    assert len(docs) == 1
    doc = docs[0]
    assert doc.title == "カタログの題"
    assert doc.url == "https://example.org/a"
    assert doc.date == "2022-01-06"


def test_listing_is_recursive_and_filters_suffixes(tmp_path: Path):
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    for name in ("a.txt", "sub/b.md", "sub/deeper/c.html", "image.png", ".hidden.txt"):
        (tmp_path / name).write_text("x", encoding="utf-8")
    assert [f.rel for f in ingest.list_files(tmp_path)] == [
        "a.txt",
        "sub/b.md",
        "sub/deeper/c.html",
    ]


def test_symlink_loop_does_not_trap_the_walk(tmp_path: Path):
    (tmp_path / "a.txt").write_text("本文", encoding="utf-8")
    (tmp_path / "loop").symlink_to(tmp_path, target_is_directory=True)
    assert [f.rel for f in ingest.list_files(tmp_path)] == ["a.txt"]


def test_iter_documents_reports_skips(tmp_path: Path):
    (tmp_path / "good.txt").write_text(JA, encoding="utf-8")
    (tmp_path / "bad.txt").write_bytes(bytes(range(256)))
    out = list(ingest.iter_documents(tmp_path))
    skipped = [o for o in out if isinstance(o, tuple)]
    assert skipped and skipped[0][0] == "bad.txt"
    assert any(getattr(o, "path", None) == "good.txt" for o in out)
