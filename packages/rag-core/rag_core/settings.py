"""The one settings object of the product, shared by ingest, the chain and the server.

Every knob is declared here once, read from the environment (prefix ``RAG_``) or a ``.env`` file,
validated at start-up so a bad value fails with a message naming the variable, and then passed
around as an object: nothing else in the code base reads ``os.environ``.
"""

from __future__ import annotations

import ipaddress
import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlparse

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_COLLECTION = "docs"
REFUSAL = "I don't know based on the provided data."


class SettingsError(RuntimeError):
    """Raised when the environment holds an invalid setting; the message names the variable."""


class Settings(BaseSettings):
    """All configuration, with the embedded (offline, no GPU) stack as the default."""

    model_config = SettingsConfigDict(
        env_prefix="RAG_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # --- storage -------------------------------------------------------------------------
    data_dir: Path = Field(
        Path("./data"), description="Folder holding the Chroma store, the ingest records, SQLite."
    )
    collection: str = Field(
        DEFAULT_COLLECTION,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{1,61}[A-Za-z0-9]$",
        description="Chroma collection name (3-63 chars, letters, digits, . _ -).",
    )
    chroma_url: str | None = Field(
        None, description="http://host:port of a Chroma server; unset = embedded store on disk."
    )
    vectorstore: Literal["chroma", "pgvector"] = Field(
        "chroma",
        description="chroma = embedded on disk (or RAG_CHROMA_URL); pgvector = PostgreSQL with "
        "pgvector at RAG_PGVECTOR_URL (chunks, vectors and ingest records).",
    )
    pgvector_url: str | None = Field(
        None,
        description="postgresql://user@host:port/db of the pgvector database (may be the history "
        "database); needed when RAG_VECTORSTORE=pgvector.",
    )

    # --- embeddings ----------------------------------------------------------------------
    embeddings: Literal["local", "ollama"] = Field(
        "local", description="local = bundled all-MiniLM-L6-v2; ollama = OllamaEmbeddings."
    )
    embeddings_model: str | None = Field(
        None, description="Embedding model name for the ollama provider (default nomic-embed-text)."
    )
    embeddings_batch_size: int = Field(64, ge=1, le=4096)
    ollama_base_url: str = Field("http://127.0.0.1:11434", description="Ollama server URL.")

    # --- chunking ------------------------------------------------------------------------
    chunk_size: int = Field(1000, ge=100, le=20000, description="Max characters per chunk.")
    chunk_overlap: int = Field(150, ge=0, description="Characters shared by neighbouring chunks.")

    # --- chat model ----------------------------------------------------------------------
    llm: Literal["llamacpp", "ollama", "openai"] = Field(
        "llamacpp", description="Chat model backend."
    )
    llm_model: str | None = Field(
        None,
        description="GGUF path (llamacpp; default the bundled SmolLM2), model name "
        "(ollama; default llama3.1:8b) or model id (openai; default gpt-4o-mini).",
    )
    openai_base_url: str | None = Field(None, description="Base URL of an OpenAI-compatible API.")
    openai_api_key: SecretStr = Field(
        SecretStr("not-needed"), description="API key (never logged)."
    )
    llm_timeout: float = Field(
        60.0, gt=0, le=3600, description="Seconds before a backend call fails."
    )
    llm_max_tokens: int = Field(256, ge=16, le=8192, description="Max answer tokens.")
    llm_context_window: int = Field(
        4096, ge=512, le=131072, description="Model context window in tokens (llama.cpp n_ctx)."
    )
    llm_threads: int | None = Field(None, ge=1, le=256, description="llama.cpp threads.")
    answer_mode: Literal["auto", "extract", "generate", "verified"] = Field(
        "auto",
        description="extract: the answer is the best-matching sentences of the sources, verbatim, "
        "no model; generate: the chat model writes it from the sources; verified: the chat model "
        "writes it and every sentence the sources do not support is dropped (nothing left: "
        "extract); auto: extract for the embedded llamacpp model, generate for ollama/openai "
        "(chosen by evaluation, see README).",
    )

    # --- retrieval -----------------------------------------------------------------------
    top_k: int = Field(3, ge=1, le=50, description="Chunks retrieved per question.")
    max_top_k: int = Field(10, ge=1, le=50, description="Upper bound for a client-chosen k.")
    score_threshold: float = Field(
        0.26,  # chosen with `python -m bench.eval` (see README, Performance)
        ge=0.0,
        le=1.0,
        description="Cosine relevance below which a chunk is ignored (unless BM25 found it); "
        "a best chunk below it = refusal.",
    )
    refusal_threshold: float = Field(
        0.78,  # chosen with `python -m bench.eval` on three corpora (see README, Answer quality)
        ge=0.0,
        le=2.0,
        description="Refuse when best relevance + 0.6 x share of the question's words found in "
        "the documents is below this.",
    )
    hybrid: bool = Field(
        True,
        description="Fuse BM25 (lexical) with dense retrieval by reciprocal rank; false = dense only.",
    )

    # --- serving -------------------------------------------------------------------------
    host: str = Field("127.0.0.1", description="Bind address of rag-serve.")
    port: int = Field(8000, ge=1, le=65535)
    max_question_chars: int = Field(4000, ge=1, le=100_000)
    max_body_bytes: int = Field(1_000_000, ge=1024, description="Request bodies above this: 413.")
    max_batch_size: int = Field(8, ge=1, le=256, description="Inputs per /batch call.")
    cors_origins: list[str] = Field(
        default_factory=list, description="Allowed CORS origins (JSON list); empty = CORS off."
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Reverse proxies (IPs or CIDR networks, comma-separated) whose "
        "X-Forwarded-For names the client; empty = the peer address is the client.",
    )
    api_model_id: str = Field(
        "quill-rag",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$",
        description="Model id of the OpenAI-compatible API (/v1): what GET /v1/models lists and "
        "the only `model` /v1/chat/completions accepts.",
    )

    # --- users, history, limits (see README) ---------------------------------------------
    database_url: str | None = Field(
        None, description="SQLAlchemy async URL for chat history; unset = SQLite in data_dir."
    )
    redis_url: str | None = Field(None, description="Redis URL for shared rate limits.")
    auth: Literal["off", "apikey"] = Field("off", description="off or apikey (Bearer keys).")
    rate_limit_per_minute: float = Field(60.0, gt=0, description="Sustained requests per minute.")
    rate_limit_burst: int = Field(20, ge=1, description="Requests allowed in a burst.")
    rate_limit_enabled: bool = Field(
        True, description="Rate limit per key or address (moving window)."
    )
    table_prefix: str = Field(
        "rag_",
        pattern=r"^[a-z][a-z0-9_]{0,30}$",
        description="Prefix of the history/key tables, so several services can share a database.",
    )
    redis_prefix: str = Field(
        "rag:", max_length=64, description="Prefix of Redis keys, so services can share a Redis."
    )

    # --- documents over HTTP (POST /documents) and ingest safety (see README) ---------------
    upload_max_file_bytes: int = Field(
        20_000_000, ge=1024, description="Largest file one upload may carry (bytes); above: 413."
    )
    upload_max_files: int = Field(
        20, ge=1, le=1000, description="Most files one POST /documents may carry; above: 413."
    )
    upload_extensions: list[str] | None = Field(
        None,
        description='Extensions POST /documents accepts (JSON list, e.g. [".md", ".pdf"]); '
        "unset = every type the loaders read. Others: 415.",
    )
    ingest_max_pdf_pages: int = Field(
        2000, ge=1, description="A PDF with more pages fails to ingest (a huge PDF)."
    )
    ingest_max_docx_bytes: int = Field(
        200_000_000,
        ge=1024,
        description="A .docx (a zip) whose members would expand beyond this fails (zip bomb).",
    )
    ingest_max_zip_ratio: int = Field(
        200,
        ge=2,
        description="A .docx member over 1 MB expanding more than this many times fails (zip bomb).",
    )
    ingest_nice: int = Field(
        10, ge=0, le=19, description="CPU niceness of the upload ingest process (answers first)."
    )

    @field_validator("chroma_url", "openai_base_url", "ollama_base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"expected an http(s)://host[:port] URL, got {value!r}")
        return value.rstrip("/")

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _networks(cls, value: object) -> list[str]:
        if isinstance(value, str):  # "10.0.0.1, 10.1.0.0/16", or a JSON list
            items: object = (
                json.loads(value) if value.lstrip().startswith("[") else value.split(",")
            )
        else:
            items = value
        if not isinstance(items, list | tuple):
            raise ValueError("expected comma-separated IP addresses or CIDR networks")
        networks = []
        for item in (str(part).strip() for part in items):
            if not item:
                continue
            try:
                networks.append(str(ipaddress.ip_network(item, strict=False)))
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or CIDR network") from None
        return networks

    @field_validator("pgvector_url")
    @classmethod
    def _pgvector_url(cls, value: str | None) -> str | None:
        return psycopg_database_url(value) if value else None

    @field_validator("database_url")
    @classmethod
    def _async_database_url(cls, value: str | None) -> str | None:
        return async_database_url(value) if value else None

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError(
                f"RAG_CHUNK_OVERLAP ({self.chunk_overlap}) must be smaller than "
                f"RAG_CHUNK_SIZE ({self.chunk_size})"
            )
        if self.top_k > self.max_top_k:
            raise ValueError(f"RAG_TOP_K ({self.top_k}) exceeds RAG_MAX_TOP_K ({self.max_top_k})")
        if self.llm_max_tokens >= self.llm_context_window:
            raise ValueError(
                f"RAG_LLM_MAX_TOKENS ({self.llm_max_tokens}) must be smaller than "
                f"RAG_LLM_CONTEXT_WINDOW ({self.llm_context_window}): the prompt needs room too"
            )
        if self.llm == "openai" and not self.openai_base_url:
            raise ValueError("RAG_LLM=openai needs RAG_OPENAI_BASE_URL")
        if self.vectorstore == "pgvector" and not self.pgvector_url:
            raise ValueError("RAG_VECTORSTORE=pgvector needs RAG_PGVECTOR_URL")
        return self

    @property
    def chroma_dir(self) -> Path:
        """Where the embedded Chroma store lives."""
        return self.data_dir / "chroma"

    @property
    def uploads_dir(self) -> Path:
        """Where files sent to POST /documents are kept, one folder per owner."""
        return self.data_dir / "uploads"

    @property
    def records_db_url(self) -> str:
        """SQLAlchemy URL of ingest's record manager (which chunk of which file is indexed).

        With pgvector the records live beside the chunks, so any machine that can reach the
        database can ingest incrementally (nothing of the index stays on one disk).
        """
        if self.vectorstore == "pgvector" and self.pgvector_url:
            return self.pgvector_url
        return f"sqlite:///{(self.data_dir / 'ingest-records.sqlite').resolve()}"

    @property
    def history_db_url(self) -> str:
        """Async SQLAlchemy URL of the chat history store."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'history.sqlite').resolve()}"


#: The drivers we ship, by the URL schemes people write (every PostgreSQL tool documents the plain
#: ``postgresql://``; SQLAlchemy would pick psycopg for it, which is not installed).
_ASYNC_SCHEMES = {
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
    "postgresql+psycopg": "postgresql+asyncpg",
    "postgresql+psycopg2": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
}


def async_database_url(url: str) -> str:
    """``url`` with its scheme mapped to the async driver we ship; ValueError names what works."""
    scheme, sep, rest = url.partition("://")
    target = _ASYNC_SCHEMES.get(scheme.lower()) if sep else None
    if target is None:
        raise ValueError(
            f"expected postgresql://user@host:port/db or sqlite:///path, got {scheme or url!r}"
            " (other databases are not supported)"
        )
    if target.startswith("postgresql") and not rest.split("/", 1)[0]:
        raise ValueError("a postgresql:// URL needs a host, e.g. postgresql://user@host:5432/db")
    return f"{target}://{rest}"


def psycopg_database_url(url: str) -> str:
    """``url`` with its scheme mapped to psycopg 3, the driver langchain-postgres (pgvector) needs.

    People write the plain ``postgresql://`` every PostgreSQL tool documents, or copy the history
    database's URL (``postgresql+asyncpg://``); both mean the same database here.
    """
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in _POSTGRES_SCHEMES:
        raise ValueError(f"expected postgresql://user@host:port/db, got {scheme or url!r}")
    return f"postgresql+psycopg://{rest}"


_POSTGRES_SCHEMES = {
    "postgresql",
    "postgres",
    "postgresql+psycopg",
    "postgresql+asyncpg",
    "postgresql+psycopg2",
}


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        loc = item.get("loc") or ()
        name = "RAG_" + str(loc[0]).upper() if loc else "settings"
        lines.append(f"{name}: {item['msg']}")
    return "invalid settings: " + "; ".join(lines)


def load_settings(**overrides: object) -> Settings:
    """Build settings from env/.env plus explicit overrides, raising SettingsError on bad values."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()


def answer_mode_of(settings: Settings) -> Literal["extract", "generate", "verified"]:
    """The answer mode in effect: ``auto`` resolved for the configured backend."""
    if settings.answer_mode != "auto":
        return settings.answer_mode
    return "extract" if settings.llm == "llamacpp" else "generate"
