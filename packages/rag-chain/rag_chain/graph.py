"""The same RAG chain as a LangGraph graph, for ``langgraph dev`` / LangGraph Studio (langgraph.json).

One node runs the published chain, so the graph and ``/rag`` can never disagree on retrieval,
refusal or prompt. The node is sync on purpose: LangGraph runs sync nodes in a worker thread,
whereas a sync ``chain.invoke`` inside an ``async`` node would block the dev server's event loop.
"""

from __future__ import annotations

from typing import Any, TypedDict

from langchain_core.runnables import Runnable, RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from rag_chain.chain import ResourceProvider, build_chain, default_resources


class RagState(TypedDict, total=False):
    """Graph state: the question in, the answer and its citations out."""

    question: str
    answer: str
    sources: list[dict[str, Any]]


def build_graph(provider: ResourceProvider = default_resources) -> CompiledStateGraph:
    """A one-node graph answering ``{"question"}`` with the chain built over ``provider``."""
    chain: Runnable = build_chain(provider)

    def answer(state: RagState, config: RunnableConfig) -> RagState:
        result = chain.invoke({"question": state["question"]}, config)
        return {"answer": result["answer"], "sources": result["sources"]}

    builder = StateGraph(RagState)
    builder.add_node("answer", answer)
    builder.add_edge(START, "answer")
    builder.add_edge("answer", END)
    return builder.compile(name="rag")


graph = build_graph()
