"""A client that hangs up mid-stream stops the model: counted in tokens the real llama.cpp produces.

The server exposes the model's own ``tokens_generated`` counter on /metrics. A full answer to the
question sets the yardstick; then we read a few tokens of a stream, disconnect, wait until the
counter stops moving, and compare what was produced after the disconnect with that yardstick.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import httpx
import pytest

from tests.support.servers import LiveServer

pytestmark = pytest.mark.slow

QUESTION = {
    "question": "Explain in detail how to install, configure and run Quillfeather, step by step."
}


def tokens_generated(server: LiveServer) -> int:
    """The model's counter from /metrics (0 before the model produced anything)."""
    text = httpx.get(f"{server.url}/metrics", timeout=10).text
    match = re.search(r"^rag_llm_tokens_generated_total (\S+)$", text, re.MULTILINE)
    return int(float(match.group(1))) if match else 0


def settled(server: LiveServer, quiet: float = 1.5, limit: float = 60.0) -> int:
    """The counter once it has not moved for ``quiet`` seconds."""
    deadline = time.monotonic() + limit
    last, since = tokens_generated(server), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = tokens_generated(server)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return now
    raise AssertionError("the model never stopped producing tokens")


def _read_then_hang_up(url: str, body: dict[str, object], pieces: int) -> None:
    with (
        httpx.Client(timeout=60) as client,
        client.stream("POST", url, json=body) as response,
    ):
        assert response.status_code == 200
        for seen, _ in enumerate(response.iter_raw(), start=1):
            if seen >= pieces:
                break
    # leaving both context managers closes the socket mid-answer


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/chat/stream", QUESTION),
        ("/rag/stream", {"input": QUESTION}),
        (
            "/v1/chat/completions",
            {
                "model": "quill-rag",
                "stream": True,
                "messages": [{"role": "user", "content": QUESTION["question"]}],
            },
        ),
    ],
)
def test_disconnect_stops_generation(
    sample_index: dict[str, str],
    live_server: Callable[..., LiveServer],
    path: str,
    body: dict[str, object],
) -> None:
    server = live_server(sample_index, RAG_LLM_MAX_TOKENS="400", RAG_SCORE_THRESHOLD="0.0")
    before = settled(server)
    full = httpx.post(f"{server.url}/chat", json=QUESTION, timeout=120)
    assert full.status_code == 200, full.text
    whole_answer = settled(server) - before
    if whole_answer < 60:
        pytest.skip(f"the model answered in only {whole_answer} tokens; nothing to interrupt")

    start = settled(server)
    _read_then_hang_up(f"{server.url}{path}", body, pieces=4)
    at_disconnect = tokens_generated(server)
    after = settled(server) - at_disconnect
    produced = at_disconnect - start
    print(
        f"{path}: whole answer {whole_answer} tokens; {produced} before, {after} after disconnect"
    )
    assert after < whole_answer // 3, (whole_answer, produced, after)
    assert server.alive()
    assert httpx.get(f"{server.url}/health", timeout=10).status_code == 200
