"""Drive the real LangChain/Ollama/OpenAI client stacks against the loopback stub server.

These tests pin down both the stub's wire formats and how each client reacts to server
failures, so tests elsewhere can rely on the exception types asserted here.
"""

from __future__ import annotations

import math
import threading
import time

import httpx
import ollama
import openai
import pytest
from langchain_ollama import ChatOllama, OllamaEmbeddings
from langchain_openai import ChatOpenAI, OpenAIEmbeddings

from tests.support.llm_stub_server import StubLLMServer, embed_text
from tests.support.servers import free_port

QUESTION = "What does the quarterly report say about revenue growth in Europe?"
# "Stub answer: " + first 8 words of the question, one word per chunk.
EXPECTED_TOKENS = [
    "Stub",
    " answer:",
    " What",
    " does",
    " the",
    " quarterly",
    " report",
    " say",
    " about",
    " revenue",
]
EXPECTED = "".join(EXPECTED_TOKENS)


@pytest.fixture(scope="module")
def shared_server():
    with StubLLMServer() as server:
        yield server


@pytest.fixture
def srv(shared_server):
    """One server per module (start/stop costs ~0.2 s); every test starts from defaults."""
    shared_server.reset()
    shared_server.behavior, shared_server.reply, shared_server.token_delay = "ok", None, 0.0
    return shared_server


def ollama_chat(server: StubLLMServer, timeout: float = 5) -> ChatOllama:
    return ChatOllama(
        base_url=server.base_url,
        model="llama3.1:8b",
        temperature=0,
        client_kwargs={"timeout": timeout},
    )


def openai_chat(server: StubLLMServer, timeout: float = 5, **kw) -> ChatOpenAI:
    # max_retries=0: the openai client otherwise retries 500s/connection errors with backoff.
    return ChatOpenAI(
        base_url=server.openai_base_url,
        api_key="x",
        model="gpt-x",
        timeout=timeout,
        max_retries=0,
        **kw,
    )


def texts(chunks) -> list[str]:
    """Drop the empty chunks both integrations add (role/done/final-marker chunks)."""
    return [c.content for c in chunks if c.content]


# ---- lifecycle ----------------------------------------------------------------------
def test_binds_loopback_free_port_and_validates_behavior():
    port = free_port()
    assert 1024 < port < 65536
    with StubLLMServer() as a, StubLLMServer() as b:
        assert a.base_url.startswith("http://127.0.0.1:") and a.port != b.port
        assert httpx.get(a.base_url + "/").text == "Ollama is running"
        with pytest.raises(ValueError):
            a.behavior = "explode"


# ---- Ollama -------------------------------------------------------------------------
def test_ollama_invoke_and_request_recording(srv):
    msg = ollama_chat(srv).invoke(QUESTION)
    assert msg.content == EXPECTED
    assert msg.response_metadata["done_reason"] == "stop"
    assert msg.usage_metadata["output_tokens"] == len(EXPECTED_TOKENS)
    path, body = srv.requests[-1]
    assert path == "/api/chat"
    assert body["model"] == "llama3.1:8b"
    assert body["options"]["temperature"] == 0
    assert body["stream"] is True  # ChatOllama streams even for .invoke
    assert body["messages"] == [{"role": "user", "content": QUESTION}]
    assert srv.tokens_sent == len(EXPECTED_TOKENS)


def test_ollama_stream_is_token_by_token(srv):
    assert texts(ollama_chat(srv).stream(QUESTION)) == EXPECTED_TOKENS


async def test_ollama_astream_is_token_by_token(srv):
    chunks = [c async for c in ollama_chat(srv).astream(QUESTION)]
    assert texts(chunks) == EXPECTED_TOKENS


def test_ollama_non_streaming_and_reply_override(srv):
    srv.reply = "Fixed reply here"
    resp = ollama.Client(host=srv.base_url).chat(
        model="llama3.1:8b", messages=[{"role": "user", "content": "hi"}], stream=False
    )
    assert resp.message.content == "Fixed reply here"
    assert resp.done and resp.eval_count == 3
    assert srv.requests[-1][1]["stream"] is False


