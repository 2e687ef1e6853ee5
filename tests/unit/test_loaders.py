"""Loaders: every format yields segments with the right text, lines, headings and pages."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.loaders import LoadError, load_segments


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_markdown_headings_lines_and_fences(tmp_path: Path) -> None:
    md = write(
        tmp_path / "setup.md",
        "# Install\n\nIntro line.\n\n## Linux\n\nRun apt.\nThen reboot.\n\n"
        "```bash\n# not a heading\n\necho hi\n```\n\n## macOS\n\nUse brew.\n",
    )
    segments = load_segments(md)
    by_text = {s.text: s for s in segments}
    assert by_text["Intro line."].headings == ("Install",)
    assert (by_text["Intro line."].start_line, by_text["Intro line."].end_line) == (3, 3)
    run = by_text["Run apt.\nThen reboot."]
    assert run.headings == ("Install", "Linux")
    assert (run.start_line, run.end_line) == (7, 8)
    fence = next(s for s in segments if s.text.startswith("```bash"))
    assert "# not a heading" in fence.text and "echo hi" in fence.text
    assert fence.headings == ("Install", "Linux"), "a # inside a code fence is not a heading"
    assert (fence.start_line, fence.end_line) == (10, 14)
    assert by_text["Use brew."].headings == ("Install", "macOS")


def test_text_paragraph_line_ranges(tmp_path: Path) -> None:
    txt = write(tmp_path / "notes.txt", "first\nsecond\n\n\nthird\n")
    segments = load_segments(txt)
    assert [(s.text, s.start_line, s.end_line) for s in segments] == [
        ("first\nsecond", 1, 2),
        ("third", 5, 5),
    ]


def test_text_in_cp1252_is_decoded(tmp_path: Path) -> None:
    path = tmp_path / "legacy.txt"
    path.write_bytes("Caf\xe9 cr\xe8me".encode("cp1252"))
    assert load_segments(path)[0].text == "Café crème"


def test_binary_content_with_text_extension_fails(tmp_path: Path) -> None:
    path = tmp_path / "image.txt"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    with pytest.raises(LoadError, match="binary"):
        load_segments(path)


def test_html_blocks_keep_headings_and_source_lines(tmp_path: Path) -> None:
    html = write(
        tmp_path / "page.html",
        "<html><head><title>T</title><script>var x = 1;</script></head>\n<body>\n"
        "<h1>Guide</h1>\n<p>Welcome text.</p>\n<h2>Backup</h2>\n<ul><li>Daily at 02:00</li></ul>\n"
        "</body></html>\n",
    )
    segments = load_segments(html)
    texts = [s.text for s in segments]
    assert "var x" not in " ".join(texts)
    daily = next(s for s in segments if s.text == "Daily at 02:00")
    assert daily.headings == ("Guide", "Backup")
    assert daily.start_line == 6
    welcome = next(s for s in segments if s.text == "Welcome text.")
    assert welcome.start_line == 4


def test_pdf_pages_are_numbered(tmp_path: Path) -> None:
    from reportlab.pdfgen import canvas

    path = tmp_path / "guide.pdf"
    pdf = canvas.Canvas(str(path))
    for text in ("Page one talks about apples.", "Page two talks about pears."):
        pdf.drawString(72, 720, text)
        pdf.showPage()
    pdf.save()
    segments = load_segments(path)
    assert [(s.page, "pears" in s.text) for s in segments] == [(1, False), (2, True)]
    assert all(s.start_line is None for s in segments)


def test_corrupt_pdf_raises_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.4\n garbage without objects")
    with pytest.raises(LoadError, match="not a readable PDF"):
        load_segments(path)


def test_docx_headings_and_tables(tmp_path: Path) -> None:
    from docx import Document

    doc = Document()
    doc.add_heading("Handbook", level=1)
    doc.add_heading("Holidays", level=2)
    doc.add_paragraph("Everyone gets 30 days.")
    table = doc.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "Plan"
    table.rows[0].cells[1].text = "Team"
    path = tmp_path / "handbook.docx"
    doc.save(str(path))
    segments = load_segments(path)
    days = next(s for s in segments if s.text == "Everyone gets 30 days.")
    assert days.headings == ("Handbook", "Holidays")
    assert any(s.text == "Plan | Team" for s in segments)


def test_corrupt_docx_and_unknown_extension(tmp_path: Path) -> None:
    bad = tmp_path / "bad.docx"
    bad.write_bytes(b"not a zip")
    with pytest.raises(LoadError, match="docx"):
        load_segments(bad)
    with pytest.raises(LoadError, match="unsupported file type '.xyz'"):
        load_segments(write(tmp_path / "data.xyz", "x"))
