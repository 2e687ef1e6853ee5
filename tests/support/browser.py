"""Run one of the playwright-core scripts in tests/browser against a live server."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.support.servers import LiveServer

BROWSER_DIR = Path(__file__).resolve().parents[1] / "browser"


def run_browser_script(
    script: str, server: LiveServer, out_dir: Path, timeout: float, *extra: str
) -> dict[str, Any]:
    """``node <script> <server url> <out_dir> [extra...]``; returns the JSON report on its last
    stdout line.

    A failing script fails the test with its own output and the tail of the server's log.
    """
    result = subprocess.run(
        ["node", str(BROWSER_DIR / script), server.url, str(out_dir), *extra],
        cwd=BROWSER_DIR,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, f"{result.stderr}\n{result.stdout}\n{server.log()[-3000:]}"
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report
