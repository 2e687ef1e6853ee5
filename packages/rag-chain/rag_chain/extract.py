"""The ``extract`` answer mode: the answer is the best-matching sentences of the sources, verbatim.

Why: the bundled 135M model states wrong facts beside correct citations, while the retrieved chunk
almost always holds the answer word for word. Extracting needs no model, so it cannot invent a
port, a licence or a package name; it streams at once; and each sentence carries the exact
place it was copied from (source, page, line range), so a reader checks it in one look.

How a sentence is chosen: every sentence (or whole list item, or code block) of the chunks
that reached the context is scored by the share of the question's content words it contains
(:func:`rag_chain.support.content_words`; a word found only in the chunk's heading path counts
half), plus a little for the chunk's relevance, so ties go to the better chunk, and a little for
holding a number when the question asks for a quantity, a default, a status code or a version
("how many", "what port", "timeout", "which status", "when did"). The best one is kept, and up to
:data:`MAX_SENTENCES` - 1 more that score at least :data:`KEEP_RATIO` of it. When no sentence
shares a single content word with the question there is nothing to extract, and the chain refuses.

The sentence that shares the most words with the question is often the one that *restates* it,
and the answer is the sentence right after ("Occasionally you might want to test the content of
500 error responses, rather than allowing client to raise the server exception." / "In this case
you should use `client = TestClient(app, raise_server_exceptions=False)`."), or the list its
introduction announces, or the **Fix:** after the **Cause:**. So each of the
:data:`FOLLOWED_LEADS` best sentences brings the piece that follows it in its section along (a
short one, :data:`MAX_FOLLOWER_CHARS`), whatever words it shares with the question.

Some answers are not in a sentence at all but in the document's structure. A section's heading
names what its first lines are about ("### httpx-sse" / "Allows consuming Server-Sent Events (SSE)
with HTTPX.": the sentence has no subject, the heading is the package asked for), so a chosen
sentence that stands just below its heading (:data:`HEADING_REACH`) brings that heading line. A
nested list item is a kind or a part of the item it is nested under ("* NetworkError" above
"* ConnectError"), so it brings that parent item. Everything is given in the order of the
documents.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from rag_chain.retrieval import ScoredChunk
from rag_chain.support import NUMBER, content_words, sentence_spans, with_parts

#: Measured on both eval sets (answer-correct, samples / Starlette): 3 → 74 % / 46 %, 4 → 75 % / 50 %.
#: Again with the followers below (and mean answer length): 3 → 86 % / 80 %, 444 / 654 characters;
#: 4 → 89 % / 81 %, 479 / 732; 5 → 89 % / 82 %, 497 / 776.
MAX_SENTENCES = 4
KEEP_RATIO = 0.7
#: Weight of the chunk's relevance score next to word coverage (0..1 each).
SCORE_WEIGHT = 0.15
#: A question word found only in the sentence's heading path counts this much of a word.
HEADING_WEIGHT = 0.5
#: Bonus for a sentence holding a number when the question asks for a quantity or a default
#: (measured: +1 of 57 answers correct on the samples, no change on the Starlette set).
NUMBER_BONUS = 0.2
#: Status codes and versions are numbers too ("which status comes back", "when did it go away"):
#: measured +3 of 91 answers correct on Starlette alone, +1 with the followers below (samples: no
#: change). A digit inside a word ("3rd party", "graphene3") is no number (support.NUMBER): it
#: cost the "when did" question its answer.
_ASKS_NUMBER = re.compile(
    r"\b(how (many|much|long|big|large|often)|what (port|size|limit|version)|default|maximum|"
    r"minimum|limit|timeout|how old|status( code)?|when did|since when|which version)\b",
    re.IGNORECASE,
)
#: Each of this many best sentences brings the piece that follows it in its chunk (see the module
#: docstring); a follower takes no place among the MAX_SENTENCES. Measured answer-correct,
#: samples / Starlette, and mean answer length (with the number rule above): no followers 81 % /
#: 73 %, 385 / 657 characters; the best one's 86 % / 78 %, 444 / 702; the best two's 89 % / 81 %,
#: 479 / 732; the best three's the same correct, 499 / 755.
FOLLOWED_LEADS = 2
#: A longer follower (a whole code block, a paragraph) is left out: the answer that follows a
#: restated question is one short sentence. Measured (best two followed), samples / Starlette:
#: any length 89 % / 81 %, 547 / 771 characters; ≤ 200: same, 513 / 745; ≤ 150: same, 479 / 732;
#: ≤ 120: 86 % / 79 %, 452 / 709; ≤ 100: 84 % / 79 %, 434 / 697.
MAX_FOLLOWER_CHARS = 150
#: A chosen sentence starting at most this many characters below its section's heading line brings
#: that heading (see the module docstring). Measured on cached retrievals, answers correct of
#: samples / Starlette / HTTPX (57 / 91 / 89) and mean answer length in characters: no headings
#: 51 / 74 / 61, 479 / 732 / 657; within 50 characters 51 / 74 / 62, 505 / 754 / 692; 100:
#: 51 / 76 / 65, 510 / 762 / 699; 150: 51 / 76 / 67, 512 / 765 / 707; at any distance the same
#: correct as 150, 532 / 778 / 731. Only the best sentence's heading: 51 / 75 / 66, 497 / 747 / 681.
#: (Bringing the parent of a nested list item then added one on HTTPX and changed nothing else.)
HEADING_REACH = 150
#: A list after an introducing colon is kept whole when it is an enumeration this short
#: ("read in this order: * … * … * …"). Measured on samples / Starlette (answer-correct, mean
#: answer length): lists of any length 81 % / 70 %, 452 / 709 characters; items ≤ 80 characters
#: 81 % / 69 %, 389 / 658 (the question lost was answered by a dump of 6 argument descriptions).
MAX_LIST_ITEMS = 6
MAX_ITEM_CHARS = 80
_LIST_ITEM = re.compile(r"\s*(?:[-*+]|\d+\.)\s")
_NOT_PROSE = ("|", "```", "#")
_HEADING_LINE = re.compile(r"(?m)^#{1,6} [^\n]*")


@dataclass(frozen=True)
class Extract:
    """One sentence copied from a chunk, and exactly where it stands."""

    text: str
    source: str
    page: int | None
    start_line: int | None
    end_line: int | None
    rank: int  # 1-based rank of its chunk in the sources
    offset: int  # where it starts in its chunk
    score: float

    def citation_label(self) -> str:
        """``setup.md:40-42`` / ``guide.pdf p.3`` / ``notes.txt``."""
        return citation_label(self.source, self.page, self.start_line, self.end_line)

    def support(self) -> dict[str, Any]:
        """The per-sentence support record of the chain's output."""
        return {
            "text": self.text,
            "source": self.source,
            "page": self.page,
            "start_line": self.start_line,
            "end_line": self.end_line,
        }


