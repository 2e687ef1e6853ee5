"""An in-process stand-in for the upload ingest child: the real pipeline, fake embeddings.

It runs ``ingest.upload_ingest``'s own functions (``ingest_files``, ``delete_document``) with the
real loaders, guards, chunking, record manager and Chroma, only with the word-hash embeddings of
the fake index, in a worker thread. Unit tests so exercise everything but the process boundary,
which the integration tests cover with the real child.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

from rag_core.settings import Settings

from ingest.indexer import Ingestor
from ingest.upload_ingest import delete_document, ingest_files
from tests.support.fakes import WordHashEmbeddings


class InProcessWriter:
    """Implements ``app.documents.writer.IndexWriter`` without a child process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.calls: list[tuple[str, str, list[str]]] = []

    def _ingestor(self, owner: str) -> Ingestor:
        return Ingestor(self.settings, user=owner, embeddings=WordHashEmbeddings())

    async def ingest(self, owner: str, files: list[Path]) -> AsyncGenerator[dict[str, Any], None]:
        self.calls.append(("ingest", owner, [f.name for f in files]))
        events: list[dict[str, Any]] = []
        await asyncio.to_thread(ingest_files, self._ingestor(owner), files, events.append)
        for event in events:
            yield event

    async def delete(self, owner: str, source: str) -> int:
        self.calls.append(("delete", owner, [source]))
        events: list[dict[str, Any]] = []
        await asyncio.to_thread(delete_document, self._ingestor(owner), source, events.append)
        return int(events[-1]["chunks"])

    async def close(self) -> None:
        return None
