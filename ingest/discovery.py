"""Find the files to ingest and give each a stable citation name.

A file's ``source`` is its path relative to the folder the user gave (or its name when a single file
is given), so citations read the same on every machine that ingests the same folder.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ingest.loaders import LoadError, is_supported, load_segments


@dataclass(frozen=True)
class SourceFile:
    """A file to ingest and its stable citation name (path relative to the folder given)."""

    path: Path
    source: str


def discover(paths: Iterable[Path]) -> tuple[list[SourceFile], list[dict[str, str]], list[str]]:
    """Expand files and folders (recursively) into source files, failures and unsupported files.

    Hidden files and folders are ignored; a file of unknown type inside a folder is listed as
    unsupported, while one named explicitly is a failure.
    """
    files: list[SourceFile] = []
    failed: list[dict[str, str]] = []
    unsupported: list[str] = []
    seen: dict[str, Path] = {}

    def add(path: Path, source: str) -> None:
        if source in seen:
            if seen[source] != path.resolve():
                failed.append(
                    {
                        "path": str(path),
                        "error": f"source name {source!r} already used by {seen[source]}",
                    }
                )
            return  # the same file reached twice (a folder and the file in it) is ingested once
        seen[source] = path.resolve()
        files.append(SourceFile(path, source))

    for root in paths:
        if not root.exists():
            failed.append({"path": str(root), "error": "no such file or directory"})
        elif root.is_file():
            if is_supported(root):
                add(root, root.name)
            else:
                failed.append({"path": str(root), "error": _unsupported_message(root)})
        else:
            for path in sorted(p for p in root.rglob("*") if p.is_file()):
                rel = path.relative_to(root)
                if any(part.startswith(".") for part in rel.parts):
                    continue
                if is_supported(path):
                    add(path, rel.as_posix())
                else:
                    unsupported.append(str(path))
    return files, failed, unsupported


def _unsupported_message(path: Path) -> str:
    try:
        load_segments(path)
    except LoadError as exc:
        return str(exc)
    return "unsupported file type"  # pragma: no cover - load_segments always raises here
