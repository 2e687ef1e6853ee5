"""The lexical half of hybrid retrieval: BM25 over exactly the chunks the vector store holds.

Why: a dense embedding of a question misses exact identifiers (an error code ``QF-104``, an option
``--max-upload``, a class name ``TimeoutException``) that a reader types verbatim, and the 135M-era
MiniLM ranks a chunk that merely talks about the same topic above the one that names the thing.
BM25 finds those; reciprocal-rank fusion (:mod:`rag_chain.retrieval`) combines both rankings.

Why it is built *from the vector store* rather than written by ingest beside it: the store is the
one source of truth for what may be retrieved. Incremental ingest, ``--prune``, per-user documents,
a crash half-way through an ingest, or an ingest run on another machine into a Chroma server all
change the store; an index derived from it cannot drift from it. The reader rebuilds it when the
store changes (see :class:`rag_chain.retrieval.IndexReader`), re-tokenizing only new chunks.

What is indexed per chunk: its text, its heading path and its file name, so "pricing of the Team
plan" finds the chunk under "Pricing › Team" even when its sentences say only "it costs $8".

``bm25s`` (numpy only) does the scoring: a sparse term→chunk matrix of precomputed BM25 weights, so
a query costs a few column sums however large the corpus (~0.7 ms at 100k chunks, Intel Xeon).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from rag_chain.support import STOP_WORDS

# Plain words come from one C-level scan of the lower-cased text; compound identifiers (http.port,
# qf-104, max_connections) and CamelCase words (TimeoutException) from one more scan and cheap
# string tests: tokenizing is most of the cost of building the index (measured at 100k chunks).
_WORD = re.compile(r"[a-z0-9]+")
_RAW = re.compile(r"[\w.-]+")  # a greedy class: no backtracking, unlike a compound pattern
_SEPARATORS = re.compile(r"[._-]")
_CAMEL_PART = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")


def lexical_terms(text: str) -> list[str]:
    """The terms BM25 sees: lower-cased words without stop words, plurals folded, and for a
    compound identifier both the whole (``qf-104``, ``http.port``, ``timeoutexception``) and its
    parts (``qf``, ``104``, ``http``, ``port``, ``timeout``, ``exception``), so a question that
    names the identifier exactly and one that paraphrases it both match."""
    words = _WORD.findall(text.lower())
    for raw in _RAW.findall(text):
        whole = raw.strip("._-")
        if _SEPARATORS.search(whole):
            words.append(whole.lower())
        elif not (whole.islower() or whole.isupper() or whole.istitle() or whole.isdigit()):
            words += [part.lower() for part in _CAMEL_PART.findall(whole)]  # CamelCase
    return [
        w[:-1] if len(w) > 3 and w[-1] == "s" and w[-2] != "s" else w
        for w in words
        if len(w) > 1 and w not in STOP_WORDS
    ]


@dataclass(frozen=True)
class LexicalDoc:
    """What the lexical index keeps of one chunk."""

    id: str
    owner: str
    terms: tuple[str, ...]


def indexed_text(text: str, headings: str | None, source: str | None) -> str:
    """The text BM25 indexes for a chunk: file name, heading path, then the chunk itself."""
    name = (source or "").rsplit("/", 1)[-1].rsplit(".", 1)[0]
    name = name.replace("_", " ").replace("-", " ")
    return "\n".join(part for part in (name, headings or "", text) if part)


class LexicalIndex:
    """BM25 over a fixed set of chunks; immutable once built (the reader swaps in a new one)."""

    #: BM25 parameters: Lucene's defaults, which are also bm25s's.
    K1 = 1.5
    B = 0.75

    def __init__(self, docs: Sequence[LexicalDoc]) -> None:
        self.docs = list(docs)
        self.ids = [d.id for d in self.docs]
        self.position = {doc_id: i for i, doc_id in enumerate(self.ids)}
        owners = sorted({d.owner for d in self.docs})
        self._owner_codes = {owner: i for i, owner in enumerate(owners)}
        self._owner_of = np.array([self._owner_codes[d.owner] for d in self.docs], dtype=np.int32)
        # Document frequency of each term: "is this question word known to the corpus at all?"
        self.doc_freq: dict[str, int] = {}
        for doc in self.docs:
            for term in set(doc.terms):
                self.doc_freq[term] = self.doc_freq.get(term, 0) + 1
        self._bm25 = None
        if self.docs:
            import bm25s  # imported on the first non-empty index: it is not free at start-up

            model = bm25s.BM25(k1=self.K1, b=self.B)
            # An empty chunk would give bm25s an empty token list: give it the empty token.
            model.index([list(d.terms) or [""] for d in self.docs], show_progress=False)
            self._bm25 = model

    def __len__(self) -> int:
        return len(self.docs)

    def all_visible(self, owners: Iterable[str]) -> bool:
        """Whether every indexed chunk belongs to one of ``owners`` (as of this index's sync)."""
        return set(self._owner_codes) <= set(owners)

    def idf(self, term: str) -> float:
        """Inverse document frequency (BM25's, never negative); 0 for a term the corpus lacks."""
        df = self.doc_freq.get(term, 0)
        if df == 0:
            return 0.0
        n = len(self.docs)
        return math.log(1.0 + (n - df + 0.5) / (df + 0.5))

    def unseen_idf(self) -> float:
        """The IDF a term would have if it occurred in one chunk: the weight of an unknown word."""
        n = max(len(self.docs), 1)
        return math.log(1.0 + (n - 0.5) / 1.5)

    def _mask(self, owners: Iterable[str]) -> np.ndarray | None:
        """The 0/1 weight of each chunk for these owners; None when every chunk is visible.

        Building the mask is an ``isin`` over every chunk (0.4 ms of a 1 ms query at 100k chunks,
        Intel Xeon, 2026-12-03); a corpus of shared documents only, the common case, needs none.
        """
        owners = set(owners)
        if self.all_visible(owners):
            return None
        codes = [self._owner_codes[o] for o in owners if o in self._owner_codes]
        return np.isin(self._owner_of, codes).astype(np.float32)

    def search(self, question: str, k: int, owners: Iterable[str]) -> list[tuple[str, float]]:
        """Top-k (chunk id, BM25 score) among chunks of the given owners; only positive scores."""
        if self._bm25 is None or k <= 0:
            return []
        terms = [t for t in lexical_terms(question) if t in self.doc_freq]
        if not terms:
            return []
        scores = self._bm25.get_scores(terms, weight_mask=self._mask(owners))
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self.ids[i], float(scores[i])) for i in top if scores[i] > 0]

    def terms_of(self, doc_id: str) -> tuple[str, ...]:
        """The indexed terms of one chunk (empty for an unknown id)."""
        i = self.position.get(doc_id)
        return self.docs[i].terms if i is not None else ()
