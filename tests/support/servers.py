"""Start, poll and stop real server processes: the one helper for tests and benchmarks alike.

There were five copies of start / poll /health / stop and three ``free_port``s across tests and
bench, and only one of them stopped its server when interrupted while waiting, so a Ctrl-C during a
slow start left an orphan holding a port and a model worker. Every server the tests and ``bench``
start goes through :func:`launch`: ``rag-serve``, uvicorn, ``chroma run`` (tests.support.chroma)
and ``langgraph dev``. Tests and ``bench`` both import this module (``python -m bench`` runs from
the repo root, so ``tests.support`` is importable).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent.parent


def clean_env(**values: str) -> dict[str, str]:
    """This process's environment without any RAG_* setting, offline and unbuffered, plus ``values``.

    A server, ingest or benchmark started by a test must not silently pick up the developer's own
    RAG_DATA_DIR or model choice (or a .env's: settings given in the environment win over it).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONUNBUFFERED": "1"})
    env.update(values)
    return env


def free_port(host: str = "127.0.0.1") -> int:
    """A currently free TCP port on loopback (racy by nature: use it at once)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _vm_hwm(pid: int) -> int | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return None


def child_pids(pid: int) -> list[int]:
    """Direct children of ``pid`` (scanning /proc; empty where there is none)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(") ", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


@dataclass
class LiveServer:
    """A running server process, how to reach it, and how long it took to answer its health route."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    ready_seconds: float = 0.0
    #: How :meth:`stop` asks it to end (uvicorn drains on SIGINT; some servers want SIGTERM).
    stop_signal: int = signal.SIGINT
    #: Started in a process group of its own: :meth:`stop` signals the whole group.
    own_group: bool = False

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

    def peak_rss_bytes(self) -> int | None:
        """Peak resident memory (Linux VmHWM) of the server plus its children (the model worker).

        The sum of each process's own peak: an upper bound of what they held together.
        """
        pids = [self.process.pid, *child_pids(self.process.pid)]
        known = [peak for peak in map(_vm_hwm, pids) if peak is not None]
        return sum(known) if known else None

    def stop(self) -> None:
        """Graceful stop (:attr:`stop_signal`), then kill if it lingers."""
        if self.process.poll() is None:
            self._signal(self.stop_signal)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.process.wait(timeout=5)

    def _signal(self, number: int) -> None:
        if self.own_group:
            os.killpg(self.process.pid, number)
        else:
            self.process.send_signal(number)


def launch(
    command: list[str],
    env: dict[str, str],
    port: int,
    log_path: Path,
    *,
    timeout: float = 240.0,
    health: str = "/health",
    cwd: Path = ROOT,
    poll_every: float = 0.02,
    stop_signal: int = signal.SIGINT,
    own_group: bool = False,
    append_log: bool = False,
    port_from_log: Callable[[str], int | None] | None = None,
) -> LiveServer:
    """Spawn ``command`` and poll ``health`` every ``poll_every`` s until it answers 200 (or fail
    with its log).

    ``append_log`` keeps what an earlier run of the same server wrote (a restart in place);
    ``port_from_log`` reads the port the server really took from its log, for servers that move
    when ``port`` is taken (``langgraph dev``): polling starts once it is found. Whatever
    interrupts the wait (a timeout, the process dying, Ctrl-C) stops the process first.
    """
    started = time.perf_counter()
    with log_path.open("ab" if append_log else "wb") as log_file:
        process = subprocess.Popen(
            command,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            start_new_session=own_group,
        )
    server = LiveServer(process, port, log_path, stop_signal=stop_signal, own_group=own_group)
    found = port_from_log is None
    deadline = started + timeout
    try:
        with httpx.Client(timeout=2.0) as client:
            while time.perf_counter() < deadline:
                if process.poll() is not None:
                    raise RuntimeError(
                        f"{command[0]} exited with {process.returncode}:\n{server.log()}"
                    )
                if port_from_log is not None and not found:
                    real = port_from_log(server.log())
                    if real is not None:
                        server.port, found = real, True
                try:
                    if found and client.get(f"{server.url}{health}").status_code == 200:
                        server.ready_seconds = time.perf_counter() - started
                        return server
                except httpx.HTTPError:
                    pass
                time.sleep(poll_every)
    except BaseException:  # interrupted while waiting: never leave an orphan server behind
        server.stop()
        raise
    server.stop()
    raise RuntimeError(f"{command[0]} was not ready after {timeout} s:\n{server.log()}")


def start_server(
    env: dict[str, str], *, log_path: Path, timeout: float = 120.0, port: int | None = None
) -> LiveServer:
    """Start `rag-serve` with ``env`` (over this process's environment) until /health answers."""
    port = port or free_port()
    full_env = {**os.environ, **env}
    full_env.setdefault("PYTHONUNBUFFERED", "1")
    command = [str(BIN / "rag-serve"), "--host", "127.0.0.1", "--port", str(port)]
    return launch([*command, "--log-level", "info"], full_env, port, log_path, timeout=timeout)
