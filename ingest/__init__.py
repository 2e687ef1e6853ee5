"""Ingest: load documents, split them into cited chunks, embed and index them incrementally."""

from ingest.discovery import SourceFile, discover
from ingest.indexer import IndexReport, Ingestor

__all__ = ["IndexReport", "Ingestor", "SourceFile", "discover"]
