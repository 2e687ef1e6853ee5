"""The /conversation chat playground in headless Chromium: two turns, the second sent with the
first as history, answers streamed with their "Sources:" line, no console errors."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.support.servers import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

BROWSER_DIR = Path(__file__).resolve().parent


def test_chat_playground_holds_a_conversation(sample_server: LiveServer, tmp_path: Path) -> None:
    result = subprocess.run(
        ["node", str(BROWSER_DIR / "chat_playground.mjs"), sample_server.url, str(tmp_path)],
        cwd=BROWSER_DIR,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, (
        f"{result.stderr}\n{result.stdout}\n{sample_server.log()[-3000:]}"
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    bodies = [r["body"] for r in report["requests"]]
    assert len(bodies) == 2
    second = [m["content"] for m in bodies[1]["input"]["messages"]]
    assert second[0] == "Tell me about the Team plan" and second[-1] == "and how much does it cost?"
    assert len(second) == 3, "the browser sent the first answer back as history"
    assert report["page_text"].count("Sources: pricing.md") >= 1
    assert Path(report["screenshot"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
