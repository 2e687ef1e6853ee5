"""``GET /metrics``: this server's Prometheus metrics in the text exposition format."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import generate_latest

from app.runtime import RuntimeDep

router = APIRouter(tags=["health"])


@router.get("/metrics", response_class=Response)
async def prometheus_metrics(runtime: RuntimeDep) -> Response:
    """Prometheus text exposition of this server's metrics."""
    body = generate_latest(runtime.metrics.registry)
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")
