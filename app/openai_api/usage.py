"""Token counts for the ``usage`` field OpenAI clients expect on an answer.

Counted with the chat model's own tokenizer when it has one (llama.cpp, the same counter the chain
budgets its context with) and estimated otherwise (~3 characters per token, an over-estimate).
``prompt_tokens`` is the question the chain answered plus the document context given to the model
(``context.tokens``; 0 when no model wrote the answer: extract mode, refusals);
``completion_tokens`` is the text the client received, citations included. A count that fails
(the model worker is restarting) falls back to the estimate: the answer was already given.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from rag_chain import RagResources, token_counter

from app.openai_api.schemas import Usage

log = logging.getLogger("rag.openai")


def _count(resources: RagResources, texts: list[str]) -> list[int]:
    try:
        count = token_counter(resources.chat_model)
        return [count(text) for text in texts]
    except Exception as exc:
        log.warning("token count fell back to the estimate: %s", exc)
        estimate = token_counter(None)
        return [estimate(text) for text in texts]


async def usage_of(
    resources: RagResources, question: str, context: dict[str, Any] | None, text: str
) -> Usage:
    """The usage of one answer (counting may ask the model worker: off the event loop)."""
    question_tokens, completion = await asyncio.to_thread(_count, resources, [question, text])
    context_tokens = int((context or {}).get("tokens") or 0)
    prompt = question_tokens + context_tokens
    return Usage(
        prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
    )
