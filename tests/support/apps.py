"""The app in-process over fake resources, with its lifespan run (history opened and closed)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from rag_chain import RagResources

from app.history.keys import ApiKeyStore
from app.server import create_app


@asynccontextmanager
async def app_client(
    res: RagResources, *, peer: str = "127.0.0.1"
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """``create_app`` over ``res`` and an httpx client talking to it through ASGI from ``peer``."""
    app = create_app(res.settings, resources=res, warm=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=(peer, 123))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test", timeout=30
        ) as client:
            yield app, client


async def create_key(app: FastAPI, user: str) -> dict[str, str]:
    """A new API key for ``user`` in the app's database, as request headers."""
    store = ApiKeyStore(app.state.runtime.database)
    _, key = await store.create(user)
    return {"Authorization": f"Bearer {key}"}
