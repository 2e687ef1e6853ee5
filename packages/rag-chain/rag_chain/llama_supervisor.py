"""Supervise the llama.cpp worker process: start it, feed it one generation at a time, restart it.

The server process never loads libllama: it talks to :mod:`rag_chain.llama_worker` over pipes.
A crash of the worker (segfault, abort, OOM kill, killed by hand) fails only the generation it was
running, with :class:`ModelCrashed`; the worker is restarted with exponential backoff and the
requests queued here go on once it is ready again. A worker that cannot even load (corrupt GGUF, a
CPU the build does not support) is retried a bounded number of times, then the supervisor stays
``failed`` with the cause and the fix, and every request gets :class:`ModelUnavailable` at once.
A worker that hangs (no event for ``stall_timeout`` while generating) is killed and goes the crash
way, with :class:`ModelStalled` for the request it held.

Everything here is thread-based, not tied to an event loop: one supervisor thread owns the process
(spawns it, reads its events, waits for it), and callers hand in a *sink* that receives events. So
the same worker serves async callers (:meth:`LlamaSupervisor.astream`: the sink posts to the
caller's loop, waiting costs no thread) and sync ones (:meth:`LlamaSupervisor.stream`, e.g. a sync
``langgraph dev`` node). The queue is FIFO and lives here, not in the worker, so a crash loses
only the generation in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import itertools
import json
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import AsyncGenerator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag_chain.generation_scope import stop_with_scope

log = logging.getLogger("rag.model_worker")

#: The worker's exit status after a ``fatal`` event (see rag_chain.llama_worker).
EXIT_LOAD_FAILED = 3
REBUILD_FIX = "rebuild llama.cpp for this CPU: make llama-rebuild"
MODEL_FIX = "point RAG_LLM_MODEL at a valid GGUF file (unset it for the bundled model)"

Sink = Callable[[str, Any], None]


class WorkerState(enum.StrEnum):
    """Where the worker is in its life."""

    STOPPED = "stopped"  # not started yet, or closed
    STARTING = "starting"  # process spawned, model loading
    READY = "ready"
    RESTARTING = "restarting"  # died; waiting out the backoff before the next start
    FAILED = "failed"  # could not load after bounded retries; needs an operator


class ModelWorkerError(RuntimeError):
    """A failure of the embedded model's worker process (not of the request)."""

    code = "model_unavailable"
    #: The HTTP status a client gets for it.
    status = 503

    def __init__(self, message: str, fix: str | None = None) -> None:
        super().__init__(message)
        self.fix = fix

    def with_fix(self) -> str:
        """The message and, when there is one, what to do about it (for clients and logs)."""
        return f"{self}; fix: {self.fix}" if self.fix else str(self)


class ModelCrashed(ModelWorkerError):
    """The worker died while answering this request; it is being restarted."""

    code = "model_crashed"


class ModelStalled(ModelCrashed):
    """The worker made no progress on this request for the stall timeout (hung in native code,
    stopped, starved); it was killed and is being restarted, as after a crash."""

    code = "model_stalled"
    status = 504


class ModelUnavailable(ModelWorkerError):
    """The worker cannot answer at all right now (failed to load, or shut down)."""

    code = "model_unavailable"


@dataclass(frozen=True)
class WorkerConfig:
    """How to start the worker and how patiently to restart it."""

    model_path: str
    n_ctx: int = 4096
    threads: int | None = None
    #: Consecutive failed starts (died before ``ready``) before giving up for good.
    max_start_failures: int = 3
    backoff_initial: float = 0.5
    backoff_max: float = 10.0
    #: A worker that stayed up this long before crashing starts its backoff from scratch.
    stable_after: float = 30.0
    #: Seconds :meth:`LlamaSupervisor.wait_ready` waits for the first load.
    ready_timeout: float = 120.0
    #: Seconds the running generation may go without a single event from the worker (prompt
    #: evaluation included) before the worker is deemed hung and killed; None: never. Every caller
    #: is covered at once, LangServe's routes and langgraph included, and a hung worker no longer
    #: holds up every question queued behind it.
    stall_timeout: float | None = None

    def command(self) -> list[str]:
        """The worker's command line: the same interpreter, the worker *file*.

        Run by path (``-P``: its folder is not put on ``sys.path``), not with ``-m``, so the worker
        does not import the ``rag_chain`` package (LangChain, ~1 s and ~100 MB it never uses).
        """
        worker = str(Path(__file__).with_name("llama_worker.py"))
        cmd = [sys.executable, "-P", worker, "--model", self.model_path]
        cmd += ["--n-ctx", str(self.n_ctx)]
        if self.threads:
            cmd += ["--threads", str(self.threads)]
        return cmd


