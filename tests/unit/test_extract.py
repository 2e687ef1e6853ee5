"""The extract answer mode and the support rule it shares with the evaluation.

Extracted sentences are the documents' own text, cited with the exact lines they stand on (checked
against the file itself, blank lines between paragraphs included); the chain in extract mode never
calls the model, says which mode answered, and refuses with a reason when nothing matches.
"""

from __future__ import annotations

from pathlib import Path

from rag_chain import build_chain
from rag_chain.extract import candidates, extract_answer, render
from rag_chain.retrieval import ScoredChunk
from rag_chain.support import faithfulness, hard_facts, split_sentences, supported
from rag_core.settings import REFUSAL, answer_mode_of, load_settings

from ingest.chunking import chunk_segments
from ingest.loaders import load_markdown
from tests.support.fakes import ExplodingChatModel, fake_resources

GUIDE = """# Quillfeather guide

## Network

Quillfeather listens on port 7420 by default.
Change it with `--port` or `http.port` in `quillfeather.toml`.



The admin page lives under `/admin` and needs the `owner` role.

## Backups

Backups run nightly at 02:00 and are kept for 14 days.
"""


def _chunks(tmp_path: Path, chunk_size: int = 1000) -> tuple[Path, list[ScoredChunk]]:
    path = tmp_path / "guide.md"
    path.write_text(GUIDE)
    docs = chunk_segments(
        load_markdown(path), source="guide.md", chunk_size=chunk_size, chunk_overlap=0
    )
    return path, [ScoredChunk(doc, 0.8 - 0.1 * i) for i, doc in enumerate(docs)]


def test_extracts_are_verbatim_and_cite_their_exact_lines(tmp_path: Path) -> None:
    path, chunks = _chunks(tmp_path)
    lines = path.read_text().splitlines()

    found = extract_answer(chunks, "Which role do I need for the admin page?")

    assert found, "nothing extracted"
    heading, best = found[0], found[1]
    # the sentence stands just below its section's heading, which comes with it
    assert (heading.text, heading.start_line, heading.end_line) == ("## Network", 3, 3)
    assert best.text == "The admin page lives under `/admin` and needs the `owner` role."
    assert (best.source, best.start_line, best.end_line) == ("guide.md", 10, 10)
    assert lines[best.start_line - 1] == best.text  # three blank lines above it in the file
    for extract in found:
        assert extract.start_line is not None and extract.end_line is not None
        cited = "\n".join(lines[extract.start_line - 1 : extract.end_line])
        assert extract.text in cited


def test_a_sentence_over_two_lines_cites_both(tmp_path: Path) -> None:
    path, chunks = _chunks(tmp_path)
    found = extract_answer(chunks, "How do I change the port Quillfeather listens on?")
    texts = [e.text for e in found]
    assert "Change it with `--port` or `http.port` in `quillfeather.toml`." in texts
    first = next(e for e in found if e.text.startswith("Quillfeather listens"))
    assert (first.start_line, first.end_line) == (5, 5)


def test_a_command_named_with_the_questions_words_is_the_answer(tmp_path: Path) -> None:
    """ "reset my password" names `qf admin reset-password`: the compound's parts count as words,
    so the command outranks sentences that merely mention passwords (a README question missed)."""
    path = tmp_path / "login.md"
    path.write_text(
        "# Login\n\nThe one-time password is valid for 24 hours.\n"
        "Choose a new password of at least 12 characters.\n"
        "If it expired, generate a new one with `qf admin reset-password admin`.\n"
    )
    docs = chunk_segments(load_markdown(path), source="login.md", chunk_size=1000, chunk_overlap=0)
    found = extract_answer([ScoredChunk(doc, 0.6) for doc in docs], "How do I reset my password?")
    assert [e.text for e in found] == [
        "# Login",  # its section's heading, just above it
        "If it expired, generate a new one with `qf admin reset-password admin`.",
    ]


OPTIONS = """# Middleware

The following arguments are supported:

* `allow_methods` - A list of HTTP methods allowed for cross-origin requests. Defaults to `['GET']`.
* `max_age` - Sets a maximum time in seconds for browsers to cache responses.
Defaults to `600`.

The order in which configuration values are read is:

* From an environment variable.
* From the `.env` file.
* The default value.
"""


