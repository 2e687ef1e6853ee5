"""A small profile of bench/load.py in CI: concurrent streams and bad requests, real tiny model."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable

import pytest

from tests.conftest import ROOT
from tests.support.servers import LiveServer

pytestmark = pytest.mark.slow


def test_load_profile_has_no_unexpected_errors(
    sample_index: dict[str, str], live_server: Callable[..., LiveServer]
) -> None:
    server = live_server(sample_index, RAG_LLM_MAX_TOKENS="16")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.load",
            "--url",
            server.url,
            "--streams",
            "8",
            "--rounds",
            "2",
            "--pid",
            str(server.process.pid),
            "--timeout",
            "240",
            "--max-rss-growth-mb",
            "100",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.stdout, result.stderr
    report = json.loads(result.stdout)
    print(json.dumps(report, indent=2))
    assert report["unexpected_count"] == 0, report["unexpected"]
    assert report["rounds"], report
    assert all(r["streams_ok"] == 8 and r["bad_requests_rejected"] == 2 for r in report["rounds"])
    assert report["ok"], report
    assert result.returncode == 0
    assert server.alive()
