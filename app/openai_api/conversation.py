"""The conversation an OpenAI client holds, read as our chain needs it: a question and its history.

OpenAI's API is stateless: every request carries the whole conversation. The last user message is
the question; the user and assistant turns before it are the history a follow-up is condensed
against (the same condenser as ``/chat`` sessions). System, developer and tool messages are left
out: the grounded prompt is the server's, and a client must not be able to rewrite it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rag_core.settings import Settings

from app.openai_api.citations import strip_citations
from app.openai_api.errors import bad_request
from app.openai_api.schemas import ChatMessage

#: Roles whose messages are turns of the conversation.
TURN_ROLES = ("user", "assistant")


@dataclass(frozen=True)
class ClientConversation:
    """The question and the turns before it, as ``{"role", "content"}`` dicts (oldest first)."""

    question: str
    history: list[dict[str, str]] = field(default_factory=list)


def message_text(message: ChatMessage, index: int) -> str:
    """A message's text: the string, or its text parts joined; other parts (images) are a 400."""
    content = message.content
    if content is None or isinstance(content, str):
        return content or ""
    texts = []
    for part in content:
        if part.type != "text" or part.text is None:
            raise bad_request(
                f"only text content is supported, got a {part.type!r} part",
                f"messages.{index}.content",
            )
        texts.append(part.text)
    return "\n".join(texts)


def read_conversation(messages: list[ChatMessage], settings: Settings) -> ClientConversation:
    """The question (last user message) and history; a 400 when there is no usable question."""
    last_user = next(
        (i for i in range(len(messages) - 1, -1, -1) if messages[i].role == "user"), None
    )
    if last_user is None:
        raise bad_request("messages must contain a user message: it is the question", "messages")
    question = message_text(messages[last_user], last_user).strip()
    if not question:
        raise bad_request("the last user message is empty", f"messages.{last_user}.content")
    if len(question) > settings.max_question_chars:
        raise bad_request(
            f"the question is {len(question)} characters; the limit is "
            f"{settings.max_question_chars} (RAG_MAX_QUESTION_CHARS)",
            f"messages.{last_user}.content",
            code="context_length_exceeded",
        )
    history = []
    for index, message in enumerate(messages[:last_user]):
        if message.role not in TURN_ROLES:
            continue
        text = message_text(message, index)
        if message.role == "assistant":
            text = strip_citations(text)
        if text.strip():
            history.append({"role": message.role, "content": text})
    return ClientConversation(question, history)
