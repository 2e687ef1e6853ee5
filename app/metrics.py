"""Prometheus metrics: requests by route and status, retrieval latency, time to first token, tokens, refusals.

Everything is recorded without touching the routes or the chain: an ASGI middleware counts
responses by route *template* (bounded label cardinality), and a LangChain callback handler bound
to every published runnable (app.langserve.publish) times the ``retrieve`` step, counts refusals
(nothing relevant retrieved) and measures the first token of every chat-model call. Each app has
its own registry, so tests can build many apps in one process. ``GET /metrics``
(app.routes.metrics) serves the text format.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from rag_chain import RagResources
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics:
    """The app's metric objects, in their own registry (with the model's own counters)."""

    def __init__(self, resources: RagResources) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(ModelTokenCollector(resources))
        self.requests = Counter(
            "rag_http_requests",
            "HTTP responses by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.retrieval_seconds = Histogram(
            "rag_retrieval_seconds",
            "Time to retrieve and score chunks for one question.",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.first_token_seconds = Histogram(
            "rag_llm_first_token_seconds",
            "Time from a chat-model call to its first streamed token.",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.tokens_streamed = Counter(
            "rag_llm_tokens_streamed",
            "Answer tokens received from the chat model.",
            registry=self.registry,
        )
        self.refusals = Counter(
            "rag_refusals",
            "Questions refused because no chunk passed the relevance threshold.",
            registry=self.registry,
        )


class ModelTokenCollector(Collector):
    """The embedded model's own counters, read at scrape time.

    ``rag_llm_tokens_generated`` counts tokens the model *produced*, even ones no client received,
    which is what proves that a client disconnect stops generation. The worker's crashes and
    restarts (and whether it is up) come from its supervisor.
    """

    def __init__(self, resources: RagResources) -> None:
        self.resources = resources

    def collect(self) -> Iterator[Metric]:
        """Yield the counters the backend keeps (only llama.cpp keeps any)."""
        resources = self.resources
        generated = resources.tokens_generated()
        if generated is not None:
            family = CounterMetricFamily(
                "rag_llm_tokens_generated", "Tokens produced by the embedded model (llama.cpp)."
            )
            family.add_metric([], generated)
            yield family
        status = resources.worker_status()
        if status is None:
            return
        crashes = CounterMetricFamily(
            "rag_model_worker_crashes", "Times the model worker died after it had loaded."
        )
        crashes.add_metric([], status.crashes)
        restarts = CounterMetricFamily(
            "rag_model_worker_restarts", "Times the model worker was started again."
        )
        restarts.add_metric([], status.restarts)
        up = GaugeMetricFamily("rag_model_worker_up", "1 when the model worker is ready.")
        up.add_metric([], 1.0 if status.state == "ready" else 0.0)
        yield from (crashes, restarts, up)


class MetricsCallback(BaseCallbackHandler):
    """Times the retrieve step and the first token of chat-model calls; counts refusals."""

    run_inline = True

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self._retrievals: dict[UUID, float] = {}
        self._model_calls: dict[UUID, float] = {}

    def on_chain_start(self, serialized: Any, inputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """Start timing a ``retrieve`` step."""
        if kwargs.get("name") == "retrieve":
            self._retrievals[run_id] = time.perf_counter()

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """Record retrieval latency, and a refusal when nothing relevant was found."""
        started = self._retrievals.pop(run_id, None)
        if started is None:
            return
        self.metrics.retrieval_seconds.observe(time.perf_counter() - started)
        if isinstance(outputs, dict) and not outputs.get("chunks"):
            self.metrics.refusals.inc()

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """Forget a failed retrieval."""
        self._retrievals.pop(run_id, None)

    def on_chat_model_start(
        self, serialized: Any, messages: Any, *, run_id: UUID, **kwargs: Any
    ) -> None:
        """Start the time-to-first-token clock."""
        self._model_calls[run_id] = time.perf_counter()

    def on_llm_new_token(self, token: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """Count the token; the first one of a call records time to first token."""
        self.metrics.tokens_streamed.inc()
        started = self._model_calls.pop(run_id, None)
        if started is not None:
            self.metrics.first_token_seconds.observe(time.perf_counter() - started)

    def on_llm_end(self, response: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """Forget the call (it may have produced no token)."""
        self._model_calls.pop(run_id, None)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """Forget the failed call."""
        self._model_calls.pop(run_id, None)


class RequestMetricsMiddleware:
    """Counts every HTTP response by the matched route template (``unmatched`` otherwise)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.requests.labels(route, scope.get("method", ""), str(status)).inc()
