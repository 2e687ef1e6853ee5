"""The real rag-ingest CLI with the real MiniLM embeddings and a real Chroma store in a temp dir."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import chromadb
import pytest

from tests.conftest import ROOT, SAMPLES, run_ingest

pytestmark = pytest.mark.slow


def chunks(data_dir: Path) -> dict[str, dict]:
    client = chromadb.PersistentClient(path=str(data_dir / "chroma"))
    got = client.get_collection("docs").get()
    return dict(zip(got["ids"], got["metadatas"], strict=True))


def summary(result) -> dict:  # type: ignore[no-untyped-def]
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, f"--json prints exactly one line on stdout, got {result.stdout!r}"
    return json.loads(lines[0])


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A copy of the bundled samples plus the project's README (real documents of two kinds)."""
    root = tmp_path / "corpus"
    shutil.copytree(SAMPLES, root, ignore=shutil.ignore_patterns("_*", "*.py"))
    shutil.copy(ROOT / "README.md", root / "README.md")
    return root


def test_incremental_lifecycle(corpus: Path, rag_env: dict[str, str]) -> None:
    data_dir = Path(rag_env["RAG_DATA_DIR"])
    first = run_ingest(str(corpus), "--json", env=rag_env)
    assert first.returncode == 0, first.stderr
    report = summary(first)
    assert report["files"] == len([p for p in corpus.rglob("*") if p.is_file()])
    assert report["added"] > 10 and report["failed"] == []
    assert report["chunks_total"] == report["added"] == len(chunks(data_dir))

    second = summary(run_ingest(str(corpus), "--json", env=rag_env))
    assert (second["added"], second["updated"], second["deleted"]) == (0, 0, 0)
    assert second["skipped"] == report["added"]

    before = chunks(data_dir)
    readme = corpus / "README.md"
    readme.write_text(readme.read_text() + "\n## Appendix\n\nA new closing paragraph.\n")
    third = summary(run_ingest(str(corpus), "--json", env=rag_env))
    after = chunks(data_dir)
    changed = {m["source"] for i, m in after.items() if i not in before}
    changed |= {m["source"] for i, m in before.items() if i not in after}
    assert changed == {"README.md"}, "only the edited file's chunks changed"
    assert third["updated"] >= 1 and third["added"] == 0

    readme.unlink()
    kept = summary(run_ingest(str(corpus), "--json", env=rag_env))
    assert kept["deleted"] == 0, "without --prune nothing is deleted"
    pruned = summary(run_ingest(str(corpus), "--json", "--prune", env=rag_env))
    assert pruned["deleted"] > 0
    assert "README.md" not in {m["source"] for m in chunks(data_dir).values()}
    assert pruned["chunks_total"] == len(chunks(data_dir))


def test_corrupt_pdf_is_reported_and_others_ingested(corpus: Path, rag_env: dict[str, str]) -> None:
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.7\nthis is not really a pdf")
    result = run_ingest(str(corpus), "--json", env=rag_env)
    assert result.returncode == 1
    report = summary(result)
    assert [Path(f["path"]).name for f in report["failed"]] == ["broken.pdf"]
    assert "broken.pdf" in result.stderr and "not a readable PDF" in result.stderr
    sources = {m["source"] for m in chunks(Path(rag_env["RAG_DATA_DIR"])).values()}
    assert "user-guide.pdf" in sources and "pricing.md" in sources


def test_pdf_chunks_carry_pages_and_markdown_chunks_lines(
    corpus: Path, rag_env: dict[str, str]
) -> None:
    assert run_ingest(str(corpus), env=rag_env).returncode == 0
    metas = list(chunks(Path(rag_env["RAG_DATA_DIR"])).values())
    pdf_pages = {m["page"] for m in metas if m["source"] == "user-guide.pdf"}
    assert pdf_pages == {1, 2, 3}
    markdown = [m for m in metas if m["source"].endswith(".md")]
    assert markdown, "the corpus has Markdown files"
    for meta in markdown:
        lines = (corpus / meta["source"]).read_text().splitlines()
        assert 1 <= meta["start_line"] <= meta["end_line"] <= len(lines)
        assert lines[meta["start_line"] - 1].strip(), "a citation never starts on a blank line"


def test_usage_errors_and_missing_paths(tmp_path: Path, rag_env: dict[str, str]) -> None:
    assert run_ingest(env=rag_env).returncode == 2
    bad_setting = run_ingest(str(tmp_path), env={**rag_env, "RAG_CHUNK_SIZE": "lots"})
    assert bad_setting.returncode == 2 and "RAG_CHUNK_SIZE" in bad_setting.stderr
    overlap = run_ingest(str(tmp_path), env={**rag_env, "RAG_CHUNK_OVERLAP": "5000"})
    assert overlap.returncode == 2 and "RAG_CHUNK_OVERLAP" in overlap.stderr
    missing = run_ingest(str(tmp_path / "nope"), "--json", env=rag_env)
    assert missing.returncode == 1
    assert summary(missing)["failed"][0]["error"] == "no such file or directory"
    help_text = run_ingest("--help", env=rag_env)
    assert (
        help_text.returncode == 0
        and "--prune" in help_text.stdout
        and "Exit codes" in help_text.stdout
    )


def test_dry_run_then_overrides(corpus: Path, rag_env: dict[str, str], tmp_path: Path) -> None:
    dry = run_ingest(str(corpus), "--dry-run", env=rag_env)
    assert dry.returncode == 0
    assert "add      pricing.md" in dry.stdout
    assert not (Path(rag_env["RAG_DATA_DIR"]) / "chroma").exists()
    other = tmp_path / "other-data"
    result = run_ingest(
        str(corpus / "pricing.md"),
        "--json",
        "--data-dir",
        str(other),
        "--collection",
        "alt",
        "--user",
        "alice",
        env=rag_env,
    )
    assert result.returncode == 0, result.stderr
    client = chromadb.PersistentClient(path=str(other / "chroma"))
    metas = client.get_collection("alt").get()["metadatas"]
    assert {(m["source"], m["owner"]) for m in metas} == {("pricing.md", "alice")}
