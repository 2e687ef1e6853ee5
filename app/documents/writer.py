"""The index writer of documents sent over HTTP: ``python -m ingest.upload_ingest`` as a child.

The server only reads the index; writing it loads torch and sentence-transformers (~5 s, hundreds
of MB) and keeps a core busy while it embeds. So each job runs the real ingest pipeline in a child
process: started with the server's own settings (exported as ``RAG_*`` variables, so what a client
sends never reaches them), one BLAS/torch thread, and a lower CPU priority (``RAG_INGEST_NICE``). The
server reads its JSON lines (one per file) and never imports torch.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any, Protocol

from pydantic import SecretStr
from rag_core.settings import Settings

log = logging.getLogger("rag.documents")

#: Environment that keeps the child to one thread for torch / BLAS / tokenizers (cores for answers).
ONE_THREAD = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "HF_HUB_OFFLINE": "1",  # nothing is ever downloaded at run time
}
STDERR_TAIL_BYTES = 4000


class WriterFailed(RuntimeError):
    """The writer process could not do its work; the message says why."""


class IndexWriter(Protocol):
    """Writes uploads into the index and removes documents from it (one call at a time)."""

    def ingest(self, owner: str, files: list[Path]) -> AsyncGenerator[dict[str, Any], None]:
        """Ingest ``files`` for ``owner``, yielding upload_ingest's events as they happen."""
        ...

    async def delete(self, owner: str, source: str) -> int:
        """Remove the owner's document ``source``; returns the number of chunks removed."""
        ...

    async def close(self) -> None:
        """Stop whatever is running (server shutdown)."""
        ...


def child_environment(settings: Settings) -> dict[str, str]:
    """This process's environment with every ``RAG_*`` replaced by the server's own settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        if isinstance(value, SecretStr):
            text = value.get_secret_value()
        elif isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, list | dict):
            text = json.dumps(value)
        elif isinstance(value, Path):
            text = str(value.resolve())
        else:
            text = str(value)
        env[f"RAG_{name.upper()}"] = text
    env.update(ONE_THREAD)
    env["PYTHONUNBUFFERED"] = "1"
    return env


class ChildProcessWriter:
    """Runs ``python -m ingest.upload_ingest`` for each call, with the server's settings."""

    def __init__(self, settings: Settings) -> None:
        self.env = child_environment(settings)
        self.nice = settings.ingest_nice
        self._process: asyncio.subprocess.Process | None = None

    async def ingest(self, owner: str, files: list[Path]) -> AsyncGenerator[dict[str, Any], None]:
        """Run the child over ``files`` and yield each JSON event it prints."""
        async for event in self._run(["--owner", owner, *map(str, files)]):
            yield event

    async def delete(self, owner: str, source: str) -> int:
        """Run the child in delete mode; returns the chunks it removed."""
        removed = 0
        async for event in self._run(["--owner", owner, "--delete", source]):
            if event.get("event") == "deleted":
                removed = int(event.get("chunks", 0))
        return removed

    async def close(self) -> None:
        """Kill a child still running (its job is failed as abandoned at the next start)."""
        process = self._process
        if process is not None and process.returncode is None:
            process.kill()
            await process.wait()

    async def _run(self, args: list[str]) -> AsyncGenerator[dict[str, Any], None]:
        command = [sys.executable, "-m", "ingest.upload_ingest", *args]
        process = await asyncio.create_subprocess_exec(
            *command,
            env=self.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        self._process = process
        # Below the server from its first instruction: answers keep their CPU while it embeds.
        # (never above the server's own priority: raising one needs privileges).
        current = os.getpriority(os.PRIO_PROCESS, 0)
        os.setpriority(os.PRIO_PROCESS, process.pid, max(self.nice, current))
        assert process.stdout is not None and process.stderr is not None
        stderr_task = asyncio.create_task(_tail(process.stderr))
        try:
            async for line in process.stdout:
                try:
                    event = json.loads(line)
                except ValueError:
                    log.warning("upload ingest printed a non-JSON line: %r", line[:200])
                    continue
                if isinstance(event, dict):
                    yield event
            code = await process.wait()
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
            self._process = None
        stderr = await stderr_task
        if code not in (0, 1):  # 1 = some file failed, reported per file
            raise WriterFailed(f"the ingest process exited with code {code}: {stderr.strip()}")


async def _tail(stream: asyncio.StreamReader) -> str:
    """The last bytes a stream carried (the child's error output), read to its end."""
    tail = b""
    while chunk := await stream.read(65536):
        tail = (tail + chunk)[-STDERR_TAIL_BYTES:]
    return tail.decode(errors="replace")
