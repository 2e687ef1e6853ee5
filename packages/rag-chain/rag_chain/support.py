"""When is a sentence *supported* by the retrieved context? One definition, used everywhere.

The tiny embedded model copies facts unreliably: it writes a wrong port or an invented function
next to correct citations, or moves a number from one sentence of the sources to another ("the
Team plan is $15" when $15 is the Business plan's price). A sentence counts as supported when one
sentence of the context (its *match*) satisfies both:

1. **it says the same thing**: at least :data:`MIN_OVERLAP` of the sentence's content words
   (lower-cased, stop words and one-letter words dropped, a plural ``s`` folded) occur in it;
2. **the hard facts stand beside it**: every number (``7420``, ``2.3.1``, ``5``), every code
   identifier (anything in backticks, ``snake_case``, ``dotted.names``, ``CamelCase``, ``--flags``,
   ``/paths``) and every quoted term of the sentence occurs, case-insensitively, in the match or
   the sentence just before or after it (a fact is often stated in the neighbouring sentence: "Team
   is the plan most companies choose. It costs $8 per user.").

A sentence with no content words (``Yes.``) is not evidence of anything and counts as unsupported.
``bench.eval`` reports faithfulness with :func:`supported` (share of answer sentences supported),
``verified`` mode keeps only supported sentences and cites their match, and the extract mode ranks
context sentences with the same word rules.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

#: Share of a sentence's content words that must occur in one context sentence.
MIN_OVERLAP = 0.6

STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "if",
        "then",
        "else",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "with",
        "from",
        "into",
        "onto",
        "about",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "am",
        "do",
        "does",
        "did",
        "done",
        "have",
        "has",
        "had",
        "having",
        "can",
        "could",
        "may",
        "might",
        "must",
        "shall",
        "should",
        "will",
        "would",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "there",
        "here",
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "i",
        "you",
        "he",
        "she",
        "we",
        "they",
        "me",
        "him",
        "her",
        "us",
        "them",
        "my",
        "your",
        "his",
        "our",
        "their",
        "not",
        "no",
        "yes",
        "so",
        "than",
        "too",
        "very",
        "just",
        "also",
        "only",
        "any",
        "all",
        "some",
        "each",
        "every",
        "such",
        "more",
        "most",
        "other",
        "same",
        "own",
        "both",
        "few",
        "many",
        "much",
        "s",
        "t",
        "get",
        "got",
        "use",
        "used",
        "using",
        "via",
        "per",
        "up",
        "down",
        "out",
        "over",
        "under",
        "again",
        "once",
        "just",
    ]
)

_SENTENCE_END = re.compile(
    r"(?<=[.!?])\s+(?=[A-Z0-9`\"'(\[])|\n{2,}|\n(?=\s*(?:[-*+]|\d+\.)\s)|\n(?=\s*\|)"
)
#: A number standing alone ("7420", "2.3.1", "`416 Range`"); a digit inside a word ("3rd", "v2") is none.
NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,:]\d+)*(?![\w])")
_BACKTICK = re.compile(r"`([^`]+)`")
_QUOTED = re.compile(r"\"([^\"]{2,80})\"")
_CODEISH = re.compile(
    r"(?<![\w/.-])(?:--?[a-z][\w-]*|/[\w./-]+|[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+"
    r"|[a-z]+_[a-z_0-9]+|[A-Z][a-z0-9]+[A-Z]\w*)"
)
_WORD = re.compile(r"[a-z0-9][a-z0-9_'-]*")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence, list item or paragraph of ``text``, whitespace trimmed.

    A fenced code block is one span however many blank lines it holds. Markdown headings
    (``## Setup``) are left out: they name a topic, they state nothing.
    """
    spans: list[tuple[int, int]] = []
    open_fence: int | None = None  # start of a code block still waiting for its closing fence
    start = 0
    for match in [*_SENTENCE_END.finditer(text), None]:
        end = match.start() if match is not None else len(text)
        piece = text[start:end]
        lead = len(piece) - len(piece.lstrip())
        trail = len(piece.rstrip())
        if trail > lead:
            span = (start + lead, start + trail)
            if open_fence is not None:
                span = (open_fence, span[1])
            if text.count("```", span[0], span[1]) % 2 == 1 and match is not None:
                open_fence = span[0]  # inside a code block: keep going to its end
            else:
                open_fence = None
                if not text[span[0] : span[1]].startswith("#"):
                    spans.append(span)
        if match is not None:
            start = match.end()
    return spans


def split_sentences(text: str) -> list[str]:
    """Sentences (and list items, and paragraphs) of ``text``, stripped, headings dropped."""
    return [text[a:b] for a, b in sentence_spans(text)]


