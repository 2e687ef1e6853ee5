"""Run one of the playwright-core scripts in tests/browser against a live server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.node import run_node_script
from tests.support.servers import LiveServer

BROWSER_DIR = Path(__file__).resolve().parents[1] / "browser"


def run_browser_script(
    script: str, server: LiveServer, out_dir: Path, timeout: float, *extra: str
) -> dict[str, Any]:
    """``node <script> <server url> <out_dir> [extra...]`` (screenshots go to ``out_dir``)."""
    return run_node_script(BROWSER_DIR / script, server, str(out_dir), *extra, timeout=timeout)
