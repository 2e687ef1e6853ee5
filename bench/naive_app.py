"""A seed-style "naive" RAG app, the comparison point for our server's speed.

What a tutorial would write: FastAPI, a ``StreamingResponse`` over ``chain.astream``, LangChain's
stock ``ChatLlamaCpp`` and a plain Chroma retriever, over the same index and the same GGUF. It has
none of our serving work (no lock: never send it concurrent requests). Run by the benchmark as
``uvicorn bench.naive_app:app`` with the same RAG_* settings as our server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from langchain_chroma import Chroma
from langchain_core.documents import Document
from langchain_core.output_parsers import StrOutputParser
from langchain_core.runnables import RunnableLambda, RunnablePassthrough
from pydantic import BaseModel
from rag_chain.llamacpp import bundled_gguf_path
from rag_chain.prompts import RAG_PROMPT
from rag_core.embeddings import make_embeddings
from rag_core.settings import get_settings


class ChatRequest(BaseModel):
    """The seed's request body."""

    question: str


def _format_docs(docs: list[Document]) -> str:
    return "\n\n".join(doc.page_content for doc in docs)


def build_naive_chain() -> Any:
    """retriever | prompt | ChatLlamaCpp | StrOutputParser, as the seed tutorial builds it."""
    from langchain_community.chat_models import ChatLlamaCpp

    settings = get_settings()
    store = Chroma(
        collection_name=settings.collection,
        embedding_function=make_embeddings(settings),
        persist_directory=str(settings.chroma_dir),
    )
    retriever = store.as_retriever(search_kwargs={"k": settings.top_k})
    llm = ChatLlamaCpp(
        model_path=bundled_gguf_path(),
        temperature=0,
        max_tokens=settings.llm_max_tokens,
        n_ctx=settings.llm_context_window,
        streaming=True,
        verbose=False,
    )
    context = retriever | RunnableLambda(_format_docs)
    return (
        {"context": context, "question": RunnablePassthrough()}
        | RAG_PROMPT
        | llm
        | StrOutputParser()
    )


chain = build_naive_chain()
app = FastAPI(title="naive seed-style app (benchmark baseline)")


@app.get("/health")
async def health() -> dict[str, str]:
    """Ready once the module (index, embeddings, model) is loaded."""
    return {"status": "ok"}


@app.post("/chat/stream")
async def chat_stream(body: ChatRequest) -> StreamingResponse:
    """Stream the answer text, token by token."""

    async def tokens() -> AsyncIterator[str]:
        async for token in chain.astream(body.question):
            yield token

    return StreamingResponse(tokens(), media_type="text/plain")