def citation_label(
    source: str, page: int | None, start_line: int | None, end_line: int | None
) -> str:
    """Where a sentence stands, as written after it: ``setup.md:40-42``, ``guide.pdf p.3``."""
    where = source
    if page is not None:
        where += f" p.{page}"
    if start_line is not None:
        end = f"-{end_line}" if end_line not in (None, start_line) else ""
        where += f":{start_line}{end}"
    return where


def line_map_of(meta: dict[str, Any]) -> list[tuple[int, int]]:
    """(offset in chunk text, file line) where each segment of the chunk starts."""
    raw = meta.get("line_map")
    if isinstance(raw, str) and raw:
        try:
            return [(int(a), int(b)) for a, b in json.loads(raw)]
        except (ValueError, TypeError):
            pass
    start = meta.get("start_line")
    return [(0, int(start))] if isinstance(start, int) else []


def line_of(text: str, offset: int, line_map: list[tuple[int, int]]) -> int | None:
    """The file line of character ``offset`` of a chunk's text."""
    base = None
    for seg_offset, line in line_map:
        if seg_offset <= offset:
            base = (seg_offset, line)
        else:
            break
    if base is None:
        return None
    return base[1] + text.count("\n", base[0], offset)


def _list_items(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The spans of ``text`` with every list item made one span, whatever sentences it holds.

    "* `max_age` - Sets a maximum time for caching. Defaults to `600`." is one statement: its
    second sentence is the answer to "how long by default?" and means nothing without the first.
    """
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and _continues_item(text, merged[-1], (start, end)):
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def _continues_item(text: str, item: tuple[int, int], span: tuple[int, int]) -> bool:
    """Whether ``span`` is a further sentence of the list item ``item`` (same item, no blank line)."""
    following = text[span[0] : span[1]]
    return (
        _LIST_ITEM.match(text[item[0] : item[1]]) is not None
        and "\n\n" not in text[item[1] : span[0]]
        and _LIST_ITEM.match(following) is None
        and not following.startswith(_NOT_PROSE)
    )


def extraction_units(text: str) -> list[tuple[int, int]]:
    """(start, end) of each piece of ``text`` that can be extracted: a sentence, a whole list item,
    or a code block.

    A piece ending with a colon introduces what follows (the code block holding the very option
    or command asked about, or an enumeration: "read in this order: * … * … * …"), so it is taken
    together with the next piece, or with the whole list that follows when that list is short
    (at most :data:`MAX_LIST_ITEMS` items of at most :data:`MAX_ITEM_CHARS` characters; a list of
    described arguments is not taken whole: the one item asked about is its own unit). The pieces
    after an introduction stay units of their own too: one item can be the answer.
    """
    pieces = _list_items(text, sentence_spans(text))
    units = []
    for index, (start, end) in enumerate(pieces):
        if text[start:end].rstrip().endswith(":") and index + 1 < len(pieces):
            end = pieces[index + 1][1]
            listed = _short_list(text, pieces[index + 1 :])
            if listed is not None:
                end = listed
        units.append((start, end))
    return units


def _short_list(text: str, pieces: list[tuple[int, int]]) -> int | None:
    """Where the list starting at ``pieces[0]`` ends, if it is a short enumeration; else None."""
    end = None
    for count, (start, stop) in enumerate(pieces):
        if _LIST_ITEM.match(text[start:stop]) is None:
            break
        if count == MAX_LIST_ITEMS or stop - start > MAX_ITEM_CHARS:
            return None
        end = stop
    return end


@dataclass(frozen=True)
class _Unit:
    """An extraction unit with its score and the share of the question's words it covers."""

    extract: Extract
    coverage: float


def _units(chunks: list[ScoredChunk], question: str) -> list[_Unit]:
    """Every extraction unit of the chunks, scored, including those sharing no word (followers)."""
    wanted = content_words(question)
    if not wanted:
        return []
    number_bonus = NUMBER_BONUS if _ASKS_NUMBER.search(question) else 0.0
    found: list[_Unit] = []
    for rank, chunk in enumerate(chunks, start=1):
        meta = chunk.document.metadata
        text = chunk.document.page_content
        lines = line_map_of(meta)
        # "It costs $8 per user per month." under "Pricing › Team": the heading says what "it" is
        heading = with_parts(content_words(str(meta.get("headings") or "")))
        for start, end in extraction_units(text):
            sentence = text[start:end]
            own = wanted & with_parts(content_words(sentence))
            coverage = (len(own) + HEADING_WEIGHT * len((wanted & heading) - own)) / len(wanted)
            first = line_of(text, start, lines)
            last = None if first is None else first + sentence.count("\n")
            extract = Extract(
                text=sentence,
                source=str(meta.get("source", "")),
                page=meta.get("page") if isinstance(meta.get("page"), int) else None,
                start_line=first,
                end_line=last,
                rank=rank,
                offset=start,
                score=coverage
                + SCORE_WEIGHT * float(chunk.score)
                + (number_bonus if NUMBER.search(sentence) else 0.0),
            )
            found.append(_Unit(extract, coverage))
    return found


def _sharing_a_word(units: list[_Unit]) -> list[Extract]:
    return [unit.extract for unit in units if unit.coverage > 0]


def candidates(chunks: list[ScoredChunk], question: str) -> list[Extract]:
    """Every extraction unit of the chunks (:func:`extraction_units`) sharing a word with the
    question, with its score (word coverage of the question + relevance)."""
    return _sharing_a_word(_units(chunks, question))


def follower(lead: Extract, units: list[Extract]) -> Extract | None:
    """The piece right after ``lead`` in its chunk, if short (:data:`MAX_FOLLOWER_CHARS`): where the
    answer is when ``lead`` restates the question. A chunk never spans two sections (the chunker's
    rule), so it is about the same thing.

    ``units`` are all the extraction units of the chunks, as :func:`_units` made them.
    """
    lead_end = lead.offset + len(lead.text)
    after = [u for u in units if u.rank == lead.rank and u.offset >= lead_end]
    if not after:
        return None
    following = min(after, key=lambda u: u.offset)
    return following if len(following.text) <= MAX_FOLLOWER_CHARS else None


def _overlaps(item: Extract, kept: list[Extract]) -> bool:
    """Whether ``item`` is, or holds, or is held by a kept one (overlapping chunks repeat text)."""
    return any(item.text in other.text or other.text in item.text for other in kept)


def _bring(kept: list[Extract], extra: Extract | None) -> None:
    """Add a follower, parent item or heading to the answer unless it is there already."""
    if extra is not None and not _overlaps(extra, kept):
        kept.append(extra)


def extract_answer(chunks: list[ScoredChunk], question: str) -> list[Extract]:
    """The sentences that answer ``question`` best, in document order (empty: nothing matches)."""
    units = _units(chunks, question)
    ranked = sorted(_sharing_a_word(units), key=lambda e: (-e.score, e.rank, e.offset))
    if not ranked:
        return []
    best = ranked[0].score
    kept: list[Extract] = []
    for item in ranked:
        if len(kept) == MAX_SENTENCES or item.score < KEEP_RATIO * best:
            break
        if not _overlaps(item, kept):
            kept.append(item)
    everything = [u.extract for u in units]
    chosen = list(kept)
    for lead in chosen[:FOLLOWED_LEADS]:
        _bring(kept, follower(lead, everything))
    for item in list(kept):
        _bring(kept, parent_item(item, chunks[item.rank - 1].document.page_content, everything))
    for sentence in chosen:
        _bring(kept, heading_above(sentence, chunks[sentence.rank - 1]))
    return sorted(kept, key=lambda e: (e.rank, e.offset))


def heading_above(sentence: Extract, chunk: ScoredChunk) -> Extract | None:
    """The heading line of ``sentence``'s section in its chunk, if the sentence starts at most
    :data:`HEADING_REACH` characters below it: what a section's first lines are about ("### httpx-sse"
    above "Allows consuming Server-Sent Events (SSE) with HTTPX.").

    A chunk that continues a section carries no heading line, so nothing is given for it; a ``#``
    line inside a code block is a comment, not a heading.
    """
    text = chunk.document.page_content
    found = None
    for match in _HEADING_LINE.finditer(text, 0, sentence.offset):
        if text.count("```", 0, match.start()) % 2 == 0:
            found = match
    if found is None or sentence.offset - found.end() > HEADING_REACH:
        return None
    line = line_of(text, found.start(), line_map_of(chunk.document.metadata))
    return Extract(
        text=found.group(0),
        source=sentence.source,
        page=sentence.page,
        start_line=line,
        end_line=line,
        rank=sentence.rank,
        offset=found.start(),
        score=0.0,
    )


def parent_item(item: Extract, text: str, units: list[Extract]) -> Extract | None:
    """The list item that ``item`` is nested under in its chunk ``text``, if it is a nested item:
    the nearest item above it that is indented less ("* NetworkError" for "* ConnectError" in an
    exception hierarchy). ``units`` are all the extraction units of the chunks."""
    if _LIST_ITEM.match(item.text) is None:
        return None

    def indent(offset: int) -> int:
        return offset - (text.rfind("\n", 0, offset) + 1)

    own = indent(item.offset)
    above = [
        unit
        for unit in units
        if unit.rank == item.rank
        and unit.offset < item.offset
        and _LIST_ITEM.match(unit.text) is not None
        and indent(unit.offset) < own
    ]
    return max(above, key=lambda unit: unit.offset) if above else None


_ITEM_START = re.compile(r"\n(?=\s*(?:[-*+]|\d+\.)\s)")


def _as_line(text: str) -> str:
    """Prose re-flowed onto one line (the file's line wraps are layout, not content), each list
    item on a line of its own; a code block keeps its lines, and its citation goes on the line
    after it."""
    if "```" in text:
        return text.strip() + "\n"
    items = (" ".join(item.split()) for item in _ITEM_START.split(text))
    return "\n".join(item for item in items if item) + " "


def render(extracts: list[Extract]) -> list[str]:
    """The answer's pieces as streamed: each sentence with its citation, one per line.

    ``context.supports`` keeps every sentence exactly as it stands in the file.
    """
    return [
        f"{_as_line(extract.text)}[{extract.citation_label()}]"
        + ("\n" if i < len(extracts) - 1 else "")
        for i, extract in enumerate(extracts)
    ]
