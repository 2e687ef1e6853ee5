"""The web app at / in headless Chromium, over a real server and an index with a hostile document.

``web_chat.mjs`` (extract mode, auth off): keyboard only, Markdown answer with its mode, sources
with file / lines / heading path / score, the cited passage, a follow-up, the conversations
sidebar (new, open, delete), a refusal's reason, the hostile document's passage with and without
the CSP, phone width, screenshots. ``web_stream.mjs`` (generate mode, API keys on): the key field,
an answer growing token by token, and the Stop button stopping the model on the server (its own
token counter on /metrics).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rag_core.settings import REFUSAL

from tests.support.admin import create_key
from tests.support.browser import run_browser_script
from tests.support.servers import LiveServer, start_server
from tests.support.web import (
    HOSTILE_IMG,
    HOSTILE_SCRIPT,
    build_web_index,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def web_index(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Samples plus the hostile document, ingested once for this module."""
    return build_web_index(tmp_path_factory.mktemp("web-index"))


@pytest.fixture(scope="module")
def extract_server(
    web_index: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    log = tmp_path_factory.mktemp("web-extract") / "server.log"
    server = start_server({**web_index, "RAG_ANSWER_MODE": "extract"}, log_path=log)
    yield server
    server.stop()


def _screenshot(path: str, shots: Path) -> None:
    assert Path(path).parent == shots
    data = Path(path).read_bytes()
    assert data[:8] == PNG and len(data) > 10_000


def test_web_app_chat_sources_sessions_and_hostile_document(
    extract_server: LiveServer, tmp_path: Path
) -> None:
    shots = tmp_path / "screenshots"
    report: dict[str, Any] = run_browser_script("web_chat.mjs", extract_server, shots, 600)

    assert "script-src 'self'" in report["csp"] and "trusted-types 'none'" in report["csp"]
    assert report["skip_link_focuses_question"] is True
    assert report["before_ready"] == {
        "send_disabled": True,
        "url_unchanged": True,
        # before the wiring Enter is the textarea's own: a new line, the question stays
        "question_kept": "typed before the page was ready\n",
        "send_disabled_when_ready": False,
    }

    first = report["first"]
    assert "$8 per user per month" in first["text"] and "**" not in first["text"]
    assert first["strong"] >= 1, "Markdown bold is rendered as <strong>"
    assert first["meta"] == "mode: extract"
    source = first["sources"][0]
    assert source["file"] == "pricing.md"
    assert source["where"].startswith("lines ") and "Pricing and Plans › Team" in source["where"]
    assert source["score"].startswith("score 0.")
    passage = report["passage"]
    assert passage["focused"] is True
    assert passage["where"].startswith("pricing.md · lines ")
    assert "Team is the plan most companies choose." in passage["text"]

    messages = report["session"]["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    assert messages[2]["content"] == "and how many seats can it have?"
    assert messages[2]["standalone_question"] != messages[2]["content"]
    assert "250" in report["follow_up"]["text"]
    assert report["sidebar_titles"][0] == "How much does the Team plan cost?"
    assert report["turns_after_new"] == 0
    assert report["reopened_questions"] == [
        "How much does the Team plan cost?",
        "and how many seats can it have?",
    ]
    assert report["deleted_status"] == 404

    refusal = report["refusal"]
    assert refusal["text"] == REFUSAL and refusal["sources"] == []
    assert "refused" in refusal["meta"] and "RAG_SCORE_THRESHOLD" in refusal["meta"]

    for run in (report["hostile"], report["hostile_without_csp"]):
        assert HOSTILE_IMG in run["answer"] and HOSTILE_SCRIPT in run["answer"], "shown as text"
        assert HOSTILE_IMG in run["passage"] and HOSTILE_SCRIPT in run["passage"]
        assert run["pwned"] is None, "a script from the document ran"
        assert run["dangerous"] == []
    assert report["canary_pwned"] == 1, "the payload is live when parsed as HTML"

    assert report["phone_overflow"] <= 0, "no horizontal scrolling at 375 px"
    _screenshot(report["desktop_screenshot"], shots)
    _screenshot(report["phone_screenshot"], shots)


@pytest.fixture(scope="module")
def keyed_generate_server(
    web_index: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LiveServer, str]]:
    """API keys on, the model writing (long) answers: what Stop has to interrupt."""
    key = create_key(web_index, "alice")
    log = tmp_path_factory.mktemp("web-generate") / "server.log"
    env = {
        **web_index,
        "RAG_AUTH": "apikey",
        "RAG_ANSWER_MODE": "generate",
        "RAG_LLM_MAX_TOKENS": "400",
    }
    server = start_server(env, log_path=log)
    yield server, key
    server.stop()


def test_web_app_streams_and_stop_ends_generation(
    keyed_generate_server: tuple[LiveServer, str], tmp_path: Path
) -> None:
    server, key = keyed_generate_server
    shots = tmp_path / "screenshots"
    report = run_browser_script("web_stream.mjs", server, shots, 900, key)

    assert report["key_form_visible"] is True
    assert "needs an API key" in report["status_before_key"]
    assert report["key_stored"] == key, "the key is kept in the browser"

    answer = report["answer"]
    assert answer["meta"] == "mode: generate"
    assert answer["text"].strip() and answer["text"] != REFUSAL
    assert answer["sources"], "sources are listed before the answer"
    lengths = [n for n in report["lengths"] if n > 0]
    # Markdown may shorten the shown text for a moment ("**b" → "b"): count the distinct lengths
    assert len(set(lengths)) >= 3, f"the answer grows token by token: {lengths}"
    assert lengths[-1] == len(answer["text"])

    whole = report["whole_answer_tokens"]
    assert whole >= 60, f"the yardstick answer took only {whole} tokens: nothing to interrupt"
    stopped = report["stopped"]
    assert stopped["notes"] == ["Stopped."]
    assert 0 < len(stopped["text"]) < 400
    after = report["tokens_after_stop"]
    print(f"whole answer {whole} tokens; {report['tokens_before_stop']} before, {after} after stop")
    assert after < whole // 3, (whole, report["tokens_before_stop"], after)
    assert report["stop_disabled_after"] is True
    assert report["health_after_stop"] == 200
    _screenshot(report["desktop_screenshot"], shots)


def test_documents_panel_follows_the_documents_api_contract(
    extract_server: LiveServer, tmp_path: Path
) -> None:
    """The upload panel against the documents API's contract, answered in the browser
    (page.route): this server has no documents API; tests/browser/test_web_upload.py is the
    real thing end to end."""
    report = run_browser_script("web_upload_contract.mjs", extract_server, tmp_path, 300)

    assert report["panel_visible"] is True
    assert report["listed_before"] == ["notes/old plan.md"]
    assert [u["names"] for u in report["uploads"]] == [["moonbase.md"], ["broken.pdf"]]
    assert all(u["contentType"].startswith("multipart/form-data") for u in report["uploads"])
    assert report["messages"] == [
        "Uploading moonbase.md…",
        "Ingest queued",
        "Ingest running 0 of 1",
        "Ingest done: moonbase.md.",
    ]
    shown = [p["value"] for p in report["progress"] if not p["hidden"]]
    assert shown[0] == 0 and shown[-1] == 100 and report["progress"][-1]["hidden"] is True
    assert report["final_message"] == {"text": "Ingest done: moonbase.md.", "class": "ok"}
    assert report["listed_after_upload"] == ["notes/old plan.md", "moonbase.md"]
    assert report["polls"] == {"job-ok": 3, "job-bad": 2}
    assert report["failure_message"]["class"] == "error"
    assert "broken.pdf: not a PDF file" in report["failure_message"]["text"]

    assert report["armed_label"] == "Confirm delete" and report["deletes_after_first_press"] == 0
    assert report["deletes"] == ["/documents/notes%2Fold%20plan.md"]
    assert report["listed_after_delete"] == ["moonbase.md"]
