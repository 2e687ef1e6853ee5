"""The /rag playground in headless Chromium: it loads without console errors, answers a question,
and shows the answer as one readable text with its sources listed below (not one JSON object per
streamed token).

Needs Debian's chromium and playwright-core (``make browser-deps``); skipped with the reason when
they are missing, and failed instead when RAG_REQUIRE_SERVICES=1 (CI).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rag_core.settings import REFUSAL

from tests.support.browser import run_browser_script
from tests.support.servers import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_playground_shows_the_answer_as_text_with_its_sources(
    sample_server: LiveServer, tmp_path: Path
) -> None:
    shots = tmp_path / "screenshots"
    report = run_browser_script("playground.mjs", sample_server, shots, timeout=300)
    screenshot = Path(report["screenshot"])
    assert screenshot == shots / "playground.png"
    assert screenshot.stat().st_size > 10_000
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert report["sources_first"]
    assert report["answer"].strip() and report["answer"] != REFUSAL
    assert report["chunks"] > 3, "the answer was streamed in pieces"
    assert "getting-started.md" in report["sources"]
    shown = report["shown"]
    assert " ".join(shown.split()).startswith(" ".join(report["answer"].split()))
    assert "\nSources:\n1. " in shown and "getting-started.md" in shown.split("Sources:")[-1]
    # The pane stays one screen of text (it was ~12,000 px of per-token JSON).
    assert 0 < report["pane_height"] <= 1200
