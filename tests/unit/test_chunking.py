"""Chunking: sections are never mixed, sizes are respected, and line ranges stay exact."""

from __future__ import annotations

from pathlib import Path

from ingest.chunking import Segment, chunk_segments
from ingest.loaders import load_segments


def lines_of(text: str, start: int, end: int) -> str:
    return "\n".join(text.splitlines()[start - 1 : end])


def test_heading_only_chunk_merges_into_its_first_subsection() -> None:
    segments = [
        Segment("# Guide", 1, 1, ("Guide",), is_heading=True),
        Segment("## Install", 3, 3, ("Guide", "Install"), is_heading=True),
        Segment("Run it.", 5, 5, ("Guide", "Install")),
        Segment("## Remove", 7, 7, ("Guide", "Remove"), is_heading=True),
        Segment("Delete it.", 9, 9, ("Guide", "Remove")),
    ]
    docs = chunk_segments(segments, source="g.md", chunk_size=500, chunk_overlap=50)
    assert [d.page_content for d in docs] == [
        "# Guide\n\n## Install\n\nRun it.",
        "## Remove\n\nDelete it.",
    ]
    assert docs[0].metadata["headings"] == "Guide › Install"
    assert (docs[0].metadata["start_line"], docs[0].metadata["end_line"]) == (1, 5)


def test_chunks_respect_size_and_overlap_within_a_section() -> None:
    paragraphs = [
        Segment(f"Paragraph {i} " + "x" * 80, i * 2 + 1, i * 2 + 1, ("S",)) for i in range(10)
    ]
    docs = chunk_segments(paragraphs, source="s.md", chunk_size=300, chunk_overlap=100)
    assert all(len(d.page_content) <= 300 for d in docs)
    assert len(docs) > 3
    for first, second in zip(docs, docs[1:], strict=False):
        last_paragraph = first.page_content.split("\n\n")[-1]
        assert second.page_content.startswith(last_paragraph), "neighbours share an overlap"


def test_long_segment_is_split_with_exact_lines(tmp_path: Path) -> None:
    body = "\n".join(f"line {n} " + "word " * 12 for n in range(1, 61))
    text = "# Big\n\n" + body + "\n"
    path = tmp_path / "big.md"
    path.write_text(text)
    docs = chunk_segments(load_segments(path), source="big.md", chunk_size=400, chunk_overlap=0)
    assert len(docs) > 5
    for doc in docs:
        start, end = doc.metadata["start_line"], doc.metadata["end_line"]
        original = lines_of(text, start, end)
        assert doc.page_content.strip().splitlines()[-1] in original
        assert doc.page_content.strip().splitlines()[0].strip() in original


def test_metadata_shape_and_extra_metadata() -> None:
    docs = chunk_segments(
        [Segment("Hello", page=3)],
        source="a/b.pdf",
        chunk_size=200,
        chunk_overlap=0,
        extra_metadata={"owner": "alice"},
    )
    assert docs[0].metadata == {"source": "a/b.pdf", "chunk": 0, "page": 3, "owner": "alice"}


def test_blank_segments_are_dropped() -> None:
    assert chunk_segments([Segment("   \n ")], source="x", chunk_size=200, chunk_overlap=0) == []
