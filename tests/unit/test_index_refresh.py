"""The server sees chunks that another process ingested while it was running (embedded Chroma)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from langchain_core.embeddings import DeterministicFakeEmbedding
from rag_chain.retrieval import IndexReader
from rag_core.settings import load_settings

INGEST = """
import sys
from pathlib import Path
from langchain_core.embeddings import DeterministicFakeEmbedding
from rag_core.settings import load_settings
from ingest.indexer import Ingestor
settings = load_settings(data_dir=Path(sys.argv[1]))
report = Ingestor(settings, embeddings=DeterministicFakeEmbedding(size=16)).run(
    [Path(sys.argv[2])], progress=False
)
assert not report.failed, report.failed
"""


def ingest_in_another_process(data_dir: Path, folder: Path) -> None:
    subprocess.run([sys.executable, "-c", INGEST, str(data_dir), str(folder)], check=True)


def test_reader_reopens_after_an_external_ingest(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "first.md").write_text("# First\n\nThe first document.\n")
    data_dir = tmp_path / "data"
    ingest_in_another_process(data_dir, docs)

    settings = load_settings(data_dir=data_dir, score_threshold=0.0)
    reader = IndexReader(settings, DeterministicFakeEmbedding(size=16))
    reader.REFRESH_SECONDS = 0.0
    second_text = "# Second\n\nA document added while the server runs."
    assert {c.document.metadata["source"] for c in reader.search(second_text, k=5)} == {"first.md"}
    opened = reader.store()
    for _ in range(3):
        reader.search("first", k=1)
    assert reader.store() is opened, "reading alone never makes the reader reopen the store"

    (docs / "second.md").write_text(second_text + "\n")
    ingest_in_another_process(data_dir, docs)

    sources = {c.document.metadata["source"] for c in reader.search(second_text, k=5)}
    assert sources == {"first.md", "second.md"}
    assert reader.count() == 2