def _option_chunks(tmp_path: Path) -> tuple[list[str], list[ScoredChunk]]:
    path = tmp_path / "middleware.md"
    path.write_text(OPTIONS)
    docs = chunk_segments(
        load_markdown(path), source="middleware.md", chunk_size=1000, chunk_overlap=0
    )
    return path.read_text().splitlines(), [ScoredChunk(doc, 0.6) for doc in docs]


def test_a_list_item_is_extracted_whole_with_its_default(tmp_path: Path) -> None:
    """The default stands in the item's second sentence (on its next line): one unit, two lines."""
    lines, chunks = _option_chunks(tmp_path)
    found = extract_answer(chunks, "How long may browsers cache responses by default?")
    best = max(found, key=lambda e: e.score)
    assert best.text == (
        "* `max_age` - Sets a maximum time in seconds for browsers to cache responses.\n"
        "Defaults to `600`."
    )
    assert (best.start_line, best.end_line) == (6, 7)
    assert "\n".join(lines[5:7]) == best.text


def test_a_colon_brings_its_short_list_but_not_a_list_of_described_arguments(
    tmp_path: Path,
) -> None:
    _, chunks = _option_chunks(tmp_path)
    found = extract_answer(chunks, "In which order are configuration values read?")
    assert [(e.text, e.start_line, e.end_line) for e in found][0] == (
        "The order in which configuration values are read is:\n\n"
        "* From an environment variable.\n* From the `.env` file.\n* The default value.",
        9,
        13,
    )
    assert render(found[:1]) == [
        "The order in which configuration values are read is:\n* From an environment variable.\n"
        "* From the `.env` file.\n* The default value. [middleware.md:9-13]"
    ]
    # items of 80+ characters describe arguments: the introduction takes only the first one
    units = [e.text for e in candidates(chunks, "Which arguments are supported?")]
    assert units[0] == (
        "The following arguments are supported:\n\n"
        "* `allow_methods` - A list of HTTP methods allowed for cross-origin requests. "
        "Defaults to `['GET']`."
    )


TESTCLIENT = """# Test Client

## Testing error responses

By default the `TestClient` will raise any exceptions that occur in the application.
Occasionally you might want to test the content of 500 error responses, rather than allowing
client to raise the server exception. In this case you should use
`client = TestClient(app, raise_server_exceptions=False)`.

## Lifespan

If you want the `TestClient` to run the lifespan handler, use it as a context manager.
"""


def _testclient_chunks(tmp_path: Path, text: str = TESTCLIENT) -> list[ScoredChunk]:
    path = tmp_path / "testclient.md"
    path.write_text(text)
    docs = chunk_segments(
        load_markdown(path), source="testclient.md", chunk_size=1000, chunk_overlap=0
    )
    return [ScoredChunk(doc, 0.5) for doc in docs]


def test_the_sentence_after_one_restating_the_question_comes_along(tmp_path: Path) -> None:
    """The sentence sharing most words with the question restates it; the answer is the next one,
    which shares almost none (a Starlette question the extract missed)."""
    found = extract_answer(
        _testclient_chunks(tmp_path),
        "I want to assert on the body of a 500 page in a test, but the client just re-raises the "
        "exception. How do I stop that?",
    )
    texts = [e.text for e in found]
    restating = (
        "Occasionally you might want to test the content of 500 error responses, rather than "
        "allowing\nclient to raise the server exception."
    )
    answer = (
        "In this case you should use\n`client = TestClient(app, raise_server_exceptions=False)`."
    )
    assert texts[texts.index(restating) + 1] == answer
    follower = found[texts.index(answer)]
    assert (follower.start_line, follower.end_line) == (7, 8)


def test_a_long_follower_is_left_out(tmp_path: Path) -> None:
    """The answer after a restated question is one short sentence; a long code block is a dump."""
    question = "How do I make the test client run the lifespan handler?"
    lifespan = (
        "If you want the `TestClient` to run the lifespan handler, use it as a context manager."
    )
    short_code = "```python\nwith TestClient(app) as client:\n    ...\n```"
    long_code = "```python\n" + "client = TestClient(app)\n" * 8 + "```"
    for code, expected in ((short_code, [lifespan, short_code]), (long_code, [lifespan])):
        text = TESTCLIENT.replace("manager.\n", f"manager.\n\n{code}\n")
        found = extract_answer(_testclient_chunks(tmp_path, text), question)
        assert [e.text for e in found] == ["## Lifespan", *expected]


