"""The /rag playground in headless Chromium: it loads without console errors and answers a question.

Needs Debian's chromium and playwright-core (``make browser-deps``); skipped with the reason when
they are missing, and failed instead when RAG_REQUIRE_SERVICES=1 (CI).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from rag_core.settings import REFUSAL

from tests.conftest import ROOT
from tests.support.servers import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

BROWSER_DIR = ROOT / "tests" / "browser"


def test_playground_answers_in_chromium(sample_server: LiveServer, tmp_path: Path) -> None:
    shots = tmp_path / "screenshots"
    result = subprocess.run(
        ["node", str(BROWSER_DIR / "playground.mjs"), sample_server.url, str(shots)],
        cwd=BROWSER_DIR,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, (
        f"{result.stderr}\n{result.stdout}\n{sample_server.log()[-3000:]}"
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    screenshot = Path(report["screenshot"])
    assert screenshot == shots / "playground.png"
    assert screenshot.stat().st_size > 10_000
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert report["answer"].strip() and report["answer"] != REFUSAL
    assert "getting-started.md" in report["sources"]
