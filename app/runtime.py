"""What the server holds for its lifetime, as typed fields, and the dependencies that hand it out.

Everything a route needs is a field of :class:`Runtime`, built once by :func:`build_runtime` and
reached through FastAPI dependencies (``RuntimeDep``, ``HistoryDep``), so types are checked and a
test can swap any part (``app.dependency_overrides`` or a fake passed to ``create_app``).
:meth:`Runtime.open` is the server's lifetime: one ``AsyncExitStack`` opens the index, the model and
the history database and closes what was opened, in reverse order, whatever fails.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from langchain_core.runnables import Runnable
from rag_chain import ModelWorkerError, RagResources, build_chain, make_condense_question
from rag_core.index_errors import is_index_failure
from rag_core.settings import Settings
from sqlalchemy.exc import DBAPIError

from app.documents.service import DocumentService
from app.errors.backends import index_error
from app.history.conversations import Conversations
from app.history.db import Database
from app.history.keys import ApiKeyStore
from app.history.store import HistoryStore
from app.langserve.publish import Publisher
from app.metrics import Metrics, MetricsCallback
from app.progress import ModelWait
from app.security.auth import Authenticator
from app.security.ratelimit import RateLimiter, make_rate_limiter

log = logging.getLogger("rag.server")


@dataclass(frozen=True)
class Runtime:
    """Long-lived server state, created by :func:`build_runtime` (tests pass fake resources)."""

    settings: Settings
    resources: RagResources
    #: Makes every published runnable (LangServe routes and :attr:`chain`) the same way.
    publisher: Publisher
    #: The grounded chain behind /chat and /chat/stream, published like /rag.
    chain: Runnable
    #: The one timeout policy for waits on the model.
    wait: ModelWait
    database: Database
    history: HistoryStore
    conversations: Conversations
    authenticator: Authenticator
    #: None when rate limiting is off.
    limiter: RateLimiter | None
    metrics: Metrics
    #: Uploads, their ingest jobs, listing and deletion of documents (/documents).
    documents: DocumentService

    @asynccontextmanager
    async def open(self, *, warm: bool = True) -> AsyncIterator[None]:
        """Open what the server uses, yield while it serves, then close it all (LIFO)."""
        async with AsyncExitStack() as stack:
            stack.push_async_callback(asyncio.to_thread, self.resources.close)
            await self._open_index_and_model(warm)
            stack.push_async_callback(self.database.close)
            await self._open_database()
            if self.limiter is not None:
                stack.push_async_callback(self.limiter.close)
            stack.push_async_callback(self.documents.close)
            await self._open_documents()
            yield

    async def _open_index_and_model(self, warm: bool) -> None:
        """Warm the index and the model; a failure of either leaves the server up to say why."""
        try:
            if warm:
                # Opening the index and loading the model are blocking work: off the event loop.
                await asyncio.to_thread(self.resources.warm)
            count = await asyncio.to_thread(self.resources.reader.count)
            log.info(
                "ready: collection %r %s",
                self.settings.collection,
                f"with {count} chunks" if count is not None else "missing (run rag-ingest)",
            )
        except ModelWorkerError as exc:
            # A model that cannot load must not keep the server down: /retriever and /health
            # work, /ready says why and what to do, answers get a clear 503.
            log.error("the language model is unavailable: %s", exc.with_fix())
        except Exception as exc:
            if not is_index_failure(exc):
                raise
            # A damaged index must not keep the server down: /health and /ready say so.
            log.error("%s", index_error(exc).message)

    async def _open_database(self) -> None:
        """Create the history schema now; an unreachable database is retried on first use."""
        try:
            await self.database.ready()
        except (DBAPIError, OSError) as exc:
            log.error("history database %s unavailable at start: %s", self.database.describe(), exc)

    async def _open_documents(self) -> None:
        """Start the document writer; an unreachable database is not fatal (jobs then 503)."""
        try:
            await self.documents.open()
        except (DBAPIError, OSError) as exc:
            log.error("upload jobs unavailable at start: %s", exc)
            self.documents.queue.start()


def build_runtime(settings: Settings, resources: RagResources) -> Runtime:
    """Wire the server's parts together (nothing is opened or connected until :meth:`Runtime.open`)."""
    metrics = Metrics(resources)
    publisher = Publisher(settings, [MetricsCallback(metrics)])
    wait = ModelWait(resources, settings.llm_timeout)
    database = Database(settings.history_db_url, settings.table_prefix)
    history = HistoryStore(database)
    return Runtime(
        settings=settings,
        resources=resources,
        publisher=publisher,
        chain=publisher.runnable(build_chain(lambda: resources)),
        wait=wait,
        database=database,
        history=history,
        conversations=Conversations(
            history, publisher.step(make_condense_question(lambda: resources)), wait
        ),
        authenticator=Authenticator(settings, ApiKeyStore(database)),
        limiter=make_rate_limiter(settings),
        metrics=metrics,
        documents=DocumentService(settings, resources, database),
    )


def get_runtime(request: Request) -> Runtime:
    """The app's Runtime (a FastAPI dependency)."""
    runtime = request.app.state.runtime
    assert isinstance(runtime, Runtime), "create_app() sets app.state.runtime"
    return runtime


def get_history(request: Request) -> HistoryStore:
    """The app's conversation store (a FastAPI dependency)."""
    return get_runtime(request).history


def get_documents(request: Request) -> DocumentService:
    """The app's documents service (a FastAPI dependency)."""
    return get_runtime(request).documents


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
HistoryDep = Annotated[HistoryStore, Depends(get_history)]
DocumentsDep = Annotated[DocumentService, Depends(get_documents)]
