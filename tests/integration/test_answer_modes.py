"""The embedded default answers in extract mode: the documents' own sentences, exactly cited.

Real server, real index of the samples, the README's own questions; every sentence of the answer is
checked against the cited lines of the cited sample file, and the model is never asked.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.support.servers import LiveServer

pytestmark = pytest.mark.slow

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


@pytest.mark.parametrize(
    ("question", "fact"),
    [
        ("Which port does Quillfeather listen on?", "7420"),
        ("How much does the Team plan cost?", "$8 per user per month"),
    ],
)
def test_the_default_answer_is_verbatim_and_cited_by_line(
    sample_index: dict[str, str],
    live_server: Callable[..., LiveServer],
    question: str,
    fact: str,
) -> None:
    env = {k: v for k, v in sample_index.items() if k != "RAG_ANSWER_MODE"}  # the default
    server = live_server(env)
    before = httpx.get(f"{server.url}/metrics", timeout=10).text
    body = httpx.post(f"{server.url}/chat", json={"question": question}, timeout=60).json()

    assert body["context"]["answer_mode"] == "extract"
    supports = body["context"]["supports"]
    assert supports, body
    for support in supports:
        lines = (SAMPLES / support["source"]).read_text().splitlines()
        cited = "\n".join(lines[support["start_line"] - 1 : support["end_line"]])
        assert support["text"] in cited, (support, cited)
        label = f"{support['source']}:{support['start_line']}"
        if "```" in support["text"]:  # a code block keeps its lines; the citation follows it
            shown = support["text"].strip() + "\n["
        else:  # prose is re-flowed onto one line
            shown = " ".join(support["text"].split()) + " ["
        assert f"{shown}{label}" in body["answer"]  # the text, then its citation
    assert fact in body["answer"]
    assert {s["source"] for s in supports} <= {s["source"] for s in body["sources"]}
    after = httpx.get(f"{server.url}/metrics", timeout=10).text
    generated = re.compile(r"^rag_llm_tokens_generated_total (\S+)$", re.MULTILINE)
    assert generated.findall(before) == generated.findall(after)  # the model was not asked


def test_verified_mode_keeps_only_sentences_the_sources_support(
    sample_index: dict[str, str], live_server: Callable[..., LiveServer]
) -> None:
    """The real SmolLM2 writes; every sentence left in the answer is supported by the file it
    cites (the one support rule), and each dropped one is listed with its reason."""
    from rag_chain.support import Context, answer_sentences

    server = live_server({**sample_index, "RAG_ANSWER_MODE": "verified"})
    question = "How much does the Team plan cost?"
    body = httpx.post(f"{server.url}/chat", json={"question": question}, timeout=120).json()

    context = body["context"]
    assert context["answer_mode"] == "verified"
    assert all(d["reason"] for d in context["dropped"])
    assert context["supports"], body
    cited_files = {s["source"] for s in context["supports"]}
    files = Context((SAMPLES / name).read_text() for name in cited_files)
    for sentence in answer_sentences(body["answer"]):
        assert files.supports(sentence), (sentence, body)
