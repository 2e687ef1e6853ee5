"""Incremental indexing with fake embeddings and a real Chroma store in a temp dir."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding
from rag_core.settings import load_settings
from rag_core.vectorstore import make_vectorstore

from ingest.discovery import discover
from ingest.indexer import Ingestor


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    (root / "guide").mkdir(parents=True)
    (root / "guide" / "setup.md").write_text(
        "# Setup\n\nInstall with qf install.\n\n## Ports\n\nPort 7420.\n"
    )
    (root / "faq.txt").write_text("Q: Is it free?\nA: The Free plan is.\n")
    (root / "notes.bin").write_bytes(b"\x00\x01")
    (root / ".hidden").mkdir()
    (root / ".hidden" / "secret.md").write_text("# hidden\n")
    return root


def make(tmp_path: Path, user: str | None = None, **overrides: object) -> Ingestor:
    settings = load_settings(data_dir=tmp_path / "data", **overrides)
    embeddings = DeterministicFakeEmbedding(size=32)
    store = make_vectorstore(settings, embeddings, create=True)
    return Ingestor(settings, user=user, embeddings=embeddings, vectorstore=store)


def all_chunks(ingestor: Ingestor) -> dict[str, dict]:
    got = ingestor.vectorstore(create=False)._collection.get()  # type: ignore[union-attr]
    return {i: m for i, m in zip(got["ids"], got["metadatas"], strict=True)}


def test_discover_relative_sources_hidden_and_unsupported(corpus: Path) -> None:
    files, failed, unsupported = discover([corpus, corpus / "faq.txt", corpus / "missing.md"])
    assert [f.source for f in files] == ["faq.txt", "guide/setup.md"]
    assert failed == [{"path": str(corpus / "missing.md"), "error": "no such file or directory"}]
    assert unsupported == [str(corpus / "notes.bin")]


def test_first_run_adds_second_run_skips_everything(tmp_path: Path, corpus: Path) -> None:
    first = make(tmp_path).run([corpus], progress=False)
    assert first.added > 0 and first.skipped == 0 and first.failed == []
    assert first.chunks_total == first.added
    second = make(tmp_path).run([corpus], progress=False)
    assert (second.added, second.updated, second.deleted) == (0, 0, 0)
    assert second.skipped == first.added
    assert second.chunks_total == first.chunks_total


def test_edit_replaces_only_that_files_chunks(tmp_path: Path, corpus: Path) -> None:
    ingestor = make(tmp_path)
    ingestor.run([corpus], progress=False)
    before = all_chunks(ingestor)
    (corpus / "faq.txt").write_text("Q: Is it free?\nA: Only the Free plan, up to 3 users.\n")
    report = make(tmp_path).run([corpus], progress=False)
    assert (report.added, report.updated, report.deleted) == (0, 1, 1)
    after = all_chunks(ingestor)
    unchanged = {i for i, m in before.items() if m["source"] == "guide/setup.md"}
    assert unchanged <= set(after), "the other file's chunks were untouched"
    assert len(after) == len(before)


def test_prune_removes_vanished_files_and_dry_run_writes_nothing(
    tmp_path: Path, corpus: Path
) -> None:
    make(tmp_path).run([corpus], progress=False)
    (corpus / "faq.txt").unlink()
    plan = make(tmp_path).run([corpus], prune=True, dry_run=True, progress=False)
    assert plan.deleted == 1 and any(line.startswith("delete   faq.txt") for line in plan.plan)
    assert {m["source"] for m in all_chunks(make(tmp_path)).values()} == {
        "faq.txt",
        "guide/setup.md",
    }
    without_prune = make(tmp_path).run([corpus], progress=False)
    assert without_prune.deleted == 0
    pruned = make(tmp_path).run([corpus], prune=True, progress=False)
    assert pruned.deleted == 1
    assert {m["source"] for m in all_chunks(make(tmp_path)).values()} == {"guide/setup.md"}


def test_dry_run_on_a_new_store_creates_nothing(tmp_path: Path, corpus: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "fresh")
    report = Ingestor(settings, embeddings=DeterministicFakeEmbedding(size=8)).run(
        [corpus], dry_run=True, progress=False
    )
    assert report.added > 0 and report.chunks_total == 0
    assert not (tmp_path / "fresh" / "ingest-records.sqlite").exists()
    assert any(line.startswith("add      guide/setup.md") for line in report.plan)


def test_broken_file_is_reported_and_keeps_its_old_chunks(tmp_path: Path, corpus: Path) -> None:
    make(tmp_path).run([corpus], progress=False)
    (corpus / "faq.txt").write_bytes(b"\x00binary now")
    report = make(tmp_path).run([corpus], prune=True, progress=False)
    assert [f["path"] for f in report.failed] == [str(corpus / "faq.txt")]
    assert report.deleted == 0, "a file that failed to load is not pruned"


def test_users_are_isolated_namespaces(tmp_path: Path, corpus: Path) -> None:
    shared = make(tmp_path).run([corpus], progress=False)
    private = make(tmp_path, user="alice").run([corpus], progress=False)
    assert private.added == shared.added, "same files for another owner are new chunks"
    owners = {m["owner"] for m in all_chunks(make(tmp_path)).values()}
    assert owners == {"_shared", "alice"}
    (corpus / "faq.txt").unlink()
    pruned = make(tmp_path, user="alice").run([corpus], prune=True, progress=False)
    assert pruned.deleted == 1
    remaining = all_chunks(make(tmp_path)).values()
    assert any(m["source"] == "faq.txt" and m["owner"] == "_shared" for m in remaining)


def test_emptied_collection_is_reindexed(tmp_path: Path, corpus: Path) -> None:
    ingestor = make(tmp_path)
    first = ingestor.run([corpus], progress=False)
    store = ingestor.vectorstore(create=False)
    store.delete(list(all_chunks(ingestor)))  # type: ignore[union-attr]
    again = make(tmp_path).run([corpus], progress=False)
    assert again.added == first.added and again.chunks_total == first.chunks_total
