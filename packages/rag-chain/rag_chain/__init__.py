"""The grounded RAG chain (no web code): import ``chain`` or compose its named pieces."""

from rag_chain.chain import (
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
from rag_chain.llama_supervisor import (
    ModelCrashed,
    ModelUnavailable,
    ModelWorkerError,
    WorkerState,
    WorkerStatus,
)
from rag_chain.schemas import Question, RagAnswer, SourceCitation

__all__ = [
    "ModelCrashed",
    "ModelUnavailable",
    "ModelWorkerError",
    "WorkerState",
    "WorkerStatus",
    "Question",
    "RagAnswer",
    "RagResources",
    "SourceCitation",
    "build_chain",
    "build_retriever",
    "chain",
    "default_resources",
    "format_sources",
    "make_refuse_or_generate",
    "make_retrieve",
    "resources_from_settings",
    "retriever",
]
