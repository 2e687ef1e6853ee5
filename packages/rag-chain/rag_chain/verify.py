"""The ``verified`` answer mode: the model writes, then every sentence is checked against the sources.

Why: a model's prose reads better than copied sentences, but the embedded 135M model states wrong
facts beside correct citations. Verification keeps the prose where it is *supported* (the one rule
of :mod:`rag_chain.support`: its numbers, identifiers and quoted terms occur in the sources, and
most of its words stand in one source sentence) and **drops** every other sentence, saying which
and why in ``context.dropped``. When nothing supported is left, the answer falls back to
``extract`` (the sources' own best sentences), and when that is empty too, to the refusal.

Streaming: a sentence is released as soon as the model has finished it and it passed the check,
so the answer still arrives progressively (sentence by sentence rather than token by token).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from langchain_core.runnables.utils import AddableDict

from rag_chain.extract import citation_label, extract_answer, line_map_of, line_of, render
from rag_chain.retrieval import ScoredChunk
from rag_chain.support import CITATION, Context

#: A sentence is complete once text follows its end mark (or a blank line / list item starts).
_BOUNDARY = re.compile(r"(?<=[.!?])\s+(?=\S)|\n\s*\n|\n(?=\s*(?:[-*+]|\d+\.)\s)")


@dataclass(frozen=True)
class Verdict:
    """One sentence of the model's answer and what the check found."""

    text: str
    supported: bool
    reason: str | None = None  # why it was dropped
    source: str | None = None
    page: int | None = None
    start_line: int | None = None
    end_line: int | None = None

    def support(self) -> dict[str, object]:
        """The per-sentence support record (same shape as extract mode's)."""
        return {
            "text": self.text,
            "source": self.source or "",
            "page": self.page,
            "start_line": self.start_line,
            "end_line": self.end_line,
        }

    def dropped(self) -> dict[str, object]:
        """What ``context.dropped`` lists for an unsupported sentence."""
        return {"text": self.text, "reason": self.reason or "unsupported"}


class SentenceChecker:
    """Checks sentences against the chunks the model was given, and cites the supporting one."""

    def __init__(self, chunks: list[ScoredChunk]) -> None:
        self.chunks = chunks
        self.context = Context(c.document.page_content for c in chunks)

    def check(self, sentence: str) -> Verdict:
        """Supported (with the supporting sentence's place) or dropped (with the reason)."""
        match, reason = self.context.check(CITATION.sub("", sentence).strip())
        if match is None:
            return Verdict(sentence, False, reason)
        chunk = self.chunks[match.text_index]
        meta = chunk.document.metadata
        text = chunk.document.page_content
        first = line_of(text, match.start, line_map_of(meta))
        last = None if first is None else first + text.count("\n", match.start, match.end)
        page = meta.get("page")
        return Verdict(
            sentence,
            True,
            source=str(meta.get("source", "")),
            page=page if isinstance(page, int) else None,
            start_line=first,
            end_line=last,
        )


def complete_sentences(buffer: str) -> tuple[list[str], str]:
    """Split streamed text into the sentences already finished and the unfinished rest."""
    done: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(buffer):
        piece = buffer[start : match.start()]
        if piece.strip():
            done.append(piece)
        start = match.end()
    return done, buffer[start:]


class VerifiedAnswer:
    """Turns the model's token stream into the verified answer's output chunks.

    Fed token by token (:meth:`feed`), it releases each finished sentence that the sources support,
    with its citation; :meth:`finish` releases the last one and the final ``context`` (``supports``
    of the kept sentences, ``dropped`` ones with their reason, and ``fallback`` when nothing was
    left and the answer became an extract or the refusal).
    """

    def __init__(self, question: str, chunks: list[ScoredChunk]) -> None:
        self.question = question
        self.chunks = chunks
        self.checker = SentenceChecker(chunks)
        self.buffer = ""
        self.kept: list[Verdict] = []
        self.dropped: list[Verdict] = []

    def feed(self, token: str) -> list[AddableDict]:
        """Output chunks released by one more token (usually none, a sentence at a time)."""
        self.buffer += token
        sentences, self.buffer = complete_sentences(self.buffer)
        return [piece for sentence in sentences for piece in self._judge(sentence)]

    def _judge(self, sentence: str) -> list[AddableDict]:
        verdict = self.checker.check(" ".join(sentence.split()))
        if not verdict.supported:
            self.dropped.append(verdict)
            return []
        self.kept.append(verdict)
        label = citation_label(
            verdict.source or "", verdict.page, verdict.start_line, verdict.end_line
        )
        lead = "\n" if len(self.kept) > 1 else ""
        return [AddableDict(answer=f"{lead}{CITATION.sub('', verdict.text).strip()} [{label}]")]

    def finish(self) -> list[AddableDict]:
        """The last sentence, then the rest of the context (or the fallback, context first).

        The head chunk already carried the context's other keys; this chunk adds only new ones,
        so a client that adds the streamed chunks up (``AddableDict``) gets the whole context.
        """
        out = self._judge(self.buffer) if self.buffer.strip() else []
        self.buffer = ""
        context = AddableDict(
            supports=[v.support() for v in self.kept],
            dropped=[v.dropped() for v in self.dropped],
        )
        if self.kept:
            return [*out, AddableDict(context=context)]
        # The chain refuses before calling the model when no source sentence matches the question
        # (see plan_answer), so there is always an extract to fall back on.
        extracts = extract_answer(self.chunks, self.question)
        context["fallback"] = "extract"
        context["supports"] = [e.support() for e in extracts]
        return [AddableDict(context=context), *(AddableDict(answer=p) for p in render(extracts))]
