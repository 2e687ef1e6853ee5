"""Browser tests drive Debian's /usr/bin/chromium with playwright-core (``make browser-deps``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.browser import BROWSER_DIR
from tests.support.services import unavailable


def _missing() -> str | None:
    if not Path("/usr/bin/chromium").exists():
        return "/usr/bin/chromium is missing: run `make browser-deps`"
    if shutil.which("node") is None:
        return "node is missing"
    if not (BROWSER_DIR / "node_modules" / "playwright-core").is_dir():
        return "playwright-core is missing: run `make browser-deps`"
    return None


@pytest.fixture(scope="module", autouse=True)
def _browser_available() -> None:
    """Skip with the reason when the browser stack is missing (fail in CI)."""
    reason = _missing()
    if reason is not None:
        unavailable(reason)
