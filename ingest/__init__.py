"""Ingest: load documents, split them into cited chunks, embed and index them incrementally."""

from ingest.indexer import IndexReport, Ingestor, discover

__all__ = ["IndexReport", "Ingestor", "discover"]