@dataclass
class WorkerStatus:
    """A snapshot for /health, /ready and /metrics."""

    state: WorkerState
    pid: int | None
    restarts: int
    crashes: int
    start_failures: int
    last_error: str | None
    fix: str | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (``state`` as its string)."""
        return {
            "state": str(self.state),
            "pid": self.pid,
            "restarts": self.restarts,
            "crashes": self.crashes,
            "last_error": self.last_error,
            **({"fix": self.fix} if self.fix else {}),
        }


@dataclass
class _Job:
    id: int
    request: dict[str, Any]
    sink: Sink
    silenced: bool = False  # the caller cancelled: drop its remaining events


@dataclass
class _Process:
    popen: subprocess.Popen[bytes]
    ready: bool = False
    ready_at: float = 0.0
    fatal: str | None = None
    #: The stall timeout it exceeded, when the watchdog killed it (None: it was not hung).
    stalled_for: float | None = None
    writer_lock: threading.Lock = field(default_factory=threading.Lock)


def describe_exit(returncode: int) -> str:
    """``SIGSEGV``, ``exit status 3``… for a worker's return code."""
    if returncode < 0:
        try:
            return signal.Signals(-returncode).name
        except ValueError:
            return f"signal {-returncode}"
    return f"exit status {returncode}"


def _load_failure(returncode: int, fatal: str | None, model_path: str) -> tuple[str, str]:
    """(cause, fix) for a worker that died before it was ready."""
    if fatal:
        return f"the model {os.path.basename(model_path)!r} could not be loaded: {fatal}", MODEL_FIX
    how = describe_exit(returncode)
    if returncode in (-signal.SIGILL, -signal.SIGSEGV, -signal.SIGBUS, -signal.SIGABRT):
        return (
            f"the model worker died with {how} while loading (a llama.cpp build this CPU cannot "
            "run, or a damaged GGUF)",
            REBUILD_FIX,
        )
    return f"the model worker exited with {how} while loading", MODEL_FIX


