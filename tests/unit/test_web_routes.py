"""The web app's routes in-process: the page, its files, /ui/config; public but never private."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from app.web.routes import STATIC_DIR
from tests.support.apps import app_client, create_key
from tests.support.fakes import fake_chat_model, fake_resources

MODULES = sorted(p.name for p in (STATIC_DIR / "js").glob("*.js"))


@pytest.fixture(params=["off", "apikey"])
async def served(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient, str]]:
    res = fake_resources(tmp_path / "data", fake_chat_model(), auth=request.param)
    async with app_client(res) as (app, client):
        yield app, client, request.param


async def test_page_is_served_with_a_strict_policy(
    served: tuple[FastAPI, httpx.AsyncClient, str],
) -> None:
    _, client, _ = served
    page = await client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/ui/static/js/main.js"></script>' in page.text
    policy = page.headers["content-security-policy"]
    for directive in (
        "default-src 'self'",
        "script-src 'self'",
        "object-src 'none'",
        "require-trusted-types-for 'script'",
        "trusted-types 'none'",
    ):
        assert directive in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert page.headers["x-content-type-options"] == "nosniff"


async def test_page_has_no_inline_script_or_handler() -> None:
    html = (STATIC_DIR / "index.html").read_text()
    assert html.count("<script") == 1 and 'src="/ui/static/js/main.js"' in html
    assert re.search(r"<[^>]*\son[a-z]+\s*=", html, re.IGNORECASE) is None


@pytest.mark.parametrize("module", MODULES)
async def test_every_module_is_served_as_javascript(
    served: tuple[FastAPI, httpx.AsyncClient, str], module: str
) -> None:
    _, client, _ = served
    response = await client.get(f"/ui/static/js/{module}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.text == (STATIC_DIR / "js" / module).read_text()


async def test_no_module_uses_html_sinks() -> None:
    """innerHTML and friends would parse untrusted text as HTML; the CSP forbids them too."""
    for module in MODULES:
        source = (STATIC_DIR / "js" / module).read_text()
        for sink in (
            ".innerHTML",
            ".outerHTML",
            "insertAdjacentHTML(",
            "document.write(",
            "eval(",
            "Function(",
        ):
            assert sink not in source, (module, sink)


async def test_static_files_stay_inside_their_folder(tmp_path: Path) -> None:
    res = fake_resources(tmp_path / "data", fake_chat_model())
    async with app_client(res) as (_, client):
        await _assert_not_served(client)


async def _assert_not_served(client: httpx.AsyncClient) -> None:
    for path in (
        "/ui/static/../routes.py",
        "/ui/static/%2e%2e/routes.py",
        "/ui/static/..%2Froutes.py",
        "/ui/static/missing.js",
    ):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"] == "not_found"


async def test_config_says_whether_a_key_is_needed(
    served: tuple[FastAPI, httpx.AsyncClient, str],
) -> None:
    _, client, auth = served
    response = await client.get("/ui/config")
    assert response.status_code == 200
    assert response.json() == {
        "auth_required": auth == "apikey",
        "max_question_chars": 4000,
        "max_body_bytes": 1_000_000,
        "documents_api": True,
    }


async def test_with_keys_on_only_the_page_is_public(tmp_path: Path) -> None:
    res = fake_resources(tmp_path / "data", fake_chat_model(), auth="apikey")
    async with app_client(res) as (app, client):
        for public in ("/", "/ui/config", "/ui/static/js/main.js", "/ui/static/app.css"):
            assert (await client.get(public)).status_code == 200, public
        for private in ("/sessions", "/docs", "/rag/playground/", "/ui/other"):
            response = await client.get(private)
            assert response.status_code == 401, private
            assert response.json()["error"] == "unauthorized"
        key = await create_key(app, "alice")
        assert (await client.get("/sessions", headers=key)).status_code == 200


async def test_playground_keeps_its_address(
    served: tuple[FastAPI, httpx.AsyncClient, str],
) -> None:
    app, client, auth = served
    headers = await create_key(app, "alice") if auth == "apikey" else {}
    response = await client.get("/rag/playground/", headers=headers)
    assert response.status_code == 200
    assert "<html" in response.text.lower()


async def test_config_sees_a_documents_api_when_the_app_has_one(tmp_path: Path) -> None:
    res = fake_resources(tmp_path / "data", fake_chat_model())
    async with app_client(res) as (app, client):
        router = APIRouter()

        @router.get("/documents")
        async def documents() -> dict[str, list[str]]:
            return {"documents": []}

        app.include_router(router)
        assert (await client.get("/ui/config")).json()["documents_api"] is True