def test_ollama_metadata_endpoints(srv):
    # validate_model_on_init is the only metadata call langchain_ollama makes (GET /api/tags).
    ChatOllama(base_url=srv.base_url, model="llama3.1:8b", validate_model_on_init=True)
    ChatOllama(base_url=srv.base_url, model="llama3.1", validate_model_on_init=True)
    with pytest.raises(ValueError, match="not found"):
        ChatOllama(base_url=srv.base_url, model="mistral", validate_model_on_init=True)
    client = ollama.Client(host=srv.base_url)
    assert "completion" in client.show("llama3.1:8b").capabilities
    with pytest.raises(ollama.ResponseError):
        client.show("mistral")
    assert httpx.get(srv.base_url + "/api/version").json()["version"]


def test_ollama_embeddings_deterministic_and_normalised(srv):
    emb = OllamaEmbeddings(base_url=srv.base_url, model="nomic-embed-text")
    docs = ["Revenue grew in Europe.", "The cat sat on the mat."]
    first, again = emb.embed_documents(docs), emb.embed_documents(docs)
    assert first == again and len(first) == 2 and len(first[0]) == 64
    assert all(math.isclose(sum(v * v for v in vec), 1.0) for vec in first)
    assert first[0] != first[1]
    query = emb.embed_query("Revenue grew in Europe.")
    assert query == first[0] == embed_text("Revenue grew in Europe.")
    # Shared words => higher cosine, so retrieval tests over the stub are meaningful.
    q = emb.embed_query("How did revenue grow in Europe?")
    assert sum(a * b for a, b in zip(q, first[0], strict=True)) > sum(
        a * b for a, b in zip(q, first[1], strict=True)
    )
    path, body = srv.requests[-1]
    assert path == "/api/embed" and body["model"] == "nomic-embed-text"
    assert body["input"] == ["How did revenue grow in Europe?"]  # always a list, even for a query


async def test_ollama_async_embeddings_match_sync(srv):
    emb = OllamaEmbeddings(base_url=srv.base_url, model="nomic-embed-text")
    assert await emb.aembed_query("hello world") == emb.embed_query("hello world")


# ---- OpenAI -------------------------------------------------------------------------
def test_openai_invoke_and_stream(srv):
    llm = openai_chat(srv, temperature=0.2, stream_usage=True)
    msg = llm.invoke(QUESTION)
    assert msg.content == EXPECTED
    path, body = srv.requests[-1]
    assert path == "/v1/chat/completions" and body["model"] == "gpt-x"
    assert body["temperature"] == 0.2 and not body["stream"]
    chunks = list(llm.stream(QUESTION))
    assert texts(chunks) == EXPECTED_TOKENS
    assert srv.requests[-1][1]["stream"] is True
    total = chunks[0]
    for c in chunks[1:]:
        total += c
    assert total.usage_metadata["output_tokens"] == len(EXPECTED_TOKENS)


async def test_openai_astream(srv):
    chunks = [c async for c in openai_chat(srv).astream(QUESTION)]
    assert texts(chunks) == EXPECTED_TOKENS


def test_openai_embeddings_and_models(srv):
    # check_embedding_ctx_length=False: otherwise tiktoken wants to download its encodings.
    emb = OpenAIEmbeddings(
        base_url=srv.openai_base_url,
        api_key="x",
        model="text-embedding-3",
        check_embedding_ctx_length=False,
        max_retries=0,
    )
    # OpenAIEmbeddings asks for base64 (float32) by default, hence approx.
    assert emb.embed_query("hello world") == pytest.approx(embed_text("hello world"), abs=1e-6)
    assert srv.requests[-1][1]["encoding_format"] == "base64"
    client = openai.OpenAI(base_url=srv.openai_base_url, api_key="x", max_retries=0)
    resp = client.embeddings.create(model="m", input=["hello", "world"], encoding_format="float")
    assert [d.embedding for d in resp.data] == [embed_text("hello"), embed_text("world")]
    assert [m.id for m in client.models.list()] == list(srv.models)


