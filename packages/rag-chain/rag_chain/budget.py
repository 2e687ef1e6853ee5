"""Fit retrieved chunks into the model's context window, and say what had to be cut.

A 135M model has a small window that a few long chunks overflow; llama.cpp would then fail or
silently drop the start of the prompt (the rules). We count tokens with the model's own tokenizer
when it has one (llama.cpp) and a conservative estimate otherwise, keep chunks in rank order while
they fit, truncate the first one that does not if nothing else fits, and report the rest as cut.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from langchain_core.language_models import BaseChatModel

from rag_chain.llamacpp import LlamaCppChatModel
from rag_chain.retrieval import ScoredChunk

#: Tokens kept free for the chat template's special tokens and rounding.
SAFETY_MARGIN = 48


def token_counter(model: BaseChatModel | None) -> Callable[[str], int]:
    """Exact counts for llama.cpp; ~3 characters per token (an over-estimate) for the others."""
    if isinstance(model, LlamaCppChatModel):
        return model.get_num_tokens
    return lambda text: math.ceil(len(text) / 3)


def label(chunk: ScoredChunk, number: int) -> str:
    """How a chunk is introduced in the context: number and where it comes from."""
    meta = chunk.document.metadata
    where = str(meta.get("source", "?"))
    if meta.get("page") is not None:
        where += f", page {meta['page']}"
    if meta.get("start_line") is not None:
        where += f", lines {meta['start_line']}-{meta.get('end_line')}"
    return f"[{number}] ({where})\n"


@dataclass
class FittedContext:
    """The context text given to the model, the chunks in it, and what was left out."""

    text: str
    used: list[ScoredChunk]
    cut: list[ScoredChunk] = field(default_factory=list)
    truncated: bool = False
    tokens: int = 0

    def report(self) -> dict[str, object]:
        """What the client is told about the context (part of the chain's output)."""
        return {
            "chunks_used": len(self.used),
            "chunks_cut": [c.document.metadata.get("source") for c in self.cut],
            "truncated": self.truncated,
            "tokens": self.tokens,
        }


def fit_context(
    chunks: list[ScoredChunk],
    *,
    budget_tokens: int,
    count: Callable[[str], int],
) -> FittedContext:
    """Greedily keep the best chunks whose labelled text fits in ``budget_tokens``."""
    parts: list[str] = []
    used: list[ScoredChunk] = []
    cut: list[ScoredChunk] = []
    spent = 0
    truncated = False
    for chunk in chunks:
        part = label(chunk, len(used) + 1) + chunk.document.page_content
        cost = count(part) + 2
        if spent + cost <= budget_tokens:
            parts.append(part)
            used.append(chunk)
            spent += cost
        elif not used and budget_tokens > 64:
            # Better a truncated best chunk than no context at all.
            ratio = (budget_tokens - 8) / cost
            part = part[: max(1, int(len(part) * ratio * 0.9))]
            parts.append(part)
            used.append(chunk)
            spent += count(part)
            truncated = True
        else:
            cut.append(chunk)
    return FittedContext("\n\n".join(parts), used, cut, truncated, spent)
