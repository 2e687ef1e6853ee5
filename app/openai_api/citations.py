"""Numbered citations appended to an answer's text, for clients that show only the text.

A chat UI shows ``choices[0].message.content`` and nothing else, so the sources must be in the text
to be seen at all: after the answer, ``Sources:`` and one line per source, ``[n] file, lines a-b``
(``p. n`` for a PDF page), numbered as the top-level ``sources`` list is ordered, so ``[2]`` is
``sources[1]``. A refusal has no sources and gets no footer: the text is exactly the refusal
sentence. :func:`strip_citations` takes the footer off again when an answer comes back as history.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

#: What separates the answer from its citations (also how a footer is found again).
CITATIONS_HEADING = "\n\nSources:\n"


def citation_label(source: dict[str, Any]) -> str:
    """Where one source is: ``file``, ``file, p. 3``, ``file, line 7`` or ``file, lines 7-9``."""
    parts = [str(source.get("source") or "?")]
    if source.get("page") is not None:
        parts.append(f"p. {source['page']}")
    start, end = source.get("start_line"), source.get("end_line")
    if start is not None:
        parts.append(f"line {start}" if end in (None, start) else f"lines {start}-{end}")
    return ", ".join(parts)


def citations_footer(sources: Sequence[dict[str, Any]]) -> str:
    """The text appended to an answer: empty without sources, else the numbered list."""
    if not sources:
        return ""
    lines = [f"[{number}] {citation_label(source)}" for number, source in enumerate(sources, 1)]
    return CITATIONS_HEADING + "\n".join(lines)


def strip_citations(text: str) -> str:
    """An answer without the footer we appended (history sent back by a client)."""
    head, found, _ = text.rpartition(CITATIONS_HEADING)
    return head if found else text