# ---- failure behaviours ---------------------------------------------------------------
def test_error_behavior_raises_in_both_clients(srv):
    srv.behavior = "error"
    with pytest.raises(ollama.ResponseError) as exc:
        ollama_chat(srv).invoke("hi")
    assert exc.value.status_code == 500
    with pytest.raises(ollama.ResponseError):
        OllamaEmbeddings(base_url=srv.base_url, model="nomic-embed-text").embed_query("x")
    with pytest.raises(openai.InternalServerError):
        openai_chat(srv).invoke("hi")
    with pytest.raises(openai.InternalServerError):
        list(openai_chat(srv).stream("hi"))
    srv.behavior = "ok"  # switchable at runtime
    assert ollama_chat(srv).invoke("hi").content == "Stub answer: hi"


def test_cut_behavior(srv):
    # What really happens on "cut" (2 tokens, then the socket closes mid chunked body):
    # - ollama client: does not wrap it; the raw httpx.RemoteProtocolError ("incomplete
    #   chunked read") escapes from .stream after the 2 tokens and from .invoke.
    # - openai client: wraps it as openai.APIConnectionError (langchain_openai subclass
    #   OpenAIConnectionError), again after the 2 tokens were yielded.
    # Neither client silently ends early, so callers do see an error.
    srv.behavior = "cut"
    got: list[str] = []
    with pytest.raises(httpx.RemoteProtocolError):
        for chunk in ollama_chat(srv).stream(QUESTION):
            got.append(chunk.content)
    assert got == EXPECTED_TOKENS[:2]
    with pytest.raises(httpx.RemoteProtocolError):
        ollama_chat(srv).invoke(QUESTION)

    chunks = []
    with pytest.raises(openai.APIConnectionError) as exc:
        for chunk in openai_chat(srv).stream(QUESTION):
            chunks.append(chunk)
    assert not isinstance(exc.value, openai.APITimeoutError)
    assert texts(chunks) == EXPECTED_TOKENS[:2]
    # Non-streamed answers are cut half way through a Content-Length body.
    with pytest.raises(openai.APIConnectionError):
        openai_chat(srv).invoke(QUESTION)
    assert srv.tokens_sent == 6  # 2 per streamed request, none for non-streamed


def test_stall_times_out_within_client_timeout(srv):
    srv.behavior = "stall"
    ollama_llm, openai_llm = ollama_chat(srv, timeout=0.5), openai_chat(srv, timeout=0.5)
    got: list[str] = []
    start = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):  # the ollama client leaks raw httpx timeouts
        for chunk in ollama_llm.stream(QUESTION):
            got.append(chunk.content)
    assert time.monotonic() - start < 1.5
    assert got == ["Stub"]  # headers and the first token arrived, then silence

    start = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        openai_llm.invoke(QUESTION)
    assert time.monotonic() - start < 1.5
    # One token for the streamed stall, none for the non-streamed one: generation halted.
    assert srv.tokens_sent == 1


def test_stalled_request_does_not_block_shutdown():
    srv = StubLLMServer(behavior="stall").start()
    errors: list[Exception] = []

    def call() -> None:  # no client timeout: only the server's shutdown can end this
        try:
            list(ollama_chat(srv, timeout=30).stream("hi"))
        except Exception as e:
            errors.append(e)

    t = threading.Thread(target=call)
    t.start()
    deadline = time.monotonic() + 5
    while srv.tokens_sent < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    start = time.monotonic()
    srv.close()  # raises if uvicorn's thread is still alive after 5 s
    t.join(timeout=5)
    assert time.monotonic() - start < 2
    assert not t.is_alive()
    # The stalled stream is dropped mid chunked body, so the caller sees an error, not EOF.
    assert errors and isinstance(errors[0], httpx.RemoteProtocolError)


def test_client_disconnect_stops_generation(srv):
    srv.behavior, srv.token_delay, srv.reply = "slow", 0.05, " ".join(["w"] * 40)
    stream = ollama_chat(srv).stream("hi")
    assert [next(stream).content for _ in range(2)] == ["w", " w"]
    stream.close()  # closes the HTTP response; the server sees the disconnect
    time.sleep(0.2)
    sent = srv.tokens_sent
    time.sleep(0.2)
    assert srv.tokens_sent == sent < 10
