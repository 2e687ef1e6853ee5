"""Start and stop the real ``rag-serve`` process on a free loopback port, for integration tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent


def free_port(host: str = "127.0.0.1") -> int:
    """A currently free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    """A running server process and how to reach it."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:8123."""
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        """Everything the server printed so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def alive(self) -> bool:
        """Whether the process is still running."""
        return self.process.poll() is None

    def stop(self) -> None:
        """Graceful stop (SIGINT), then kill if it lingers."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def start_server(
    env: dict[str, str], *, log_path: Path, timeout: float = 120.0, port: int | None = None
) -> LiveServer:
    """Start `rag-serve` with ``env`` and wait until /health answers (or fail with its log)."""
    port = port or free_port()
    full_env = {**os.environ, **env}
    full_env.setdefault("PYTHONUNBUFFERED", "1")
    log_file = log_path.open("wb")
    process = subprocess.Popen(
        [str(BIN / "rag-serve"), "--host", "127.0.0.1", "--port", str(port), "--log-level", "info"],
        env=full_env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    server = LiveServer(process, port, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"rag-serve exited with {process.returncode}:\n{server.log()}")
        try:
            if httpx.get(f"{server.url}/health", timeout=1.0).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"rag-serve did not become ready in {timeout} s:\n{server.log()}")
