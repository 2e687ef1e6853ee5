"""What one upload may carry, from the settings, and the checks that answer 413 / 415 / 400.

Every check runs before anything is written, so a refused request leaves no file behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath

from rag_core.names import DOCUMENT_EXTENSIONS
from rag_core.settings import Settings, SettingsError

from app.documents.filenames import UnsafeName, safe_upload_name
from app.errors.api import ApiError

#: Room for multipart boundaries and part headers on top of the files themselves.
MULTIPART_OVERHEAD_BYTES = 64 * 1024


@dataclass(frozen=True)
class UploadLimits:
    """Per-request and per-file limits of ``POST /documents``."""

    max_file_bytes: int
    max_files: int
    extensions: tuple[str, ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> UploadLimits:
        """The configured limits; a RAG_UPLOAD_EXTENSIONS entry no loader reads stops the start."""
        wanted = settings.upload_extensions
        extensions: tuple[str, ...]
        if wanted is None:
            extensions = DOCUMENT_EXTENSIONS
        else:
            extensions = tuple(dict.fromkeys(e.lower() for e in wanted))
            unknown = [e for e in extensions if e not in DOCUMENT_EXTENSIONS]
            if unknown or not extensions:
                raise SettingsError(
                    f"invalid settings: RAG_UPLOAD_EXTENSIONS: {unknown or 'empty'} not readable; "
                    f"choose among {list(DOCUMENT_EXTENSIONS)}"
                )
        return cls(settings.upload_max_file_bytes, settings.upload_max_files, extensions)

    @property
    def max_request_bytes(self) -> int:
        """The body limit of an upload request: every file at its largest, plus multipart framing."""
        return self.max_files * self.max_file_bytes + MULTIPART_OVERHEAD_BYTES

    def check_count(self, count: int) -> None:
        """413 when a request carries more files than allowed (400 when it carries none)."""
        if count == 0:
            raise ApiError(400, "send one or more files in the multipart field 'files'")
        if count > self.max_files:
            raise ApiError(
                413,
                f"{count} files sent; at most {self.max_files} per request (RAG_UPLOAD_MAX_FILES)",
            )

    def check_file(self, raw_name: str | None, size: int | None) -> str:
        """The safe name of one file, or the 400 / 415 / 413 that refuses it."""
        try:
            name = safe_upload_name(raw_name)
        except UnsafeName as exc:
            raise ApiError(400, str(exc), code="unsafe_file_name") from None
        suffix = PurePath(name).suffix.lower()
        if suffix not in self.extensions:
            raise ApiError(
                415,
                f"{name!r}: unsupported file type {suffix or '(none)'!r}; "
                f"supported: {', '.join(self.extensions)}",
                supported=list(self.extensions),
            )
        if size is None or size > self.max_file_bytes:
            raise ApiError(
                413,
                f"{name!r} is larger than {self.max_file_bytes} bytes (RAG_UPLOAD_MAX_FILE_BYTES)",
            )
        return name
