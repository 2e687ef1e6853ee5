"""An index for the web app's browser tests: the samples plus a hostile document.

The hostile document carries HTML that would run script if the page ever parsed document or model
text as HTML: ``<img src=x onerror=…>`` and ``<script>``, both setting ``window.__pwned``. Its
sentences name a made-up "Zanzibar relay" so one question retrieves it (and, in extract mode,
copies the hostile sentences verbatim into the answer, so the model-output path is exercised too).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

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


def clean_env(data_dir: Path) -> dict[str, str]:
    """This process's environment without RAG_* settings, pointing at ``data_dir``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update({"RAG_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"})
    return env


def build_web_index(workdir: Path) -> dict[str, str]:
    """Ingest the web corpus with the real rag-ingest; returns the env that serves it."""
    env = clean_env(workdir / "data")
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


def create_api_key(env: dict[str, str], user: str) -> str:
    """A new key for ``user`` in the database ``env`` points at (rag-admin prints it first)."""
    result = subprocess.run(
        [str(BIN / "rag-admin"), "create-key", "--user", user],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()[0].strip()
