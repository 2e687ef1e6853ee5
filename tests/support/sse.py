"""Reading Server-Sent Events in tests: a whole body at once, or live from a real connection."""

from __future__ import annotations

import json
from typing import Any

import httpx
from httpx_sse import EventSource, connect_sse


def parse_sse(text: str) -> list[tuple[str, Any]]:
    """(event, decoded JSON data) pairs of a complete SSE body, in order (decoded by httpx-sse)."""
    response = httpx.Response(
        200, headers={"content-type": "text/event-stream"}, content=text.encode()
    )
    return [
        (sse.event, json.loads(sse.data)) for sse in EventSource(response).iter_sse() if sse.data
    ]


def read_sse(url: str, body: dict[str, Any], timeout: float = 120.0) -> list[tuple[str, Any]]:
    """POST ``body`` and collect the events as they arrive over the wire (``None`` for empty data)."""
    events: list[tuple[str, Any]] = []
    with (
        httpx.Client(timeout=timeout) as client,
        connect_sse(client, "POST", url, json=body) as source,
    ):
        assert source.response.status_code == 200, source.response.read()
        for sse in source.iter_sse():
            events.append((sse.event, json.loads(sse.data) if sse.data else None))
    return events