PLUGINS = """# Third Party Packages

### httpx-retries

[GitHub](https://github.com/will-ockmore/httpx-retries)

A retry layer for HTTPX.

### httpx-sse

[GitHub](https://github.com/florimondmanca/httpx-sse)

Allows consuming Server-Sent Events (SSE) with HTTPX.

### httpx-ws

[GitHub](https://github.com/frankie567/httpx-ws)

WebSocket support for HTTPX.
"""


def _section_chunks(tmp_path: Path, name: str, text: str) -> list[ScoredChunk]:
    path = tmp_path / name
    path.write_text(text)
    docs = chunk_segments(load_markdown(path), source=name, chunk_size=2000, chunk_overlap=0)
    return [ScoredChunk(doc, 0.5) for doc in docs]


def test_a_sentence_just_below_its_heading_brings_the_heading(tmp_path: Path) -> None:
    """The package asked for is the section's heading; its sentence has no subject (HTTPX docs)."""
    chunks = _section_chunks(tmp_path, "third_party_packages.md", PLUGINS)
    found = extract_answer(chunks, "Is there a package for consuming Server-Sent Events?")
    assert [(e.text, e.start_line) for e in found] == [
        ("### httpx-sse", 9),
        ("Allows consuming Server-Sent Events (SSE) with HTTPX.", 13),
    ]


def test_a_sentence_far_below_its_heading_or_under_a_code_comment_brings_none(
    tmp_path: Path,
) -> None:
    """Past HEADING_REACH the heading is no longer what the sentence is about; a ``#`` line in a
    code block is a comment."""
    far = (
        "# Retries\n\n"
        + "Transports can be configured in many ways. " * 5
        + ("\n\nConnection retries are also available via this interface.\n")
    )
    commented = "```python\n# Retry twice.\nx = 1\n```\n\nConnection retries are available.\n"
    for name, text in (("far.md", far), ("commented.md", commented)):
        found = extract_answer(
            _section_chunks(tmp_path, name, text), "Are connection retries available?"
        )
        assert not any(e.text.startswith("#") for e in found), name


HIERARCHY = """# Exceptions

## The exception hierarchy

* HTTPError
    * RequestError
        * TransportError
            * TimeoutException
                * ConnectTimeout
                * ReadTimeout
            * NetworkError
                * ConnectError
                * ReadError
                * WriteError
            * ProxyError
    * HTTPStatusError
* InvalidURL
"""


def test_a_nested_list_item_brings_the_item_it_is_nested_under(tmp_path: Path) -> None:
    """In a hierarchy the answer to "what groups these" is the parent item (HTTPX docs)."""
    chunks = _section_chunks(tmp_path, "exceptions.md", HIERARCHY)
    found = extract_answer(
        chunks, "Which exception class groups ConnectError, ReadError and WriteError?"
    )
    assert [e.text for e in found] == [
        "* NetworkError",
        "* ConnectError",
        "* ReadError",
        "* WriteError",
    ]


RANGES = """# Responses

File responses also support HTTP range requests.
The `Accept-Ranges: bytes` header is included in the response if the file exists.

If the range is invalid, the response will be a `416 Range Not Satisfiable` response.

GraphQL support now comes from 3rd party libraries.
GraphQL support was removed in version 0.17.0.
"""


def test_a_status_code_or_a_version_is_a_number_asked_for(tmp_path: Path) -> None:
    """ "Which status" and "when did" ask for a number; "3rd" is no number."""
    path = tmp_path / "responses.md"
    path.write_text(RANGES)
    docs = chunk_segments(
        load_markdown(path), source="responses.md", chunk_size=1000, chunk_overlap=0
    )
    chunks = [ScoredChunk(doc, 0.5) for doc in docs]

    def best(question: str) -> str:
        return max(candidates(chunks, question), key=lambda e: e.score).text

    assert best("Which status does a file response send when the requested range is invalid?") == (
        "If the range is invalid, the response will be a `416 Range Not Satisfiable` response."
    )
    # both share "GraphQL support" with the question; the first would win a tie
    assert best("When did GraphQL support go away?") == (
        "GraphQL support was removed in version 0.17.0."
    )


