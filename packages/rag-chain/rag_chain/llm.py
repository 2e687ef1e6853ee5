"""Chat model factory keyed by provider: ``llamacpp`` (embedded), ``ollama`` or ``openai``.

All backends run at temperature 0 with the same token and time limits, so switching backends is one
setting and tests can swap in a fake model through the same seam.
"""

from __future__ import annotations

from langchain_core.language_models import BaseChatModel
from rag_core.settings import Settings

from rag_chain.llamacpp import LlamaCppChatModel, bundled_gguf_path

DEFAULT_OLLAMA_MODEL = "llama3.1:8b"
DEFAULT_OPENAI_MODEL = "gpt-4o-mini"


def make_chat_model(settings: Settings) -> BaseChatModel:
    """Build (without calling) the chat model the settings ask for."""
    if settings.llm == "ollama":
        from langchain_ollama import ChatOllama

        return ChatOllama(
            model=settings.llm_model or DEFAULT_OLLAMA_MODEL,
            base_url=settings.ollama_base_url,
            temperature=0,
            num_predict=settings.llm_max_tokens,
            num_ctx=settings.llm_context_window,
            client_kwargs={"timeout": settings.llm_timeout},
        )
    if settings.llm == "openai":
        from langchain_openai import ChatOpenAI

        return ChatOpenAI(
            model=settings.llm_model or DEFAULT_OPENAI_MODEL,
            base_url=settings.openai_base_url,
            api_key=settings.openai_api_key,
            temperature=0,
            max_completion_tokens=settings.llm_max_tokens,
            timeout=settings.llm_timeout,
            max_retries=1,
        )
    return LlamaCppChatModel(
        model_path=settings.llm_model or bundled_gguf_path(),
        n_ctx=settings.llm_context_window,
        max_tokens=settings.llm_max_tokens,
        temperature=0.0,
        n_threads=settings.llm_threads,
        # the same RAG_LLM_TIMEOUT as the remote clients' timeout, as a no-progress limit
        stall_timeout=settings.llm_timeout,
    )


def chat_model_label(settings: Settings) -> str:
    """Human-readable backend/model name for /health and logs (never a key or a full path)."""
    if settings.llm == "ollama":
        return f"ollama:{settings.llm_model or DEFAULT_OLLAMA_MODEL}"
    if settings.llm == "openai":
        return f"openai:{settings.llm_model or DEFAULT_OPENAI_MODEL}"
    from pathlib import Path

    return f"llamacpp:{Path(settings.llm_model or bundled_gguf_path()).name}"
