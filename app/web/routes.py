"""``/`` (the web app's page), ``/ui/static/*`` (its scripts and styles) and ``/ui/config``.

No build step and nothing fetched from elsewhere: the page is plain files in ``app/web/static``, so
the app works offline and ``make run`` stays the only command. The page is public even when API
keys are on (a browser must load it to let the user type a key); it holds nothing per-user, and
every call it makes goes through the protected API with the key the user typed.

The Content-Security-Policy is the second line of defence behind the page's DOM-only Markdown
renderer: scripts only from this origin (no inline script, no ``eval``), no plugins, no framing,
and Trusted Types with no policy, so even a stray ``innerHTML = string`` would throw instead of
parsing HTML that came from a document or from the model.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from app.runtime import RuntimeDep
from app.web.paths import CONFIG_PATH, DOCUMENTS_PATH, PAGE_PATH, STATIC_PREFIX

STATIC_DIR = Path(__file__).resolve().parent / "static"

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "require-trusted-types-for 'script'",
        "trusted-types 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

router = APIRouter(include_in_schema=False)


class UiConfig(BaseModel):
    """What the page must know before its first API call; nothing secret, nothing per-user."""

    auth_required: bool
    max_question_chars: int
    max_body_bytes: int
    #: Whether this server has the documents API (upload, list, delete): the page hides that
    #: panel otherwise instead of calling routes that do not exist.
    documents_api: bool


@router.get(PAGE_PATH)
async def web_app() -> FileResponse:
    """The chat page (replaces the old redirect to the playground, which stays at /rag/playground/)."""
    return FileResponse(STATIC_DIR / "index.html", headers=SECURITY_HEADERS)


def _has_route(app: FastAPI, path: str) -> bool:
    """Whether the app serves ``path``, read from its OpenAPI paths (built once, then cached):
    the public view of every route, where ``app.routes`` nests included routers."""
    return path in app.openapi().get("paths", {})


@router.get(CONFIG_PATH)
async def ui_config(request: Request, runtime: RuntimeDep) -> UiConfig:
    """Whether the page must ask for an API key, which optional APIs exist, and the limits."""
    settings = runtime.settings
    return UiConfig(
        auth_required=settings.auth == "apikey",
        max_question_chars=settings.max_question_chars,
        max_body_bytes=settings.max_body_bytes,
        documents_api=_has_route(request.app, DOCUMENTS_PATH),
    )


class _HardenedStaticFiles(StaticFiles):
    """StaticFiles whose responses carry the same headers as the page (nosniff matters for JS)."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(SECURITY_HEADERS)
        return response


def install_web_app(app: FastAPI) -> None:
    """Serve the page at ``/`` and its files under ``/ui/static``."""
    app.include_router(router)
    app.mount(STATIC_PREFIX, _HardenedStaticFiles(directory=STATIC_DIR), name="web-static")
