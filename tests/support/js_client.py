"""Run tests/clients/js/remote_runnable.mjs (LangChain.js RemoteRunnable) against a live server."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from tests.support.servers import LiveServer
from tests.support.services import unavailable

JS_CLIENT_DIR = Path(__file__).resolve().parents[1] / "clients" / "js"


def require_js_client() -> None:
    """Skip with the reason when node or @langchain/core is missing (fail in CI)."""
    if shutil.which("node") is None:
        unavailable("node is missing")
    if not (JS_CLIENT_DIR / "node_modules" / "@langchain" / "core").is_dir():
        unavailable("@langchain/core is missing: run `make client-deps`")


def run_js_client(server: LiveServer, *questions: str, timeout: float) -> dict[str, Any]:
    """``node remote_runnable.mjs <url> <questions>``; its JSON report (one entry per verb).

    A failing script fails the test with its own output and the tail of the server's log.
    """
    result = subprocess.run(
        ["node", str(JS_CLIENT_DIR / "remote_runnable.mjs"), server.url, *questions],
        cwd=JS_CLIENT_DIR,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, f"{result.stderr}\n{result.stdout}\n{server.log()[-3000:]}"
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report
