"""A real ``chroma run`` server for tests: started on a free loopback port, restartable in place.

Shared by the Chroma-server test and the replicas test (several ``rag-serve`` processes reading one
store), and by bench.deploy_memory. Starting, polling its heartbeat and stopping are
tests.support.servers' :func:`~tests.support.servers.launch`, as for every server we start.
"""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.support.servers import BIN, LiveServer, launch


@dataclass
class ChromaServer:
    """A `chroma run` process we started, and how to restart it on the same path and port."""

    path: Path
    port: int
    log: Path
    server: LiveServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        """The running (or last) ``chroma run`` process."""
        return self.server.process if self.server is not None else None

    def start(self, timeout: float = 60.0) -> None:
        """Start the server and wait until its heartbeat answers (fail with its log otherwise)."""
        command = [str(BIN / "chroma"), "run", "--path", str(self.path)]
        self.server = launch(
            [*command, "--host", "127.0.0.1", "--port", str(self.port)],
            {**os.environ, "ANONYMIZED_TELEMETRY": "False"},
            self.port,
            self.log,
            timeout=timeout,
            health="/api/v2/heartbeat",
            poll_every=0.2,
            stop_signal=signal.SIGTERM,
            append_log=True,  # a restart in place keeps the first run's log
        )

    def stop(self) -> None:
        """SIGTERM, then kill if it lingers."""
        if self.server is not None:
            self.server.stop()
