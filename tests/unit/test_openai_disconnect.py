"""A client that hangs up a /v1 stream stops the model (a real uvicorn, a slow fake model)."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from httpx_sse import connect_sse
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGenerationChunk

from app.server import create_app
from tests.support.fakes import SlowFakeChatModel, fake_resources
from tests.support.servers import free_port

WORDS = 40
BODY = {
    "model": "quill-rag",
    "stream": True,
    "messages": [{"role": "user", "content": "How much does the Team plan cost?"}],
}


class CountingSlowModel(SlowFakeChatModel):
    """Streams ``WORDS`` words slowly and counts how many it produced."""

    reply: str = " ".join(f"word{i}" for i in range(WORDS))
    delay: float = 0.05
    produced: int = 0

    async def _astream(
        self, messages: list[BaseMessage], *args: Any, **kwargs: Any
    ) -> AsyncIterator[ChatGenerationChunk]:
        async for chunk in super()._astream(messages, *args, **kwargs):
            self.produced += 1
            yield chunk


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """``app`` on a real loopback socket (uvicorn in a thread) until the block ends."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


def test_hanging_up_a_stream_stops_generation(tmp_path: Path) -> None:
    model = CountingSlowModel()
    res = fake_resources(tmp_path / "data", model)
    with serving(create_app(res.settings, resources=res, warm=False)) as url:
        whole = httpx.post(f"{url}/v1/chat/completions", json=BODY, timeout=30)
        assert whole.status_code == 200 and whole.text.rstrip().endswith("data: [DONE]")
        assert model.produced == WORDS, "without a hang-up the whole answer is produced"

        model.produced = 0
        with (
            httpx.Client(timeout=30) as client,
            connect_sse(client, "POST", f"{url}/v1/chat/completions", json=BODY) as source,
        ):
            assert source.response.status_code == 200
            for sse in source.iter_sse():
                if "word" in sse.json()["choices"][0]["delta"].get("content", ""):
                    break  # the first token arrived: hang up
        at_hang_up = model.produced
        time.sleep(1.0)  # 20 more words' worth of time
        after = model.produced - at_hang_up
    assert 1 <= at_hang_up < WORDS // 2
    assert after <= 2, f"{after} words were produced after the client hung up"
