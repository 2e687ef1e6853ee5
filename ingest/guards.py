"""Checks that run before a loader opens a file, so a hostile file fails with a reason instead of
exhausting memory or CPU.

- A ``.docx`` is a zip: python-docx would inflate its XML members into memory. The sizes the zip
  declares are checked first. They are a real bound, not a claim: Python's ``zipfile`` stops
  reading a member at its declared size (and fails on a CRC mismatch), so a member cannot inflate
  past what is checked here.
- A PDF with tens of thousands of pages would hold the single ingest process for hours: the page
  count is read (pypdf walks the page tree without extracting anything) and capped.

Limits come from the settings (``RAG_INGEST_MAX_*``), so the CLI and uploads share them.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

from rag_core.settings import Settings

from ingest.loaders import LoadError

#: Members smaller than this are never judged by their ratio (tiny XML files compress very well).
RATIO_FLOOR_BYTES = 1_000_000
#: More members than this is not a Word document but an attempt to exhaust the parser.
MAX_ZIP_MEMBERS = 10_000


@dataclass(frozen=True)
class FileLimits:
    """What a single file may cost to read."""

    max_pdf_pages: int
    max_docx_bytes: int
    max_zip_ratio: int

    @classmethod
    def from_settings(cls, settings: Settings) -> FileLimits:
        """The limits configured for this deployment."""
        return cls(
            max_pdf_pages=settings.ingest_max_pdf_pages,
            max_docx_bytes=settings.ingest_max_docx_bytes,
            max_zip_ratio=settings.ingest_max_zip_ratio,
        )


def check_file(path: Path, limits: FileLimits) -> None:
    """Raise LoadError when ``path`` would cost more to read than ``limits`` allow."""
    suffix = path.suffix.lower()
    if suffix == ".docx":
        check_docx(path, limits)
    elif suffix == ".pdf":
        check_pdf(path, limits)


def check_docx(path: Path, limits: FileLimits) -> None:
    """Refuse a zip whose members would inflate beyond the size or ratio limits (a zip bomb)."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError):
        return  # not a zip at all: the loader reports it as an unreadable .docx
    if len(members) > MAX_ZIP_MEMBERS:
        raise LoadError(
            f"the .docx holds {len(members)} files (at most {MAX_ZIP_MEMBERS}): "
            "refusing a possible zip bomb"
        )
    total = sum(member.file_size for member in members)
    if total > limits.max_docx_bytes:
        raise LoadError(
            f"the .docx would expand to {total} bytes, over RAG_INGEST_MAX_DOCX_BYTES "
            f"({limits.max_docx_bytes}): refusing a possible zip bomb"
        )
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > RATIO_FLOOR_BYTES and ratio > limits.max_zip_ratio:
            raise LoadError(
                f"the .docx member {member.filename!r} expands {ratio:.0f} times "
                f"({member.compress_size} -> {member.file_size} bytes), over "
                f"RAG_INGEST_MAX_ZIP_RATIO ({limits.max_zip_ratio}): refusing a possible zip bomb"
            )


def check_pdf(path: Path, limits: FileLimits) -> None:
    """Refuse a PDF with more pages than the limit (unreadable PDFs are left to the loader)."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        pages = len(PdfReader(str(path)).pages)
    except (PdfReadError, ValueError, KeyError, TypeError, OSError):
        return
    if pages > limits.max_pdf_pages:
        raise LoadError(
            f"the PDF has {pages} pages, over RAG_INGEST_MAX_PDF_PAGES ({limits.max_pdf_pages}); "
            "split it or raise the limit"
        )
