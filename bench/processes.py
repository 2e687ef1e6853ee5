"""Real server processes for the benchmarks: start, time until ready, peak memory, stop."""

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
ROOT = Path(__file__).resolve().parent.parent


def _vm_hwm(pid: int) -> int | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return None


def _children(pid: int) -> list[int]:
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


def free_port() -> int:
    """A currently free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(**values: str) -> dict[str, str]:
    """This process's environment without any RAG_* setting, plus ``values``.

    A benchmark must not silently pick up the developer's own RAG_DATA_DIR or model choice.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONUNBUFFERED": "1"})
    env.update(values)
    return env


@dataclass
class Service:
    """A server process, its URL and how long it took from spawn to answering its health route."""

    process: subprocess.Popen[bytes]
    url: str
    log_path: Path
    ready_seconds: float

    def peak_rss_bytes(self) -> int | None:
        """Peak resident memory (Linux VmHWM) of the server plus its children (the model worker).

        The sum of each process's own peak: an upper bound of what they held together.
        """
        pids = [self.process.pid, *_children(self.process.pid)]
        peaks = [_vm_hwm(pid) for pid in pids]
        known = [peak for peak in peaks if peak is not None]
        return sum(known) if known else None

    def log(self) -> str:
        """What the process printed (for error messages)."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        """SIGINT (graceful), then kill if it lingers."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def launch(
    command: list[str], env: dict[str, str], port: int, log_path: Path, timeout: float = 240.0
) -> Service:
    """Spawn ``command`` and poll ``/health`` every 20 ms until it answers 200 (or fail with its log)."""
    started = time.perf_counter()
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            command, env=env, stdout=log_file, stderr=subprocess.STDOUT, cwd=ROOT
        )
    url = f"http://127.0.0.1:{port}"
    service = Service(process, url, log_path, 0.0)
    deadline = started + timeout
    try:
        with httpx.Client(timeout=2.0) as client:
            while time.perf_counter() < deadline:
                if process.poll() is not None:
                    raise RuntimeError(
                        f"{command[0]} exited with {process.returncode}:\n{service.log()}"
                    )
                try:
                    if client.get(f"{url}/health").status_code == 200:
                        service.ready_seconds = time.perf_counter() - started
                        return service
                except httpx.HTTPError:
                    pass
                time.sleep(0.02)
    except BaseException:  # interrupted while waiting: never leave an orphan server behind
        service.stop()
        raise
    service.stop()
    raise RuntimeError(f"{command[0]} was not ready after {timeout} s:\n{service.log()}")


def start_rag_server(data_dir: Path, max_tokens: int, log_path: Path) -> Service:
    """The product's own ``rag-serve`` with embedded defaults over ``data_dir``.

    Rate limiting is off: the benchmark measures the pipeline, and its health polling alone would
    exceed a per-client budget meant for people. Answers are generated (``RAG_ANSWER_MODE=generate``):
    the answer-speed figures compare the model's path with raw llama.cpp, and the embedded
    default, extract, never calls the model.
    """
    port = free_port()
    env = clean_env(
        RAG_DATA_DIR=str(data_dir),
        RAG_LLM_MAX_TOKENS=str(max_tokens),
        RAG_RATE_LIMIT_ENABLED="false",
        RAG_ANSWER_MODE="generate",
    )
    command = [str(BIN / "rag-serve"), "--host", "127.0.0.1", "--port", str(port)]
    return launch([*command, "--log-level", "warning"], env, port, log_path)


def start_naive_app(data_dir: Path, max_tokens: int, log_path: Path) -> Service:
    """The seed-style app (``bench/naive_app.py``) under uvicorn, over the same index and model."""
    port = free_port()
    env = clean_env(RAG_DATA_DIR=str(data_dir), RAG_LLM_MAX_TOKENS=str(max_tokens))
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "bench.naive_app:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    return launch(command, env, port, log_path)
