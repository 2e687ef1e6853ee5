"""The /conversation chat playground in headless Chromium: two turns, the second sent with the
first as history, answers streamed with their "Sources:" line, no console errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.browser import run_browser_script
from tests.support.servers import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_chat_playground_holds_a_conversation(sample_server: LiveServer, tmp_path: Path) -> None:
    report = run_browser_script("chat_playground.mjs", sample_server, tmp_path, timeout=600)
    bodies = [r["body"] for r in report["requests"]]
    assert len(bodies) == 2
    second = [m["content"] for m in bodies[1]["input"]["messages"]]
    assert second[0] == "Tell me about the Team plan" and second[-1] == "and how much does it cost?"
    assert len(second) == 3, "the browser sent the first answer back as history"
    assert report["page_text"].count("Sources: pricing.md") >= 1
    assert Path(report["screenshot"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
