"""What a client may put in LangServe's ``config``: ``configurable.k`` within 1..RAG_MAX_TOP_K, nothing else.

LangServe keeps only ``configurable`` from a client's config (tags, metadata, callbacks and run_name
are dropped before we see them) and validates it against the chain's config schema. So ``k`` is
*declared* there, through :class:`TopKDeclaration`, a pass-through step with one configurable field:
the schema then documents it and LangServe rejects ``k: "abc"``. :func:`checked_client_config`, run
in ``per_req_config_modifier``, enforces the range and refuses every other key; the tenant
(``rag_user``) is set afterwards by the server alone (:func:`app.langserve.publish.server_config`).
"""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import (
    ConfigurableField,
    Runnable,
    RunnableConfig,
    RunnableSerializable,
)
from rag_core.settings import Settings

from app.errors.api import ApiError

#: The only configurable keys a client may send.
CLIENT_KEYS = frozenset({"k"})


class TopKDeclaration(RunnableSerializable[Any, Any]):
    """Passes its input through unchanged; exists to declare ``configurable.k`` in the schema.

    The chain reads ``k`` from the config it is called with; this step only makes the field part of
    the published config schema, so LangServe validates its type and the playground shows it.
    """

    k: int = 3

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        """Return the input: the declaration has no behaviour of its own."""
        return input

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        """Return the input: the declaration has no behaviour of its own."""
        return input


def declare_top_k(runnable: Runnable, settings: Settings) -> Runnable:
    """``runnable`` with ``configurable.k`` declared (default RAG_TOP_K), keeping its types."""
    declaration = TopKDeclaration(k=settings.top_k).configurable_fields(
        k=ConfigurableField(
            id="k",
            name="k",
            description=f"Chunks retrieved for the question (1..{settings.max_top_k}).",
        )
    )
    sequence = declaration | runnable
    # LangServe caches schemas by name: a chain with a name of its own (the chat chain's "RagChat")
    # keeps it, or its output schema would collide with another route's "RunnableSequenceOutput".
    sequence.name = runnable.get_name()
    return sequence.with_types(input_type=runnable.InputType, output_type=runnable.OutputType)


def checked_client_config(config: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """The client's config if it only sets an in-range ``k``; otherwise a 422 naming the problem."""
    configurable = config.get("configurable") or {}
    if not isinstance(configurable, dict):
        raise ApiError(422, "config.configurable must be an object")
    unknown = sorted(set(configurable) - CLIENT_KEYS)
    if unknown:
        raise ApiError(
            422, f"config.configurable may only set k; not allowed: {', '.join(unknown)}"
        )
    if "k" in configurable:
        k = configurable["k"]
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= settings.max_top_k:
            raise ApiError(
                422, f"config.configurable.k must be an integer from 1 to {settings.max_top_k}"
            )
    return {key: value for key, value in config.items() if key == "configurable"}
