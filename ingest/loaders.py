"""Read each supported format into segments that know their lines, headings or page.

One function per format, chosen by extension. Every failure is raised as ``LoadError`` with a message
a user can act on; the caller reports it against the file and carries on with the others.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

from ingest.chunking import Segment

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_HTML_BLOCKS = (
    "h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "pre", "blockquote", "td", "th", "dt", "dd",
    "figcaption", "caption",
)  # fmt: skip


class LoadError(Exception):
    """A file could not be read; the message says why and what to do."""


def read_text(path: Path) -> str:
    """Decode a text file as UTF-8 (with or without BOM), refusing binary content."""
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        raise LoadError("looks like a binary file, not text (NUL bytes found)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Legacy editors still write cp1252; decoding it is better than dropping the file.
        return data.decode("cp1252", errors="replace")


def _paragraphs(lines: list[str], first_line: int = 1) -> Iterator[tuple[int, int, str]]:
    """Blank-line separated blocks as (start_line, end_line, text), 1-based inclusive."""
    block: list[str] = []
    start = first_line
    for number, line in enumerate(lines, start=first_line):
        if line.strip():
            if not block:
                start = number
            block.append(line)
        elif block:
            yield start, number - 1, "\n".join(block)
            block = []
    if block:
        yield start, start + len(block) - 1, "\n".join(block)


def load_markdown(path: Path) -> list[Segment]:
    """Markdown: a heading starts a section; paragraphs and whole fenced blocks are segments."""
    lines = read_text(path).splitlines()
    segments: list[Segment] = []
    stack: list[tuple[int, str]] = []
    block: list[str] = []
    block_start = 1
    in_fence = False

    def flush(end: int) -> None:
        nonlocal block
        if any(line.strip() for line in block):
            segments.append(
                Segment("\n".join(block).strip("\n"), block_start, end, tuple(t for _, t in stack))
            )
        block = []

    for number, line in enumerate(lines, start=1):
        if _FENCE.match(line):
            if not in_fence:
                flush(number - 1)
                block_start = number
            in_fence = not in_fence
            block.append(line)
            if not in_fence:
                flush(number)
            continue
        if in_fence:
            block.append(line)
            continue
        heading = _HEADING.match(line)
        if heading:
            flush(number - 1)
            level, title = len(heading.group(1)), heading.group(2)
            stack[:] = [(lvl, t) for lvl, t in stack if lvl < level] + [(level, title)]
            segments.append(
                Segment(line, number, number, tuple(t for _, t in stack), is_heading=True)
            )
            continue
        if not line.strip():
            flush(number - 1)
            continue
        if not block:
            block_start = number
        block.append(line)
    flush(len(lines))
    return _trim_line_ranges(segments)


def _trim_line_ranges(segments: list[Segment]) -> list[Segment]:
    """Keep end_line on the last non-blank line so citations never point at blank lines."""
    out = []
    for seg in segments:
        end = seg.end_line
        if seg.start_line is not None and end is not None:
            end = seg.start_line + seg.text.count("\n")
        out.append(Segment(seg.text, seg.start_line, end, seg.headings, seg.page, seg.is_heading))
    return out


def load_text(path: Path) -> list[Segment]:
    """Plain text: paragraphs with their line ranges."""
    lines = read_text(path).splitlines()
    return [Segment(text, start, end) for start, end, text in _paragraphs(lines)]


def load_html(path: Path) -> list[Segment]:
    """HTML: innermost text blocks, with source lines and the h1-h6 path above them."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(read_text(path), "html.parser")
    for tag in soup(["script", "style", "noscript", "template", "svg"]):
        tag.decompose()
    segments: list[Segment] = []
    stack: list[tuple[int, str]] = []
    for element in soup.find_all(_HTML_BLOCKS):
        if element.find(_HTML_BLOCKS):
            continue  # an outer block: its inner blocks are visited on their own
        text = element.get_text(" ", strip=True)
        if not text:
            continue
        line = getattr(element, "sourceline", None)
        end = line + str(element).count("\n") if line is not None else None
        if element.name in ("h1", "h2", "h3", "h4", "h5", "h6"):
            level = int(element.name[1])
            stack[:] = [(lvl, t) for lvl, t in stack if lvl < level] + [(level, text)]
        is_heading = element.name in ("h1", "h2", "h3", "h4", "h5", "h6")
        segments.append(Segment(text, line, end, tuple(t for _, t in stack), is_heading=is_heading))
    if not segments:
        title = soup.title.get_text(strip=True) if soup.title else ""
        body = soup.get_text("\n", strip=True) or title
        segments = [Segment(body)] if body else []
    return segments


def load_pdf(path: Path) -> list[Segment]:
    """PDF: one segment per page with its 1-based page number (PDFs have no stable lines)."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            raise LoadError("the PDF is encrypted; decrypt it first")
        pages = [(n, page.extract_text() or "") for n, page in enumerate(reader.pages, start=1)]
    except LoadError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise LoadError(f"not a readable PDF ({exc.__class__.__name__}: {exc})") from exc
    segments = [Segment(text.strip(), page=n) for n, text in pages if text.strip()]
    if pages and not segments:
        raise LoadError("the PDF has no extractable text (scanned images? run OCR first)")
    return segments


def load_docx(path: Path) -> list[Segment]:
    """Word: paragraphs under their Heading-styled titles, then table cells."""
    import zipfile

    from docx import Document as DocxDocument
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = DocxDocument(str(path))
    except (zipfile.BadZipFile, KeyError, ValueError, PackageNotFoundError) as exc:
        raise LoadError(f"not a readable .docx file ({exc.__class__.__name__}: {exc})") from exc
    segments: list[Segment] = []
    stack: list[tuple[int, str]] = []
    for paragraph in document.paragraphs:
        text = paragraph.text.strip()
        if not text:
            continue
        style = (paragraph.style.name if paragraph.style is not None else "") or ""
        match = re.match(r"Heading (\d)", style)
        if match or style == "Title":
            level = int(match.group(1)) if match else 0
            stack[:] = [(lvl, t) for lvl, t in stack if lvl < level] + [(level, text)]
        segments.append(
            Segment(
                text,
                headings=tuple(t for _, t in stack),
                is_heading=bool(match or style == "Title"),
            )
        )
    for table in document.tables:
        for row in table.rows:
            cells = " | ".join(cell.text.strip() for cell in row.cells if cell.text.strip())
            if cells:
                segments.append(Segment(cells))
    return segments


LOADERS: dict[str, Callable[[Path], list[Segment]]] = {
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".txt": load_text,
    ".text": load_text,
    ".html": load_html,
    ".htm": load_html,
    ".pdf": load_pdf,
    ".docx": load_docx,
}


def is_supported(path: Path) -> bool:
    """Whether a loader exists for the file's extension."""
    return path.suffix.lower() in LOADERS


def load_segments(path: Path) -> list[Segment]:
    """Load any supported file; raise LoadError naming the problem otherwise."""
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        supported = ", ".join(sorted(LOADERS))
        raise LoadError(
            f"unsupported file type {path.suffix or '(none)'!r}; supported: {supported}"
        )
    try:
        return loader(path)
    except LoadError:
        raise
    except PermissionError as exc:
        raise LoadError("permission denied: cannot read the file") from exc
    except OSError as exc:
        raise LoadError(f"cannot read the file ({exc.strerror or exc})") from exc