def content_words(text: str) -> set[str]:
    """Lower-cased words that carry meaning (no stop words), a trailing plural ``s`` folded."""
    words = set()
    for word in _WORD.findall(text.lower()):
        word = word.strip("'-")
        if len(word) < 2 or word in STOP_WORDS:
            continue
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        words.add(word)
    return words


def with_parts(words: set[str]) -> set[str]:
    """``words`` plus the parts of hyphenated or snake_case ones: ``reset-password`` also counts as
    ``reset`` and ``password``, so "how do I reset my password" finds `qf admin reset-password`."""
    parts = {part for word in words for part in re.split(r"[-_]", word) if part != word}
    return words | content_words(" ".join(parts))


def hard_facts(sentence: str) -> set[str]:
    """Numbers, code identifiers and quoted terms of a sentence (lower-cased)."""
    facts = {m.strip().lower() for m in _BACKTICK.findall(sentence)}
    facts |= {m.strip().lower() for m in _QUOTED.findall(sentence)}
    bare = _BACKTICK.sub(" ", sentence)
    facts |= {m.lower() for m in NUMBER.findall(bare)}
    facts |= {m.lower().rstrip(".") for m in _CODEISH.findall(bare)}
    return {fact for fact in facts if fact}


def overlap(sentence_words: set[str], other: set[str]) -> float:
    """Share of ``sentence_words`` found in ``other`` (0 for an empty sentence)."""
    return len(sentence_words & other) / len(sentence_words) if sentence_words else 0.0


@dataclass(frozen=True)
class Match:
    """The context sentence that supports a sentence: which text, and where in it."""

    text_index: int
    start: int
    end: int


class Context:
    """The retrieved context prepared once for many support checks."""

    def __init__(self, texts: Iterable[str]) -> None:
        self.texts = list(texts)
        self.lower = "\n\n".join(self.texts).lower()
        self._sentences: list[tuple[Match, set[str], str]] = []
        for index, text in enumerate(self.texts):
            for start, end in sentence_spans(text):
                piece = text[start:end]
                self._sentences.append((Match(index, start, end), content_words(piece), piece))

    def _neighbourhood(self, position: int) -> str:
        """The sentence at ``position`` with its neighbours in the same text, lower-cased."""
        match = self._sentences[position][0]
        around = [
            piece
            for other, _, piece in self._sentences[max(position - 1, 0) : position + 2]
            if other.text_index == match.text_index
        ]
        return "\n".join(around).lower()

    def check(self, sentence: str) -> tuple[Match | None, str | None]:
        """The best supporting context sentence, or None and the reason there is none."""
        words = content_words(sentence)
        if not words:
            return None, "states nothing checkable"
        facts = hard_facts(sentence)
        missing = sorted(fact for fact in facts if fact not in self.lower)
        if missing:
            return None, f"not in the sources: {', '.join(missing[:3])}"
        ranked = sorted(
            range(len(self._sentences)),
            key=lambda i: -overlap(words, self._sentences[i][1]),
        )
        close = [i for i in ranked if overlap(words, self._sentences[i][1]) >= MIN_OVERLAP]
        if not close:
            return None, "no source sentence says this"
        for position in close:
            near = self._neighbourhood(position)
            if all(fact in near for fact in facts):
                return self._sentences[position][0], None
        return None, "its facts are not where the sources say this"

    def supports(self, sentence: str) -> bool:
        """Whether ``sentence`` is supported (see the module docstring for the two rules)."""
        return self.check(sentence)[0] is not None


#: A citation marker as answers write them: ``[setup.md:40-42]``, ``[1]``.
CITATION = re.compile(r"\s*\[[^\[\]\n]{1,160}\]")


def answer_sentences(answer: str) -> list[str]:
    """The sentences of an answer, its citation markers (``[setup.md:40-42]``, ``[1]``) removed.

    Each line is split on its own: answers put one statement per line (the extract mode does).
    """
    found: list[str] = []
    for line in answer.splitlines():
        found.extend(split_sentences(CITATION.sub("", line)))
    return found


def supported(answer: str, context: Iterable[str]) -> list[tuple[str, bool]]:
    """Each sentence of ``answer`` (citation markers removed) with whether the context supports it."""
    ctx = Context(context)
    return [(sentence, ctx.supports(sentence)) for sentence in answer_sentences(answer)]


def faithfulness(answer: str, context: Iterable[str]) -> float | None:
    """Share of the answer's sentences that the context supports (None for an empty answer)."""
    checks = supported(answer, context)
    return sum(ok for _, ok in checks) / len(checks) if checks else None
