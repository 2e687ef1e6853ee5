"""The OpenAI-compatible API on a real server (real tiny model, sample index, API keys on),
driven by the official ``openai`` package and LangChain's ``ChatOpenAI``, whole and streamed."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage
from langchain_openai import ChatOpenAI
from rag_core.settings import REFUSAL

from tests.support.admin import create_key
from tests.support.servers import LiveServer, start_server

pytestmark = pytest.mark.slow

MODEL = "quill-rag"
PORT_Q = "Which port does Quillfeather listen on?"
PRICE_Q = "How much does the Team plan cost per user per month?"
OFF_DOMAIN_Q = "What is the capital of France?"


@pytest.fixture(scope="module")
def secured(
    tmp_path_factory: pytest.TempPathFactory, sample_index: dict[str, str]
) -> Iterator[tuple[LiveServer, str]]:
    """A real server over the sample index with API keys on, and a key for it."""
    tmp = tmp_path_factory.mktemp("openai")
    env = {
        **sample_index,
        "RAG_AUTH": "apikey",
        "RAG_DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'history.sqlite'}",
        # Short answers: each one costs seconds of the tiny model on 2 shared cores.
        "RAG_LLM_MAX_TOKENS": "96",
    }
    key = create_key(env, "tester")
    server = start_server(env, log_path=tmp / "server.log")
    yield server, key
    server.stop()


def _client(secured: tuple[LiveServer, str], key: str | None = None) -> openai.OpenAI:
    server, good = secured
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=key or good, timeout=180)


def _cites_sources(text: str, sources: list[dict[str, object]]) -> None:
    """The text ends with one numbered line per source, in the order of ``sources``."""
    assert sources, "an in-domain question must cite sources"
    body, _, footer = text.rpartition("\n\nSources:\n")
    assert body.strip(), "an answer comes before the citations"
    lines = footer.splitlines()
    assert [line.split("] ")[0] for line in lines] == [f"[{n}" for n in range(1, len(sources) + 1)]
    for line, source in zip(lines, sources, strict=True):
        assert line.split("] ", 1)[1].startswith(f"{source['source']}, lines ")


def test_openai_client_lists_the_model_and_answers_whole_and_streamed(
    secured: tuple[LiveServer, str],
) -> None:
    client = _client(secured)
    assert [m.id for m in client.models.list()] == [MODEL]

    whole = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": PORT_Q}], temperature=0.2
    )
    text = whole.choices[0].message.content or ""
    sources = (whole.model_extra or {})["sources"]
    assert text != REFUSAL and whole.choices[0].finish_reason == "stop"
    assert "getting-started.md" in {s["source"] for s in sources}
    _cites_sources(text, sources)
    assert whole.usage is not None and whole.usage.completion_tokens > 0

    stream = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": PRICE_Q}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    first = chunks[0]
    assert first.choices[0].delta.role == "assistant"
    streamed_sources = (first.model_extra or {})["sources"]
    assert "pricing.md" in {s["source"] for s in streamed_sources}
    pieces = [
        c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content
    ]
    assert len(pieces) > 3, "the answer streams in pieces"
    _cites_sources("".join(pieces), streamed_sources)
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None

    refused = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": OFF_DOMAIN_Q}]
    )
    assert refused.choices[0].message.content == REFUSAL
    assert (refused.model_extra or {})["sources"] == []


def test_openai_client_errors_are_typed(secured: tuple[LiveServer, str]) -> None:
    with pytest.raises(openai.AuthenticationError):
        _client(secured, key="rag_wrong_key").models.list()
    with pytest.raises(openai.AuthenticationError):
        _client(secured, key="rag_wrong_key").chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": PORT_Q}]
        )
    with pytest.raises(openai.NotFoundError) as missing:
        _client(secured).chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": PORT_Q}]
        )
    assert missing.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as no_question:
        _client(secured).chat.completions.create(
            model=MODEL, messages=[{"role": "system", "content": "Be brief."}]
        )
    assert no_question.value.param == "messages"


def test_langchain_chat_openai_invokes_and_streams(secured: tuple[LiveServer, str]) -> None:
    server, key = secured
    llm = ChatOpenAI(base_url=f"{server.url}/v1", api_key=key, model=MODEL, timeout=180)  # type: ignore[arg-type]

    answer = llm.invoke([HumanMessage(PRICE_Q)])
    assert isinstance(answer, AIMessage)
    assert isinstance(answer.content, str) and answer.content != REFUSAL
    assert "\n\nSources:\n[1] " in answer.content and "pricing.md, lines " in answer.content

    chunks = list(llm.stream(PORT_Q))
    assert all(isinstance(c, AIMessageChunk) for c in chunks)
    text = "".join(str(c.content) for c in chunks)
    assert len([c for c in chunks if c.content]) > 3, "the answer streams in pieces"
    assert text.split("\n\nSources:\n")[0].strip() and "getting-started.md" in text
    assert llm.invoke(OFF_DOMAIN_Q).content == REFUSAL
