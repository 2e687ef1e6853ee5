"""The one factory for every runnable the server publishes, so published chains never differ by accident.

Before this, ``/rag`` got the ``k`` declaration and the metrics callbacks while ``/conversation``
was built apart and got neither. :class:`Publisher` gives every runnable (LangServe's routes and
the chain behind ``/chat`` and ``/v1``) the same treatment:

- ``configurable.k`` declared in the config schema (:func:`declare_top_k`), so LangServe validates
  it and the playground shows it;
- the server's callbacks (metrics) bound with ``with_config``, since LangServe drops a client's;
  the follow-up rewrite /chat and /v1 run before the chain gets them too (:meth:`Publisher.step`);
- the same per-request config: the client's config checked (``k`` in range, nothing else), then
  the tenant (``rag_user``) set by the server alone (:func:`server_config`), plus the stream-error
  recorder on LangServe's stream routes;
- the same body guard in front of LangServe's handler (JSON, known fields, size limits).

Waiting on the model is the other shared policy; it lives in :class:`app.progress.ModelWait`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from fastapi import Depends, FastAPI, Request
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.runnables import Runnable, RunnableConfig
from langserve import add_routes
from rag_chain import USER_KEY
from rag_core.settings import Settings

from app.langserve.body_guard import langserve_body_guard
from app.langserve.config_guard import checked_client_config, declare_top_k
from app.langserve.stream_errors import recorder_for
from app.security.auth import owner_of


def server_config(request: Request, base: dict[str, Any] | None = None) -> RunnableConfig:
    """Config for one request: ``base`` (already checked) plus the caller's identity.

    The tenant is set here and only here: a ``rag_user`` in ``base`` is dropped, so no client can
    read another user's documents by naming them.
    """
    config: dict[str, Any] = dict(base or {})
    configurable = dict(config.get("configurable") or {})
    configurable.pop(USER_KEY, None)
    # With auth off the tenant is the anonymous owner: shared documents plus what was uploaded
    # without a key (POST /documents), the single user of their own machine.
    configurable[USER_KEY] = owner_of(request)
    config["configurable"] = configurable
    return cast(RunnableConfig, config)


class Publisher:
    """Makes and routes every published runnable with one config lockdown and one set of callbacks."""

    def __init__(self, settings: Settings, callbacks: Sequence[BaseCallbackHandler]) -> None:
        self.settings = settings
        self.callbacks = list(callbacks)

    def runnable(self, runnable: Runnable) -> Runnable:
        """``runnable`` as clients reach it: ``k`` declared, the server's callbacks bound."""
        return self.step(declare_top_k(runnable, self.settings))

    def step(self, runnable: Runnable) -> Runnable:
        """A step a route runs beside the published chain (the follow-up rewrite of /chat and /v1)
        with the server's callbacks, as the same step gets them inside /conversation's chain."""
        return runnable.with_config(callbacks=self.callbacks)

    async def config_modifier(self, config: dict[str, Any], request: Request) -> dict[str, Any]:
        """LangServe's ``per_req_config_modifier``: the client's checked config, then the server's."""
        checked = server_config(request, checked_client_config(config, self.settings))
        result: dict[str, Any] = dict(checked)
        recorder = recorder_for(request)
        if recorder is not None:  # a stream route: let its error event say what failed
            result["callbacks"] = [recorder]
        return result

    def add_routes(
        self, app: FastAPI, runnable: Runnable, path: str, *, chat: bool = False
    ) -> None:
        """Publish ``runnable`` at ``path`` (``chat=True``: messages input, chat playground)."""
        add_routes(
            app,
            self.runnable(runnable),
            path=path,
            playground_type="chat" if chat else "default",
            per_req_config_modifier=self.config_modifier,
            dependencies=[Depends(langserve_body_guard(self.settings, chat=chat))],
        )
