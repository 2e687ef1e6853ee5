"""The ``verified`` answer mode: the model's sentences the sources do not support are dropped."""

from __future__ import annotations

from pathlib import Path

from rag_chain import build_chain
from rag_chain.verify import SentenceChecker, complete_sentences

from tests.support.fakes import fake_chat_model, fake_resources

QUESTION = "Which port does Quillfeather listen on?"
SUPPORTED = "Quillfeather listens on port 7420 by default."
PLANTED = "It also opens port 9999 for the admin console."  # no 9999 in any source


def _run(tmp_path: Path, reply: str) -> tuple[dict, list[dict]]:  # type: ignore[type-arg]
    res = fake_resources(tmp_path / "data", fake_chat_model(reply), answer_mode="verified")
    chain = build_chain(lambda: res)
    chunks = list(chain.stream({"question": QUESTION}))
    return chain.invoke({"question": QUESTION}), chunks


def test_a_planted_unsupported_sentence_is_dropped_and_said_why(tmp_path: Path) -> None:
    out, chunks = _run(tmp_path, f"{SUPPORTED} {PLANTED}")

    assert out["answer"] == f"{SUPPORTED} [setup.md:1]"
    context = out["context"]
    assert context["answer_mode"] == "verified"
    assert context["dropped"] == [{"text": PLANTED, "reason": "not in the sources: 9999"}]
    assert context["supports"] == [
        {"text": SUPPORTED, "source": "setup.md", "page": None, "start_line": 1, "end_line": 1}
    ]
    assert "fallback" not in context
    assert "sources" in chunks[0] and "answer" not in chunks[0], "sources come first"


def test_nothing_supported_falls_back_to_the_extract(tmp_path: Path) -> None:
    out, _ = _run(tmp_path, "Quillfeather listens on port 9999. The moon is made of cheese.")

    # the extract of the same chunk: the best sentence and the one after it
    assert out["answer"] == f"{SUPPORTED} [setup.md:1]\nChange the port with --port. [setup.md:1]"
    assert out["context"]["fallback"] == "extract"
    assert [d["reason"] for d in out["context"]["dropped"]] == [
        "not in the sources: 9999",
        "no source sentence says this",
    ]


def test_sentences_are_released_once_finished() -> None:
    done, rest = complete_sentences("First one. Second o")
    assert (done, rest) == (["First one."], "Second o")
    done, rest = complete_sentences("- item one\n- item two")
    assert (done, rest) == (["- item one"], "- item two")


def test_a_sentence_without_checkable_words_is_dropped(tmp_path: Path) -> None:
    res = fake_resources(tmp_path / "data", answer_mode="verified")
    hits = res.reader.search(QUESTION, 3)
    verdict = SentenceChecker(hits).check("Yes.")
    assert (verdict.supported, verdict.reason) == (False, "states nothing checkable")


async def test_the_async_path_verifies_the_same_way(tmp_path: Path) -> None:
    res = fake_resources(
        tmp_path / "data", fake_chat_model(f"{SUPPORTED} {PLANTED}"), answer_mode="verified"
    )
    out = await build_chain(lambda: res).ainvoke({"question": QUESTION})
    assert out["answer"] == f"{SUPPORTED} [setup.md:1]"
    assert [d["text"] for d in out["context"]["dropped"]] == [PLANTED]


def test_a_number_moved_from_another_sentence_is_not_supported() -> None:
    from rag_chain.support import Context

    context = Context(
        [
            "The Team plan costs 12 euros per user per month. The Free plan is free. "
            "Search covers every page. Backups are kept for 15 days.",
        ]
    )
    assert context.supports("The Team plan costs 12 euros per user per month.")
    match, reason = context.check("The Team plan costs 15 euros per user per month.")
    assert (match, reason) == (None, "its facts are not where the sources say this")
    # a fact stated in the sentence just before the match still counts (a pronoun's antecedent)
    neighbours = Context(["Team is the plan most companies choose. It costs 12 euros a seat."])
    assert neighbours.supports("Team is the plan most companies choose at 12 euros.")


def test_a_table_row_is_a_statement_of_its_own() -> None:
    """A whole table is not one sentence: '25 GB' and 'RAM' in different rows support nothing."""
    from rag_chain.support import Context, split_sentences

    table = "| resource | minimum |\n|---|---|\n| RAM | 2 GB |\n| disk | 25 GB |"
    assert split_sentences(table)[2:] == ["| RAM | 2 GB |", "| disk | 25 GB |"]
    context = Context(["Hardware you need.\n\n" + table + "\n\nThat is all. Really all of it."])
    assert context.supports("RAM minimum is 2 GB.")
    assert not context.supports("The RAM minimum is 25 GB.")
