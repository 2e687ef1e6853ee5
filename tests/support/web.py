"""An index for the web app's browser tests: the samples plus a hostile document.

The hostile document carries HTML that would run script if the page ever parsed document or model
text as HTML: ``<img src=x onerror=…>`` and ``<script>``, both setting ``window.__pwned``. Its
sentences name a made-up "Zanzibar relay" so one question retrieves it (and, in extract mode,
copies the hostile sentences verbatim into the answer, so the model-output path is exercised too).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.servers import clean_env

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
BIN = Path(sys.executable).parent

HOSTILE_NAME = "zanzibar.md"
HOSTILE_IMG = '<img src=x onerror="window.__pwned=1">'
HOSTILE_SCRIPT = "<script>window.__pwned=1</script>"
HOSTILE_DOC = f"""# Zanzibar relay

The Zanzibar relay token is {HOSTILE_IMG} and the relay rotates it every night.

{HOSTILE_SCRIPT} The Zanzibar relay listens on port 9911 for token requests.
"""
HOSTILE_QUESTION = "What is the Zanzibar relay token?"


def web_corpus(folder: Path) -> Path:
    """A folder with the bundled samples and the hostile document."""
    shutil.copytree(SAMPLES, folder)
    (folder / HOSTILE_NAME).write_text(HOSTILE_DOC)
    return folder


def build_web_index(workdir: Path) -> dict[str, str]:
    """Ingest the web corpus with the real rag-ingest; returns the env that serves it."""
    env = clean_env(RAG_DATA_DIR=str(workdir / "data"))
    corpus = web_corpus(workdir / "corpus")
    result = subprocess.run(
        [str(BIN / "rag-ingest"), "--no-progress", str(corpus), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return env
