"""The serving process's NumPy MiniLM must embed exactly like the sentence-transformers model ingest uses.

If the two drifted apart, questions would be compared with chunks in a different vector space and
retrieval would silently degrade, so this compares them on real text with the real bundled weights.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from rag_core.embeddings import local_model_path
from rag_core.minilm import MiniLMEncoder

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def _texts() -> list[str]:
    texts = []
    for path in sorted((ROOT / "samples").glob("*.md")):
        body = path.read_text()
        texts += [body[i : i + 900] for i in range(0, len(body), 2500)]
    return texts + [
        "How do I install Quillfeather on Linux?",
        "What's the capital of France?",
        "",  # only [CLS] [SEP]
        "word " * 700,  # longer than the 256-token window: both must truncate the same way
        "Ünïcödé, accents, 中文, テスト and an emoji 🙂",
        "MiXeD CaSe and punctuation!!! (brackets) [x] {y} -- 3.14",
    ]


@pytest.fixture(scope="module")
def reference() -> tuple[list[str], np.ndarray]:
    from sentence_transformers import SentenceTransformer

    texts = _texts()
    model = SentenceTransformer(local_model_path(), device="cpu")
    return texts, model.encode(texts, batch_size=8, normalize_embeddings=True)


def test_numpy_minilm_equals_sentence_transformers(reference: tuple[list[str], np.ndarray]) -> None:
    texts, expected = reference
    got = MiniLMEncoder(local_model_path()).encode(texts, batch_size=5)
    assert got.shape == expected.shape
    cosines = (got * expected).sum(axis=1)
    assert cosines.min() > 0.9999, cosines
    assert np.abs(got - expected).max() < 1e-4
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_batching_and_order_do_not_change_vectors() -> None:
    encoder = MiniLMEncoder(local_model_path())
    texts = _texts()
    together = encoder.encode(texts, batch_size=64)
    alone = np.stack([encoder.encode([t])[0] for t in texts])
    assert np.abs(together - alone).max() < 1e-5
    reordered = encoder.encode(texts[::-1], batch_size=3)[::-1]
    assert np.abs(together - reordered).max() < 1e-5


def test_rankings_agree_on_the_samples(reference: tuple[list[str], np.ndarray]) -> None:
    """What matters downstream: the same chunks rank first for the same questions."""
    texts, expected = reference
    encoder = MiniLMEncoder(local_model_path())
    chunks = encoder.encode(texts)
    for question in ["How do I install Quillfeather on Linux?", "How are backups configured?"]:
        q = encoder.encode([question])[0]
        ours = np.argsort(-(chunks @ q))[:5]
        theirs = np.argsort(-(expected @ q))[:5]
        assert list(ours) == list(theirs)


def test_serving_never_imports_torch(sample_index: dict[str, str]) -> None:
    """The cold-start fix: a warmed server that answers a /retriever question runs without torch."""
    script = """
import asyncio, json, sys
import httpx
from app.server import create_app

app = create_app()

async def main():
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            r = await client.post(
                "/retriever/invoke", json={"input": {"question": "How do I install Quillfeather?"}}
            )
            return r.status_code, r.json()["output"]

status, sources = asyncio.run(main())
heavy = [m for m in ("torch", "transformers", "sentence_transformers", "openai") if m in sys.modules]
print(json.dumps({"status": status, "found": len(sources) > 0, "heavy": heavy}))
"""
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
        env=sample_index,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"status": 200, "found": True, "heavy": []}


def test_the_serving_embedder_runs_numpy_blas_on_one_thread(tmp_path: Path) -> None:
    """Spinning BLAS threads made a question 4-10x slower whenever the cores were busy (see
    ``rag_core.embeddings._local_query_embeddings``); a fresh process checks the limit is set."""
    probe = (
        "import json\n"
        "from threadpoolctl import threadpool_info\n"
        "from rag_core.embeddings import make_query_embeddings\n"
        "from rag_core.settings import load_settings\n"
        f"make_query_embeddings(load_settings(data_dir={str(tmp_path)!r}))\n"
        "print(json.dumps([i['num_threads'] for i in threadpool_info()"
        " if i['user_api'] == 'blas']))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    threads = json.loads(out.stdout.strip().splitlines()[-1])
    assert threads, "NumPy's BLAS was not found"
    assert set(threads) == {1}