def test_nothing_in_common_extracts_nothing(tmp_path: Path) -> None:
    _, chunks = _chunks(tmp_path)
    assert extract_answer(chunks, "zebra migration patterns") == []


def test_the_chain_in_extract_mode_answers_without_the_model(tmp_path: Path) -> None:
    model = ExplodingChatModel()
    res = fake_resources(tmp_path / "data", model, answer_mode="extract")
    out = build_chain(lambda: res).invoke({"question": "Which port does Quillfeather listen on?"})

    # the second sentence shares only "port" with the question: it comes as the best one's follower
    assert out["answer"] == (
        "Quillfeather listens on port 7420 by default. [setup.md:1]\n"
        "Change the port with --port. [setup.md:1]"
    )
    assert model.calls == 0
    context = out["context"]
    assert context["answer_mode"] == "extract"
    assert context["supports"] == [
        {
            "text": text,
            "source": "setup.md",
            "page": None,
            "start_line": 1,
            "end_line": 1,
        }
        for text in (
            "Quillfeather listens on port 7420 by default.",
            "Change the port with --port.",
        )
    ]
    assert [s["source"] for s in out["sources"]] == ["setup.md"]  # only what the answer cites


def test_the_chain_in_extract_mode_refuses_with_its_reason(tmp_path: Path) -> None:
    res = fake_resources(tmp_path / "data", ExplodingChatModel(), answer_mode="extract")
    out = build_chain(lambda: res).invoke({"question": "Quels sont les meilleurs fromages?"})
    assert out["answer"] == REFUSAL and out["sources"] == []
    assert out["context"]["refused"] is True
    assert out["context"]["refusal_reason"] == (
        "the best chunk's relevance 0.10 is below RAG_SCORE_THRESHOLD=0.26"
    )


def test_generate_mode_says_so(tmp_path: Path) -> None:
    res = fake_resources(tmp_path / "data", answer_mode="generate")
    out = build_chain(lambda: res).invoke({"question": "How much does the Team plan cost?"})
    assert out["context"]["answer_mode"] == "generate"
    assert "supports" not in out["context"]


def test_auto_mode_extracts_for_the_embedded_model_only(tmp_path: Path) -> None:
    assert answer_mode_of(load_settings(data_dir=tmp_path)) == "extract"
    assert answer_mode_of(load_settings(data_dir=tmp_path, llm="ollama")) == "generate"
    assert (
        answer_mode_of(
            load_settings(data_dir=tmp_path, llm="openai", openai_base_url="http://127.0.0.1:1/v1")
        )
        == "generate"
    )
    assert answer_mode_of(load_settings(data_dir=tmp_path, answer_mode="generate")) == "generate"


CONTEXT = [
    "Quillfeather listens on port 7420 by default. Change the port with --port.",
    "The Team plan costs 12 euros per user per month.",
]


def test_a_wrong_number_beside_right_words_is_unsupported() -> None:
    checks = supported(
        "Quillfeather listens on port 7420. The Team plan costs 15 euros per user per month.",
        CONTEXT,
    )
    assert checks == [
        ("Quillfeather listens on port 7420.", True),
        ("The Team plan costs 15 euros per user per month.", False),
    ]


def test_an_invented_identifier_is_unsupported_and_empty_sentences_count_as_none() -> None:
    assert supported("Change the port with `--listen-port`.", CONTEXT) == [
        ("Change the port with `--listen-port`.", False)
    ]
    assert supported("Yes.", CONTEXT) == [("Yes.", False)]
    assert faithfulness("", CONTEXT) is None
    assert faithfulness("The Team plan costs 12 euros per user per month. Yes.", CONTEXT) == 0.5


def test_hard_facts_and_sentences() -> None:
    assert hard_facts('Run `qf backup` on port 7420 with --force as "Team plan" user_name') == {
        "qf backup",
        "7420",
        "--force",
        "team plan",
        "user_name",
    }
    assert split_sentences("## Heading\n\nOne. Two!\n\n- item three") == [
        "One.",
        "Two!",
        "- item three",
    ]
