"""Settings: one object from env/.env, validated at start with messages naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest
from rag_core.settings import SettingsError, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(__import__("os").environ):
        if name.startswith("RAG_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no stray .env from the repo


def test_embedded_defaults() -> None:
    settings = load_settings()
    assert (settings.llm, settings.embeddings, settings.collection) == ("llamacpp", "local", "docs")
    assert settings.chroma_url is None and settings.host == "127.0.0.1"
    assert settings.chroma_dir == Path("data") / "chroma"
    assert settings.records_db_url.endswith("/data/ingest-records.sqlite")


def test_env_and_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("RAG_COLLECTION=handbook\nRAG_TOP_K=5\n")
    monkeypatch.setenv("RAG_TOP_K", "4")
    settings = load_settings()
    assert settings.collection == "handbook", ".env is read"
    assert settings.top_k == 4, "the environment wins over .env"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"RAG_CHUNK_SIZE": "big"}, "RAG_CHUNK_SIZE"),
        ({"RAG_LLM": "gpt5"}, "RAG_LLM"),
        ({"RAG_CHROMA_URL": "localhost:8000"}, "RAG_CHROMA_URL"),
        ({"RAG_COLLECTION": "a"}, "RAG_COLLECTION"),
        ({"RAG_CHUNK_SIZE": "500", "RAG_CHUNK_OVERLAP": "500"}, "RAG_CHUNK_OVERLAP"),
        ({"RAG_LLM_MAX_TOKENS": "4096"}, "RAG_LLM_MAX_TOKENS"),
        ({"RAG_TOP_K": "20"}, "RAG_MAX_TOP_K"),
        ({"RAG_LLM": "openai"}, "RAG_OPENAI_BASE_URL"),
        ({"RAG_SCORE_THRESHOLD": "1.5"}, "RAG_SCORE_THRESHOLD"),
    ],
)
def test_invalid_settings_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], named: str
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(SettingsError, match=named):
        load_settings()


def test_api_key_is_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_LLM", "openai")
    monkeypatch.setenv("RAG_OPENAI_BASE_URL", "http://127.0.0.1:9/v1/")
    monkeypatch.setenv("RAG_OPENAI_API_KEY", "sk-very-secret")
    settings = load_settings()
    assert "sk-very-secret" not in repr(settings)
    assert settings.openai_api_key.get_secret_value() == "sk-very-secret"
    assert settings.openai_base_url == "http://127.0.0.1:9/v1"


def test_rag_serve_binds_loopback_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """What rag-serve hands uvicorn when neither --host nor RAG_HOST says otherwise."""
    import uvicorn

    from app import cli

    bound: dict[str, object] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: bound.update(options))
    assert cli.main([]) == 0
    assert (bound["host"], bound["port"]) == ("127.0.0.1", 8000)


@pytest.mark.parametrize(
    ("given", "used"),
    [
        (
            "postgresql://postgres@127.0.0.1:5432/rag",
            "postgresql+asyncpg://postgres@127.0.0.1:5432/rag",
        ),
        ("postgres://u:p@db/rag", "postgresql+asyncpg://u:p@db/rag"),
        ("postgresql+psycopg://u@db/rag", "postgresql+asyncpg://u@db/rag"),
        ("postgresql+asyncpg://u@db/rag", "postgresql+asyncpg://u@db/rag"),
        (
            "sqlite:////var/lib/rag/history.sqlite",
            "sqlite+aiosqlite:////var/lib/rag/history.sqlite",
        ),
    ],
)
def test_database_urls_in_every_documented_form_use_the_driver_we_ship(
    given: str, used: str
) -> None:
    settings = load_settings(database_url=given)
    assert settings.history_db_url == used


@pytest.mark.parametrize(
    "url", ["mysql://root@db/rag", "db.example:5432/rag", "postgresql:///rag", "http://db/rag"]
)
def test_an_unusable_database_url_is_one_line_naming_the_variable(url: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(database_url=url)
    message = str(caught.value)
    assert message.startswith("invalid settings: RAG_DATABASE_URL: ")
    assert "\n" not in message


@pytest.mark.parametrize("given", ["10.0.0.1, 172.16.0.0/12", '["10.0.0.1", "172.16.0.0/12"]'])
def test_trusted_proxies_read_as_a_comma_list_or_json(
    monkeypatch: pytest.MonkeyPatch, given: str
) -> None:
    monkeypatch.setenv("RAG_TRUSTED_PROXIES", given)
    assert load_settings().trusted_proxies == ["10.0.0.1/32", "172.16.0.0/12"]


def test_a_trusted_proxy_that_is_no_address_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RAG_TRUSTED_PROXIES", "10.0.0.1,proxy.internal")
    with pytest.raises(SettingsError, match="RAG_TRUSTED_PROXIES: .*'proxy.internal'"):
        load_settings()
