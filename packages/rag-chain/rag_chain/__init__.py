"""The grounded RAG chain (no web code): import ``chain`` or compose its named pieces."""

from rag_chain.budget import token_counter
from rag_chain.chain import (
    USER_KEY,
    RagResources,
    build_chain,
    build_retriever,
    chain,
    default_resources,
    format_sources,
    make_refuse_or_generate,
    make_retrieve,
    resources_from_settings,
    retriever,
)
from rag_chain.conversation import build_chat_chain, make_condense_question
from rag_chain.generation_scope import generation_scope
from rag_chain.llama_supervisor import (
    ModelCrashed,
    ModelStalled,
    ModelUnavailable,
    ModelWorkerError,
    WorkerState,
    WorkerStatus,
)
from rag_chain.llm import chat_model_label
from rag_chain.readable import with_readable_text
from rag_chain.retrieval import visible_owners
from rag_chain.schemas import Question, RagAnswer, ReadableRagAnswer, SourceCitation

__all__ = [
    "USER_KEY",
    "ModelCrashed",
    "ModelStalled",
    "ModelUnavailable",
    "ModelWorkerError",
    "WorkerState",
    "WorkerStatus",
    "Question",
    "RagAnswer",
    "ReadableRagAnswer",
    "RagResources",
    "SourceCitation",
    "build_chain",
    "build_chat_chain",
    "build_retriever",
    "chain",
    "chat_model_label",
    "default_resources",
    "format_sources",
    "generation_scope",
    "make_condense_question",
    "make_refuse_or_generate",
    "make_retrieve",
    "resources_from_settings",
    "retriever",
    "token_counter",
    "visible_owners",
    "with_readable_text",
]
