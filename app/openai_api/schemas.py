"""What OpenAI clients send to ``/v1/chat/completions`` and what they get back.

The request model accepts every field real clients send (Open WebUI, LibreChat, the ``openai``
package and LangChain's ``ChatOpenAI`` add sampling knobs, ``user``, ``tools``, ``metadata`` …):
fields we do not honour are ignored rather than refused, because a chat UI that always sends
``temperature`` must still work. None of them reaches the chain: the server's model, prompt,
collection and tenant stay the server's. What we cannot do at all (``n`` > 1, images) is a 400.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class TextPart(BaseModel):
    """One part of a message's content given as a list (``{"type": "text", "text": ...}``)."""

    model_config = ConfigDict(extra="ignore")

    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    """One message of the conversation the client holds."""

    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    #: A string, a list of parts, or null (an assistant message that only called tools).
    content: str | list[TextPart] | None = None


class StreamOptions(BaseModel):
    """``stream_options``: only ``include_usage`` means something here."""

    model_config = ConfigDict(extra="ignore")

    include_usage: bool | None = False


class ChatCompletionRequest(BaseModel):
    """Body of ``POST /v1/chat/completions``; unknown fields (sampling knobs, tools …) are ignored."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field(..., description="The id listed by GET /v1/models.")
    messages: list[ChatMessage] = Field(
        ...,
        description="The conversation; the last user message is the question, earlier user and "
        "assistant turns make a follow-up understandable. System messages are ignored: the "
        "grounded prompt is the server's.",
    )
    # Nullable as in OpenAI's spec: some clients send ``null`` for "the default".
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    n: int | None = Field(1, description="Only 1 is supported.")
    # Accepted so clients that always send them work; the server's settings decide.
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    stop: str | list[str] | None = None
    user: str | None = Field(None, description="Ignored: the caller is the one the API key names.")

    @property
    def include_usage(self) -> bool:
        """Whether a streamed answer ends with a usage chunk."""
        return self.stream_options is not None and bool(self.stream_options.include_usage)


class ModelCard(BaseModel):
    """One entry of ``GET /v1/models``."""

    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelList(BaseModel):
    """``GET /v1/models``."""

    object: Literal["list"] = "list"
    data: list[ModelCard]


class Usage(BaseModel):
    """Token counts of one answer (see :mod:`app.openai_api.usage`)."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class AssistantMessage(BaseModel):
    """The answer as a chat message."""

    role: Literal["assistant"] = "assistant"
    content: str
    refusal: None = None


class Choice(BaseModel):
    """The one choice of a completion."""

    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop"] = "stop"
    logprobs: None = None


class ChatCompletion(BaseModel):
    """Body of a non-streamed answer, plus ``sources`` (the same list ``/chat`` returns)."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage
    sources: list[dict[str, Any]]


class OpenAIErrorDetail(BaseModel):
    """The inside of an OpenAI-style error."""

    message: str
    type: str
    param: str | None = None
    code: str | None = None


class OpenAIError(BaseModel):
    """Every error under ``/v1``: ``{"error": {"message", "type", "param", "code"}}``."""

    error: OpenAIErrorDetail
