"""The embedded model's worker process: llama.cpp runs here, never in the server.

Why a process: one native fault in llama.cpp (a build for the wrong CPU, a bad GGUF, an out-of-memory
kill) used to take the whole server down with every stream, every user and the history writes in
flight. As Ollama runs llama.cpp in runner processes, the server keeps a supervisor
(:mod:`rag_chain.llama_supervisor`) that starts this program, streams tokens from it, and restarts
it when it dies, failing only the request it was answering.

The protocol is JSON lines: requests on stdin, events on stdout (fd 1 is pointed at stderr once the
protocol stream is taken, so nothing a native library prints can corrupt it).

requests: ``{"op": "generate", "id", "messages", "max_tokens", "temperature", "repeat_penalty",
"stop"}``, ``{"op": "cancel", "id"}``, ``{"op": "count", "id", "texts"}``.
events: ``{"ev": "ready", "pid", "system_info"}`` once loaded, or ``{"ev": "fatal", "reason"}``
(then exit 3); per generation ``{"ev": "token", "id", "text"}``… then ``{"ev": "end", "id",
"cancelled", "tokens"}`` or ``{"ev": "error", "id", "message"}``; ``{"ev": "counts", "id",
"counts"}``.

Generations run one at a time on the main thread (one ``Llama`` is not thread-safe); a reader
thread takes requests, so a ``cancel`` lands while a generation runs (checked after every token)
and token counts are answered at once (tokenizing touches only the vocabulary). End of stdin (the
server closed it, or died) ends the process immediately.

This module imports only the standard library at the top, so starting the worker costs little
more than importing ``llama_cpp``.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import queue
import signal
import sys
import threading
from typing import Any, BinaryIO

#: Exit status after a ``fatal`` event: the model cannot be loaded, restarting will not help.
EXIT_LOAD_FAILED = 3

_PR_SET_PDEATHSIG = 1


class _Channel:
    """The protocol stream to the server (a private dup of the original stdout)."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def send(self, event: dict[str, Any]) -> None:
        line = (json.dumps(event, ensure_ascii=False) + "\n").encode("utf-8")
        with self._lock:
            try:
                self._stream.write(line)
                self._stream.flush()
            except (BrokenPipeError, ValueError):  # the server is gone
                os._exit(0)


def _take_stdout() -> BinaryIO:
    """Keep the real stdout for the protocol and send fd 1 (native prints) to stderr."""
    protocol = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return protocol


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this worker if the server process dies (besides stdin EOF)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _system_info(llama_cpp: Any) -> str:
    raw = llama_cpp.llama_print_system_info()
    return raw.decode("utf-8", "replace").strip() if isinstance(raw, bytes) else str(raw).strip()


class Worker:
    """Loads the model, then serves generations from its queue until stdin closes."""

    def __init__(self, args: argparse.Namespace, channel: _Channel) -> None:
        self.args = args
        self.channel = channel
        self.jobs: queue.Queue[dict[str, Any]] = queue.Queue()
        self.cancelled: set[int] = set()
        self.cancel_lock = threading.Lock()
        self.llama: Any = None
        self.vocab: Any = None

    def load(self) -> None:
        import llama_cpp

        info = _system_info(llama_cpp)
        self.llama = llama_cpp.Llama(
            model_path=self.args.model,
            n_ctx=self.args.n_ctx,
            n_threads=self.args.threads,
            verbose=False,
        )
        # Token counts are answered on the reader thread while a generation runs: tokenizing reads
        # only the (immutable) vocabulary, never the context that llama_decode uses, which is how
        # llama.cpp's own server tokenizes in its HTTP threads beside the decoding loop.
        self.vocab = self.llama
        self.channel.send({"ev": "ready", "pid": os.getpid(), "system_info": info})

    # --- requests (reader thread) --------------------------------------------------------------
    def read_requests(self, stdin: BinaryIO) -> None:
        for raw in stdin:
            try:
                request = json.loads(raw)
                op = request["op"]
            except (ValueError, KeyError, TypeError):
                print(f"llama worker: ignoring a malformed request: {raw[:200]!r}", file=sys.stderr)
                continue
            if op == "generate":
                self.jobs.put(request)
            elif op == "cancel":
                with self.cancel_lock:
                    self.cancelled.add(int(request["id"]))
            elif op == "count":
                self._count(request)
        os._exit(0)  # stdin closed: the server stopped or died; stop at once, even mid-generation

    def _count(self, request: dict[str, Any]) -> None:
        try:
            counts = [
                len(self.vocab.tokenize(str(text).encode("utf-8"), add_bos=False, special=False))
                for text in request.get("texts", [])
            ]
        except Exception as exc:  # answered, so the caller is never left waiting
            self.channel.send({"ev": "error", "id": request["id"], "message": repr(exc)})
            return
        self.channel.send({"ev": "counts", "id": request["id"], "counts": counts})

    def _is_cancelled(self, job_id: int) -> bool:
        with self.cancel_lock:
            return job_id in self.cancelled

    # --- generations (main thread) -------------------------------------------------------------
    def serve(self) -> None:
        while True:
            job = self.jobs.get()
            self._generate(job)

    def _generate(self, job: dict[str, Any]) -> None:
        job_id = int(job["id"])
        produced = 0
        cancelled = self._is_cancelled(job_id)
        try:
            if not cancelled:
                stream = self.llama.create_chat_completion(
                    messages=job["messages"],
                    stream=True,
                    temperature=float(job.get("temperature", 0.0)),
                    max_tokens=int(job.get("max_tokens", 256)),
                    repeat_penalty=float(job.get("repeat_penalty", 1.1)),
                    stop=list(job.get("stop") or []),
                )
                for part in stream:
                    piece = part["choices"][0]["delta"].get("content")
                    if piece:
                        produced += 1
                        self.channel.send({"ev": "token", "id": job_id, "text": piece})
                    if self._is_cancelled(job_id):
                        cancelled = True
                        break
        except Exception as exc:  # a Python-level failure (e.g. prompt too long): this job only
            self.channel.send(
                {"ev": "error", "id": job_id, "message": f"{type(exc).__name__}: {exc}"}
            )
        else:
            self.channel.send(
                {"ev": "end", "id": job_id, "cancelled": cancelled, "tokens": produced}
            )
        finally:
            with self.cancel_lock:
                self.cancelled.discard(job_id)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="llama_worker.py",
        description="llama.cpp worker process for rag-serve (JSON lines on stdin/stdout). "
        "Started and supervised by the server; not meant to be run by hand.",
    )
    parser.add_argument("--model", required=True, help="GGUF file")
    parser.add_argument("--n-ctx", type=int, default=4096, help="context window")
    parser.add_argument("--threads", type=int, default=None, help="generation threads")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None, worker_class: type[Worker] = Worker) -> int:
    """Run the worker until stdin closes (``worker_class`` lets tests swap the model for a fake)."""
    args = _parse(argv)
    _die_with_parent()
    channel = _Channel(_take_stdout())
    worker = worker_class(args, channel)
    try:
        worker.load()
    except Exception as exc:
        channel.send({"ev": "fatal", "reason": f"{type(exc).__name__}: {exc}"[:500]})
        return EXIT_LOAD_FAILED
    threading.Thread(
        target=worker.read_requests, args=(sys.stdin.buffer,), name="requests", daemon=True
    ).start()
    worker.serve()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
