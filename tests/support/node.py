"""Run a Node script of the test suite against a live server and read its JSON report.

The browser tests (playwright-core scripts in tests/browser) and the LangChain.js client test
(tests/clients/js) run their scripts the same way: ``node <script> <server url> [args...]`` from the
script's folder (its node_modules), the report on the last line of stdout.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.support.servers import LiveServer


def run_node_script(script: Path, server: LiveServer, *args: str, timeout: float) -> dict[str, Any]:
    """``node <script> <server url> [args...]``; the JSON report on its last stdout line.

    A failing script fails the test with its own output and the tail of the server's log.
    """
    result = subprocess.run(
        ["node", str(script), server.url, *args],
        cwd=script.parent,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, f"{result.stderr}\n{result.stdout}\n{server.log()[-3000:]}"
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report