class LlamaSupervisor:
    """One supervised worker process; generations are queued FIFO and run one at a time."""

    def __init__(
        self, config: WorkerConfig, *, command: Callable[[], Sequence[str]] | None = None
    ) -> None:
        self.config = config
        self._command = command or config.command
        self._cond = threading.Condition()
        self._state = WorkerState.STOPPED
        self._proc: _Process | None = None
        self._pending: deque[_Job] = deque()
        self._current: _Job | None = None
        #: token-count requests in flight (sent again after a restart)
        self._counts: dict[int, _Job] = {}
        self._ids = itertools.count(1)
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()
        self._restarts = 0
        self._crashes = 0
        self._start_failures = 0
        self._crash_streak = 0
        self._last_error: str | None = None
        self._fix: str | None = None
        #: When the running generation last showed a sign of life (dispatch, token, end).
        self._progress_at = 0.0
        self.tokens_generated = 0

    # --- life cycle ----------------------------------------------------------------------------
    def start(self) -> None:
        """Start the supervisor thread (and so the worker) once; later calls do nothing."""
        with self._cond:
            if self._thread is not None:
                return
            self._state = WorkerState.STARTING
            self._thread = threading.Thread(target=self._run, name="llama-supervisor", daemon=True)
            self._thread.start()
            if self.config.stall_timeout:
                threading.Thread(target=self._watch, name="llama-watchdog", daemon=True).start()

    def wait_ready(self, timeout: float | None = None) -> None:
        """Block until the worker is ready; :class:`ModelUnavailable` if it failed or timed out."""
        self.start()
        deadline = time.monotonic() + (self.config.ready_timeout if timeout is None else timeout)
        with self._cond:
            while self._state is not WorkerState.READY:
                if self._state in (WorkerState.FAILED, WorkerState.STOPPED):
                    raise self._unavailable()
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ModelUnavailable(
                        f"the model worker is not ready after {timeout or self.config.ready_timeout:g} s"
                        f" (state: {self._state})"
                    )
                self._cond.wait(left)

    def close(self, timeout: float = 5.0) -> None:
        """Stop the worker (stdin closed, then SIGTERM, then SIGKILL) and fail what is queued."""
        self._closing.set()
        with self._cond:
            proc = self._proc
            self._fail_all(ModelUnavailable("the server is shutting down"))
            self._state = WorkerState.STOPPED
            self._cond.notify_all()
        if proc is not None:
            _stop_process(proc.popen, timeout)
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def status(self) -> WorkerStatus:
        """What /health and /ready show."""
        with self._cond:
            proc = self._proc
            return WorkerStatus(
                state=self._state,
                pid=proc.popen.pid if proc is not None else None,
                restarts=self._restarts,
                crashes=self._crashes,
                start_failures=self._start_failures,
                last_error=self._last_error,
                fix=self._fix,
            )

    # --- requests ------------------------------------------------------------------------------
    def submit(self, request: dict[str, Any], sink: Sink) -> int:
        """Queue a generation; ``sink`` gets ``("token", text)``…, then ``("end", info)`` or
        ``("error", exception)``. Returns the job id for :meth:`cancel`."""
        self.start()
        with self._cond:
            if self._state in (WorkerState.FAILED, WorkerState.STOPPED) or self._closing.is_set():
                raise self._unavailable()
            job = _Job(next(self._ids), {**request, "op": "generate"}, sink)
            self._pending.append(job)
            self._dispatch()
            return job.id

    def cancel(self, job_id: int) -> None:
        """Stop a generation: dropped if still queued, told to the worker if it is running."""
        with self._cond:
            for job in self._pending:
                if job.id == job_id:
                    self._pending.remove(job)
                    return
            current = self._current
            if current is not None and current.id == job_id and not current.silenced:
                current.silenced = True
                self._send({"op": "cancel", "id": job_id})

    def count_tokens(self, texts: Sequence[str], timeout: float = 30.0) -> list[int]:
        """Token counts with the model's own tokenizer (answered by the worker, even mid-generation)."""
        box: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.start()
        with self._cond:
            if self._state in (WorkerState.FAILED, WorkerState.STOPPED):
                raise self._unavailable()
            job = _Job(next(self._ids), {"op": "count", "texts": list(texts)}, _queue_sink(box))
            self._counts[job.id] = job
            if self._state is WorkerState.READY:
                self._send(job.request | {"id": job.id})
        try:
            kind, value = box.get(timeout=timeout)
        except queue.Empty:
            with self._cond:
                self._counts.pop(job.id, None)
            raise ModelUnavailable(
                f"the model worker did not count tokens within {timeout:g} s"
            ) from None
        if kind == "error":
            raise value
        return list(value)

    def stream(self, request: dict[str, Any]) -> Iterator[str]:
        """Sync generation: yields text pieces; closing the iterator cancels the generation."""
        box: queue.Queue[tuple[str, Any]] = queue.Queue()
        job_id = self.submit(request, _queue_sink(box))
        forget = stop_with_scope(lambda: self.cancel(job_id))
        try:
            while (piece := _piece(*box.get())) is not None:
                yield piece
        finally:
            forget()
            self.cancel(job_id)

    async def astream(self, request: dict[str, Any]) -> AsyncGenerator[str, None]:
        """Async generation: waiting in the queue costs no thread; cancelling stops the worker."""
        loop = asyncio.get_running_loop()
        box: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        job_id: int | None = None

        def sink(kind: str, value: Any) -> None:
            try:
                loop.call_soon_threadsafe(box.put_nowait, (kind, value))
            except RuntimeError:  # the caller's loop is gone: nobody is listening any more
                if job_id is not None:
                    self.cancel(job_id)

        job_id = self.submit(request, sink)
        # The request that asked for it stops it when it ends (rag_chain.generation_scope): the
        # one stop that does not depend on how the consumer's generators are driven or dropped.
        forget = stop_with_scope(lambda: self.cancel(job_id))
        # Without a scope (a script, langgraph dev) the consumer's own cancellation is what is
        # left: the ``finally`` below runs only when this generator is closed, and a generator
        # abandoned inside a reference cycle is closed only by a later garbage collection, so the
        # job is also cancelled when the task that started consuming it is cancelled. That task
        # is often a short one of LangChain's (one per ``anext``), which is why it is not enough
        # for a server (CI saw 396 of 400 tokens generated after a /rag/stream disconnect). Not
        # when it merely finishes: the generation goes on in the next short task.
        consumer = asyncio.current_task()
        if consumer is not None:
            consumer.add_done_callback(
                lambda task: self.cancel(job_id) if task.cancelled() else None
            )
        try:
            while (piece := _piece(*await box.get())) is not None:
                yield piece
        finally:
            forget()
            self.cancel(job_id)

    # --- internals (hold self._cond unless said otherwise) --------------------------------------
    def _unavailable(self) -> ModelUnavailable:
        if self._state is WorkerState.FAILED:
            return ModelUnavailable(self._last_error or "the model worker failed", self._fix)
        return ModelUnavailable("the model worker is stopped (the server is shutting down)")

    def _send(self, message: dict[str, Any]) -> None:
        proc = self._proc
        if proc is None or proc.popen.stdin is None:
            return
        line = (json.dumps(message, ensure_ascii=False) + "\n").encode("utf-8")
        try:
            with proc.writer_lock:
                proc.popen.stdin.write(line)
                proc.popen.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            pass  # the worker is dying: its end of output is handled by the supervisor thread

    def _dispatch(self) -> None:
        if self._state is not WorkerState.READY or self._current is not None:
            return
        while self._pending:
            job = self._pending.popleft()
            self._current = job
            self._progress_at = time.monotonic()
            self._send(job.request | {"id": job.id})
            return

    def _deliver(self, job: _Job, kind: str, value: Any) -> None:
        if not job.silenced:
            try:
                job.sink(kind, value)
            except Exception:  # a broken sink must not kill the supervisor thread
                log.exception("model worker: delivering %s for job %s failed", kind, job.id)

    def _fail_all(self, error: ModelWorkerError) -> None:
        jobs = [*self._pending, *self._counts.values()]
        if self._current is not None:
            jobs.append(self._current)
        self._pending.clear()
        self._counts.clear()
        self._current = None
        for job in jobs:
            self._deliver(job, "error", error)

    # --- the supervisor thread -----------------------------------------------------------------
    def _run(self) -> None:
        while not self._closing.is_set():
            try:
                popen = subprocess.Popen(
                    list(self._command()),
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=None,  # the worker's own messages go to the server's log stream
                    close_fds=True,
                )
            except OSError as exc:
                self._give_up(f"the model worker could not be started: {exc}", MODEL_FIX)
                return
            proc = _Process(popen)
            with self._cond:
                self._proc = proc
                self._state = WorkerState.STARTING
                self._cond.notify_all()
            if self._closing.is_set():  # close() ran while we were spawning
                _stop_process(popen, 5.0)
            self._read_events(proc)
            returncode = popen.wait()  # reaped: never a zombie
            with self._cond:
                self._proc = None
                if self._closing.is_set():
                    self._state = WorkerState.STOPPED
                    self._cond.notify_all()
                    return
                delay = self._after_exit(proc, returncode)
            if delay is None:
                return
            if self._closing.wait(delay):
                return
            with self._cond:
                self._restarts += 1

    def _watch(self) -> None:
        """Kill a worker that stopped making progress on the running generation.

        A native hang does not end the process, so the supervisor thread, blocked reading the
        worker's output, would never notice; this thread does, and the kill turns the hang into
        the crash path: the job fails (:class:`ModelStalled`), the worker restarts, the queue goes on.
        """
        timeout = self.config.stall_timeout
        assert timeout
        while not self._closing.wait(min(1.0, timeout / 4)):
            with self._cond:
                proc = self._proc
                if proc is None or self._current is None or proc.stalled_for is not None:
                    continue
                if time.monotonic() - self._progress_at < timeout:
                    continue
                proc.stalled_for = timeout
                job_id = self._current.id
            log.error(
                "model worker pid %d made no progress for %g s on job %d; killing it",
                proc.popen.pid,
                timeout,
                job_id,
            )
            with contextlib.suppress(ProcessLookupError):
                proc.popen.kill()

    def _was_stable(self, proc: _Process) -> bool:
        return proc.ready and time.monotonic() - proc.ready_at >= self.config.stable_after

    def _after_exit(self, proc: _Process, returncode: int) -> float | None:
        """Account for a dead worker; the backoff before the next start, or None to give up."""
        how = describe_exit(returncode)
        if not proc.ready:
            self._start_failures += 1
            cause, fix = _load_failure(returncode, proc.fatal, self.config.model_path)
            self._last_error, self._fix = cause, fix
            if self._start_failures >= self.config.max_start_failures:
                log.error(
                    "model worker failed to load %d times, giving up: %s; fix: %s",
                    self._start_failures,
                    cause,
                    fix,
                )
                self._state = WorkerState.FAILED
                self._fail_all(ModelUnavailable(cause, fix))
                self._cond.notify_all()
                return None
            delay = self._backoff(self._start_failures - 1)
            log.warning(
                "model worker pid %d failed to load (%s), retry %d/%d in %.1f s",
                proc.popen.pid,
                cause,
                self._start_failures,
                self.config.max_start_failures - 1,
                delay,
            )
        else:
            self._crashes += 1
            if self._was_stable(proc):
                self._crash_streak = 0
            delay = self._backoff(self._crash_streak)
            self._crash_streak += 1
            victim = self._current
            if proc.stalled_for is not None:
                how = f"killed after {proc.stalled_for:g} s without progress"
            self._last_error = f"the model worker crashed ({how})"
            # SIGILL can only mean a build for another CPU; a segfault may be that or anything else.
            self._fix = REBUILD_FIX if returncode == -signal.SIGILL else None
            log.error(
                "model worker pid %d crashed (%s) %s; restarting in %.1f s (restart %d)",
                proc.popen.pid,
                how,
                f"while answering job {victim.id}" if victim else "while idle",
                delay,
                self._restarts + 1,
            )
            if victim is not None:
                self._current = None
                restarting = "it is being restarted and the next question will be answered"
                error: ModelCrashed = (
                    ModelCrashed(f"the model worker crashed ({how}) while answering; {restarting}")
                    if proc.stalled_for is None
                    else ModelStalled(
                        f"the model worker made no progress for {proc.stalled_for:g} s while "
                        f"answering and was stopped; {restarting}"
                    )
                )
                self._deliver(victim, "error", error)
        self._state = WorkerState.RESTARTING
        self._cond.notify_all()
        return delay

    def _backoff(self, streak: int) -> float:
        return float(min(self.config.backoff_initial * (2**streak), self.config.backoff_max))

    def _give_up(self, cause: str, fix: str) -> None:
        with self._cond:
            self._state = WorkerState.FAILED
            self._last_error, self._fix = cause, fix
            self._fail_all(ModelUnavailable(cause, fix))
            self._cond.notify_all()
        log.error("%s; fix: %s", cause, fix)

    def _read_events(self, proc: _Process) -> None:
        """Route the worker's events until its stdout closes (it exited or was killed)."""
        assert proc.popen.stdout is not None
        for raw in proc.popen.stdout:
            try:
                event = json.loads(raw)
                kind = event["ev"]
            except (ValueError, KeyError, TypeError):
                log.warning("model worker: unreadable event %r", raw[:200])
                continue
            if kind == "token":
                self.tokens_generated += 1
            with self._cond:
                self._on_event(proc, kind, event)
        # also close our end of stdin so the next process gets a fresh pipe
        with contextlib.suppress(OSError, ValueError):
            if proc.popen.stdin is not None:
                proc.popen.stdin.close()

    def _on_event(self, proc: _Process, kind: str, event: dict[str, Any]) -> None:
        if kind == "ready":
            proc.ready, proc.ready_at = True, time.monotonic()
            self._state = WorkerState.READY
            self._start_failures = 0
            log.info(
                "model worker pid %s ready (%s); llama.cpp: %s",
                event.get("pid"),
                os.path.basename(self.config.model_path),
                event.get("system_info", "?"),
            )
            for job in self._counts.values():  # asked while the worker was (re)starting
                self._send(job.request | {"id": job.id})
            self._dispatch()
            self._cond.notify_all()
            return
        if kind == "fatal":
            proc.fatal = str(event.get("reason", "unknown error"))
            return
        job_id = int(event.get("id") or 0)
        if kind == "counts" or (kind == "error" and job_id in self._counts):
            waiting = self._counts.pop(job_id, None)
            if waiting is not None:
                if kind == "counts":
                    self._deliver(waiting, "counts", event.get("counts", []))
                else:
                    self._deliver(waiting, "error", RuntimeError(str(event.get("message"))))
            return
        current = self._current
        if current is None or current.id != job_id:
            return  # a late event of a job already finished or failed
        self._progress_at = time.monotonic()
        if kind == "token":
            self._deliver(current, "token", event.get("text", ""))
        elif kind in ("end", "error"):
            self._current = None
            if kind == "end":
                self._deliver(current, "end", event)
            else:
                self._deliver(current, "error", RuntimeError(str(event.get("message"))))
            self._dispatch()


def _piece(kind: str, value: Any) -> str | None:
    """A generation event as a consumer sees it: text, None at the end, or the error raised."""
    if kind == "error":
        raise value
    return str(value) if kind == "token" else None


def _queue_sink(box: queue.Queue[tuple[str, Any]]) -> Sink:
    def sink(kind: str, value: Any) -> None:
        box.put((kind, value))

    return sink


def _stop_process(popen: subprocess.Popen[bytes], timeout: float) -> None:
    """stdin EOF (the worker exits at once), then SIGTERM, then SIGKILL; always reaped."""
    with contextlib.suppress(OSError, ValueError):
        if popen.stdin is not None:
            popen.stdin.close()
    for step in (popen.terminate, popen.kill):
        try:
            popen.wait(timeout=timeout / 2)
            return
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                step()
    with contextlib.suppress(subprocess.TimeoutExpired):
        popen.wait(timeout=timeout)
