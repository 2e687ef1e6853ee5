"""``rag-ingest``: index files and folders into the collection the server answers from."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from rag_core.names import USER_RULE, valid_user
from rag_core.settings import SettingsError, load_settings

EPILOG = """\
Supported: .md/.markdown (split by heading), .txt, .html/.htm, .pdf (page numbers), .docx.
Each chunk is cited by its path relative to the folder given (the file name for a single file),
its line range (text formats) or page (PDF), and its heading path.

Re-running is cheap: unchanged files are skipped without embedding; a changed file has its old
chunks replaced. --prune treats the paths given as the whole corpus of this collection and owner:
chunks of files no longer found under them are deleted.

Settings come from RAG_* environment variables or .env (see README); flags override them.
Exit codes: 0 ok, 1 some files failed (others were ingested), 2 usage or settings error.

Examples:
  rag-ingest ./docs
  rag-ingest ./docs ./handbook.pdf --prune
  rag-ingest ./docs --dry-run
  rag-ingest ./private --user alice --json
"""


def build_parser() -> argparse.ArgumentParser:
    """The CLI's arguments, with help that explains what each does."""
    parser = argparse.ArgumentParser(
        prog="rag-ingest",
        description="Index documents into the Chroma collection that the RAG server answers from.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files or folders")
    parser.add_argument("--prune", action="store_true", help="delete chunks of vanished files")
    parser.add_argument("--dry-run", action="store_true", help="show changes, write nothing")
    parser.add_argument("--json", action="store_true", help="print one JSON summary on stdout")
    parser.add_argument("--data-dir", type=Path, help="overrides RAG_DATA_DIR")
    parser.add_argument("--collection", help="overrides RAG_COLLECTION")
    parser.add_argument("--user", help="make these documents private to USER (default: shared)")
    parser.add_argument(
        "--if-empty",
        action="store_true",
        help="do nothing if the collection already exists (used by `make run` for the samples)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    overrides: dict[str, object] = {}
    if args.data_dir is not None:
        overrides["data_dir"] = args.data_dir
    if args.collection:
        overrides["collection"] = args.collection
    try:
        settings = load_settings(**overrides)
    except SettingsError as exc:
        print(f"rag-ingest: {exc}", file=sys.stderr)
        return 2
    if args.user is not None and not valid_user(args.user):
        print(f"rag-ingest: --user must be {USER_RULE}", file=sys.stderr)
        return 2

    from ingest.indexer import Ingestor

    if args.if_empty:
        from rag_core.vectorstore import collection_exists

        if collection_exists(settings):
            print(
                f"rag-ingest: collection {settings.collection!r} exists; nothing to do",
                file=sys.stderr,
            )
            return 0

    from rag_core.vectorstore import IndexConflictError

    try:
        report = Ingestor(settings, user=args.user).run(
            args.paths, prune=args.prune, dry_run=args.dry_run, progress=not args.no_progress
        )
    except IndexConflictError as exc:
        print(f"rag-ingest: {exc}", file=sys.stderr)
        return 1
    plan_stream = sys.stderr if args.json else sys.stdout
    for line in report.plan:
        print(line, file=plan_stream)
    for failure in report.failed:
        print(f"rag-ingest: failed: {failure['path']}: {failure['error']}", file=sys.stderr)
    if report.unsupported:
        print(
            f"rag-ingest: ignored {len(report.unsupported)} file(s) of unsupported type "
            f"(e.g. {report.unsupported[0]})",
            file=sys.stderr,
        )
    if args.json:
        print(json.dumps(report.as_json()))
    else:
        print(("dry run: " if args.dry_run else "") + report.summary(), file=sys.stderr)
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
