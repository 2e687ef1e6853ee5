"""The web app's own JavaScript (Markdown renderer, SSE parser), run with ``node --test``.

The renderer is the first defence against HTML in documents and answers, so it is tested on its
own, quickly, without a browser; tests/browser/test_web_app.py then checks the whole page.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.support.services import unavailable

JS_TESTS = Path(__file__).resolve().parent / "js"


def test_web_js_unit_tests_pass() -> None:
    node = shutil.which("node")
    if node is None:
        unavailable("node is missing (Debian package nodejs)")
    files = sorted(str(p) for p in JS_TESTS.glob("*.test.mjs"))
    assert len(files) >= 2, files
    result = subprocess.run(
        [str(node), "--test", *files], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "# fail 0" in result.stdout and "# pass " in result.stdout
