"""``python -m ingest.upload_ingest``: the server's writer process for documents sent over HTTP.

The server never writes the index itself: it runs this module as a child process, one at a time,
for each upload job (and each ``DELETE /documents/{source}``). It is ``rag-ingest`` for one owner,
file by file, reporting each file as one JSON line on stdout as soon as it is written, so the job
a client polls shows progress and per-file failures while the run goes on::

    {"event": "start", "files": 2}
    {"event": "file", "name": "notes.md", "status": "done", "added": 3, "updated": 0, ...}
    {"event": "file", "name": "bomb.docx", "status": "failed", "error": "the .docx would ..."}
    {"event": "end", "chunks_total": 245}

The server starts it at a lower CPU priority (``RAG_INGEST_NICE``) with one BLAS/torch thread, so
answers are not starved. Exit codes: 0 ok, 1 some file failed, 2 usage error.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rag_core.names import USER_RULE, valid_owner
from rag_core.settings import SettingsError, load_settings

from ingest.indexer import Ingestor

Emit = Callable[[dict[str, Any]], None]


def ingest_files(ingestor: Ingestor, files: Sequence[Path], emit: Emit) -> int:
    """Ingest ``files`` one by one (each cited by its file name), emitting one event per file.

    One file per run of the ingestor: its per-file report is exactly that file's outcome, and the
    embedding model, loaded on the first file that needs it, is reused for the next ones.
    Returns the number of files that failed.
    """
    emit({"event": "start", "files": len(files)})
    failed = 0
    chunks_total = 0
    for path in files:
        report = ingestor.run([path], progress=False)
        chunks_total = report.chunks_total
        error = report.failed[0]["error"] if report.failed else None
        if error is None and report.added + report.updated + report.skipped == 0:
            error = "no text to index in this file"
        if error is not None:
            failed += 1
            emit({"event": "file", "name": path.name, "status": "failed", "error": error})
            continue
        counts = {k: v for k, v in report.as_json().items() if k not in ("failed", "files")}
        emit({"event": "file", "name": path.name, "status": "done", **counts})
    emit({"event": "end", "chunks_total": chunks_total})
    return failed


def delete_document(ingestor: Ingestor, source: str, emit: Emit) -> None:
    """Remove one of the owner's documents from the index and say how many chunks went."""
    emit({"event": "deleted", "source": source, "chunks": ingestor.delete_source(source)})


def _emit_line(event: dict[str, Any]) -> None:
    print(json.dumps(event), flush=True)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m ingest.upload_ingest", description=__doc__)
    parser.add_argument("files", nargs="*", type=Path, metavar="FILE")
    parser.add_argument("--owner", required=True, help="owner of the documents")
    parser.add_argument("--delete", metavar="SOURCE", help="remove this document instead")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"upload_ingest: {exc}", file=sys.stderr)
        return 2
    if not valid_owner(args.owner):
        print(f"upload_ingest: --owner must be {USER_RULE}", file=sys.stderr)
        return 2
    if bool(args.delete) == bool(args.files):
        print("upload_ingest: give FILE... or --delete SOURCE", file=sys.stderr)
        return 2
    ingestor = Ingestor(settings, user=args.owner)
    if args.delete:
        delete_document(ingestor, args.delete, _emit_line)
        return 0
    return 1 if ingest_files(ingestor, args.files, _emit_line) else 0


if __name__ == "__main__":
    sys.exit(main())
