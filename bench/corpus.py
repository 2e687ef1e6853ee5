"""Deterministic synthetic data: Markdown files for ingest, vectors for a large index, questions.

Seeded generators, so every run (and every machine) measures the same corpus. Vectors stand in for
embeddings when building a 100k-chunk index: embedding 100k real chunks would take an hour on this
CPU and says nothing more about search latency.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

from langchain_core.embeddings import Embeddings

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS_FILE = ROOT / "bench" / "eval" / "questions.jsonl"

_WORDS = [
    "server",
    "page",
    "space",
    "member",
    "backup",
    "token",
    "export",
    "import",
    "search",
    "index",
    "note",
    "editor",
    "share",
    "link",
    "history",
    "version",
    "restore",
    "plan",
    "invoice",
    "seat",
    "admin",
    "password",
    "login",
    "session",
    "cache",
    "mobile",
    "sync",
    "offline",
    "device",
    "wipe",
    "audit",
    "log",
    "retention",
    "policy",
    "storage",
    "quota",
    "attachment",
    "image",
    "table",
    "template",
    "comment",
    "mention",
    "notification",
    "email",
    "webhook",
    "api",
    "key",
    "limit",
    "error",
    "timeout",
    "port",
    "proxy",
    "certificate",
    "domain",
    "install",
    "upgrade",
    "release",
    "feature",
    "setting",
    "option",
    "default",
    "value",
    "folder",
]


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(_WORDS) for _ in range(rng.randint(8, 18))]
    return " ".join(words).capitalize() + "."


def chunk_texts(count: int, seed: int = 13) -> Iterator[str]:
    """``count`` synthetic chunk texts (3 sentences of the product's words each) for the lexical side
    of retrieval: a small vocabulary that the bench questions share is BM25's worst case (long
    posting lists), so the latency measured is an upper bound for real documents."""
    rng = random.Random(seed)
    for _ in range(count):
        yield " ".join(_sentence(rng) for _ in range(3))


def write_markdown_corpus(folder: Path, files: int, paragraphs: int, seed: int = 7) -> list[Path]:
    """Write ``files`` Markdown files of ``paragraphs`` paragraphs (~400 characters each)."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number in range(files):
        lines = [f"# Topic {number}", ""]
        for para in range(paragraphs):
            if para % 4 == 0:
                lines += [f"## Section {number}.{para // 4}", ""]
            lines += [" ".join(_sentence(rng) for _ in range(4)), ""]
        path = folder / f"topic-{number:04d}.md"
        path.write_text("\n".join(lines), encoding="utf-8")
        paths.append(path)
    return paths


class SyntheticEmbeddings(Embeddings):
    """Deterministic random unit vectors, handed out in order: each ``embed_documents`` call gets
    the next ones of one seeded stream, so two stores written in the same batches get the same
    vectors. Stands in for the model when writing a large synthetic index; never for questions."""

    def __init__(self, dim: int, seed: int = 11) -> None:
        import numpy as np

        self.dim = dim
        self._rng = np.random.default_rng(seed)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """The next ``len(texts)`` vectors of the stream (the texts themselves are ignored)."""
        import numpy as np

        block = self._rng.standard_normal((len(texts), self.dim)).astype("float32")
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        return block.tolist()  # type: ignore[no-any-return]

    def embed_query(self, text: str) -> list[float]:
        """Not a question embedding: the benchmark embeds questions with the real model."""
        raise NotImplementedError("synthetic vectors are for writing the index only")


class QuestionPool:
    """Hands out questions that were never asked before in this run.

    llama.cpp reuses its KV cache for a repeated prompt prefix, so a repeated question would make
    the second measurement look faster than any real request. The bundled evaluation questions come
    first (answerable ones first: they reach the model); then numbered variants of them.
    """

    def __init__(self, path: Path = QUESTIONS_FILE) -> None:
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        rows.sort(key=lambda r: r.get("source") is None)
        self._base = [r["question"] for r in rows if r.get("source") is not None] or [
            r["question"] for r in rows
        ]
        self._next = 0

    def take(self) -> str:
        """A question not handed out before."""
        index = self._next
        self._next += 1
        base = self._base[index % len(self._base)]
        round_ = index // len(self._base)
        return base if round_ == 0 else f"(variant {round_}) {base}"

    def take_many(self, count: int) -> list[str]:
        """``count`` fresh questions."""
        return [self.take() for _ in range(count)]
