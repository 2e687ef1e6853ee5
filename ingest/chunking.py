"""Turn a document's segments into chunks that remember where they came from.

Loaders cut a file into *segments* (a paragraph, a code block, an HTML block, a PDF page) that carry
their heading path and line range. The chunker packs consecutive segments of the same section into
chunks of at most ``chunk_size`` characters, never across a heading, so a chunk can be cited as
``docs/setup.md`` lines 40-58 under "Install > Linux". Segments too long for one chunk are split with
LangChain's recursive splitter and their line ranges recomputed from character offsets.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from langchain_core.documents import Document
from langchain_text_splitters import RecursiveCharacterTextSplitter

HEADING_SEPARATOR = " › "


@dataclass(frozen=True)
class Segment:
    """A piece of a file that should not be cut in the middle if it fits in a chunk."""

    text: str
    start_line: int | None = None
    end_line: int | None = None
    headings: tuple[str, ...] = ()
    page: int | None = None
    is_heading: bool = False
    #: (offset in ``text``, file line) where each merged part starts: exact lines for extracts.
    line_map: tuple[tuple[int, int], ...] = ()

    @property
    def section(self) -> tuple[tuple[str, ...], int | None]:
        """Chunks never span two sections (different heading path or page)."""
        return (self.headings, self.page)


def _split_long(segment: Segment, splitter: RecursiveCharacterTextSplitter) -> Iterator[Segment]:
    """Split one over-long segment, keeping exact line numbers when the segment has them."""
    for piece in splitter.create_documents([segment.text]):
        offset = int(piece.metadata.get("start_index", -1))
        start = end = None
        if segment.start_line is not None and offset >= 0:
            start = segment.start_line + segment.text.count("\n", 0, offset)
            end = start + piece.page_content.count("\n")
        yield Segment(piece.page_content, start, end, segment.headings, segment.page)


def _opens_subsection(current: list[Segment], seg: Segment) -> bool:
    """A chunk holding only headings continues into its first subsection (no heading-only chunks)."""
    top = current[-1].headings
    return (
        all(p.is_heading for p in current)
        and seg.page == current[-1].page
        and seg.headings[: len(top)] == top
    )


def _merge(parts: list[Segment]) -> Segment:
    starts = [p.start_line for p in parts if p.start_line is not None]
    ends = [p.end_line for p in parts if p.end_line is not None]
    line_map = []
    offset = 0
    for part in parts:
        if part.start_line is not None:
            line_map.append((offset, part.start_line))
        offset += len(part.text) + 2  # the "\n\n" that joins parts
    return Segment(
        text="\n\n".join(p.text for p in parts),
        start_line=min(starts) if starts else None,
        end_line=max(ends) if ends else None,
        headings=parts[-1].headings,
        page=parts[-1].page,
        line_map=tuple(line_map),
    )


def _pack(segments: list[Segment], chunk_size: int, chunk_overlap: int) -> Iterator[Segment]:
    """Greedy packing of same-section segments, carrying trailing segments as overlap."""
    current: list[Segment] = []
    size = 0
    for seg in segments:
        joined = size + (2 if current else 0) + len(seg.text)
        new_section = seg.section != current[-1].section if current else False
        if new_section and _opens_subsection(current, seg):
            new_section = False
        if current and (joined > chunk_size or new_section):
            yield _merge(current)
            if not new_section:
                carry: list[Segment] = []
                carried = 0
                for prev in reversed(current):
                    if carried + len(prev.text) > chunk_overlap:
                        break
                    carry.insert(0, prev)
                    carried += len(prev.text) + 2
                if carried + len(seg.text) > chunk_size:
                    carry = []
                current = carry
            else:
                current = []
            size = sum(len(p.text) for p in current) + 2 * max(len(current) - 1, 0)
        current.append(seg)
        size = size + (2 if len(current) > 1 else 0) + len(seg.text)
    if current:
        yield _merge(current)


def chunk_segments(
    segments: Iterable[Segment],
    *,
    source: str,
    chunk_size: int,
    chunk_overlap: int,
    extra_metadata: dict[str, str] | None = None,
) -> list[Document]:
    """Build the chunks of one file, with citation metadata (source, lines, page, headings)."""
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=chunk_size, chunk_overlap=chunk_overlap, add_start_index=True
    )
    fitted: list[Segment] = []
    for seg in segments:
        if not seg.text.strip():
            continue
        if len(seg.text) > chunk_size:
            fitted.extend(_split_long(seg, splitter))
        else:
            fitted.append(seg)
    docs = []
    for index, chunk in enumerate(_pack(fitted, chunk_size, chunk_overlap)):
        metadata: dict[str, str | int] = {"source": source, "chunk": index}
        if chunk.start_line is not None and chunk.end_line is not None:
            metadata["start_line"] = chunk.start_line
            metadata["end_line"] = chunk.end_line
            if len(chunk.line_map) > 1:  # the file may hold more blank lines between parts
                metadata["line_map"] = json.dumps([list(pair) for pair in chunk.line_map])
        if chunk.page is not None:
            metadata["page"] = chunk.page
        if chunk.headings:
            metadata["headings"] = HEADING_SEPARATOR.join(chunk.headings)
        metadata.update(extra_metadata or {})
        docs.append(Document(page_content=chunk.text, metadata=metadata))
    return docs
