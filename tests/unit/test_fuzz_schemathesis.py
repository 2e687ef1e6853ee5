"""Property-based fuzzing of every operation in our OpenAPI schema: no input may produce a 5xx.

Schemathesis generates bodies, query strings and paths from ``/openapi.json`` (valid and invalid
ones) and calls the app in-process over fake resources. The example count is bounded so the test
fits in CI; a 5xx, or a response that is not what the schema promises for a 2xx, fails it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import hypothesis
import pytest
import schemathesis
from fastapi.testclient import TestClient

from app.server import create_app
from tests.support.fakes import fake_resources

_DATA = Path(tempfile.mkdtemp(prefix="rag-fuzz-")) / "data"
_RES = fake_resources(_DATA, max_batch_size=4)
APP = create_app(_RES.settings, resources=_RES, warm=False)
# Run the lifespan once (opens the history store), then let schemathesis call the app.
_CLIENT = TestClient(APP)
_CLIENT.__enter__()

schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.mark.slow
@schema.parametrize()
@hypothesis.settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=list(hypothesis.HealthCheck),
    derandomize=True,
)
def test_no_input_gives_a_server_error(case: schemathesis.Case) -> None:
    response = case.call()
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:500]}\n"
        f"reproduce: {case.as_curl_command()}"
    )
