"""The supervisor over real worker processes running the real worker program with a fake llama.

Crashes are real signals to real processes: a SIGSEGV mid-generation fails that generation only,
the worker comes back, the queue goes on; a worker that cannot load is retried a bounded number of
times and then reported with its cause and fix; nothing is left running or unreaped.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from rag_chain.generation_scope import generation_scope
from rag_chain.llama_supervisor import (
    MODEL_FIX,
    REBUILD_FIX,
    LlamaSupervisor,
    ModelCrashed,
    ModelStalled,
    ModelUnavailable,
    WorkerConfig,
    WorkerState,
)

from tests.support.processes import is_alive

FAKE = Path(__file__).resolve().parents[1] / "support" / "fake_llama_worker.py"


def _wait(predicate, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())


@pytest.fixture
def make(tmp_path: Path) -> Iterator:  # type: ignore[type-arg]
    made: list[LlamaSupervisor] = []

    def build(*flags: str, **config: float) -> LlamaSupervisor:
        cfg = WorkerConfig(
            model_path=str(tmp_path / "model.gguf"),
            backoff_initial=config.pop("backoff_initial", 0.05),
            backoff_max=config.pop("backoff_max", 0.4),
            ready_timeout=config.pop("ready_timeout", 20.0),
            **config,  # type: ignore[arg-type]
        )
        sup = LlamaSupervisor(
            cfg,
            command=lambda: [sys.executable, str(FAKE), *flags, "--model", cfg.model_path],
        )
        made.append(sup)
        return sup

    yield build
    for sup in made:
        sup.close()


def _request(question: str = "hello") -> dict[str, object]:
    return {"messages": [{"role": "user", "content": question}], "max_tokens": 16}


def test_stream_yields_the_workers_tokens_in_order(make) -> None:  # type: ignore[no-untyped-def]
    sup = make("--tokens", "4")
    sup.wait_ready()
    assert list(sup.stream(_request())) == ["t0 ", "t1 ", "t2 ", "t3 "]
    assert sup.tokens_generated == 4
    status = sup.status()
    assert (status.state, status.restarts, status.crashes) == (WorkerState.READY, 0, 0)
    assert status.pid is not None and is_alive(status.pid)


def test_concurrent_generations_run_one_at_a_time_in_order(make) -> None:  # type: ignore[no-untyped-def]
    sup = make("--tokens", "3", "--delay", "0.02")
    sup.wait_ready()
    seen: list[tuple[int, str]] = []

    async def ask(n: int) -> None:
        async for piece in sup.astream(_request(f"q{n}")):
            seen.append((n, piece))

    async def main() -> None:
        await asyncio.gather(*(ask(n) for n in range(3)))

    asyncio.run(main())
    # never interleaved: each generation's three tokens are contiguous, in submission order
    assert [n for n, _ in seen] == [0, 0, 0, 1, 1, 1, 2, 2, 2]


def _failing_then_queued(sup: LlamaSupervisor) -> dict[str, object]:
    """One generation that the worker's death fails, and one submitted while it runs."""
    events: dict[str, object] = {}

    async def failing() -> None:
        pieces: list[str] = []
        try:
            async for piece in sup.astream(_request("first")):
                pieces.append(piece)
        except ModelCrashed as exc:  # ModelStalled is one too
            events["error"] = exc
        events["first"] = pieces

    async def queued() -> None:
        await asyncio.sleep(0.02)  # submitted while the first one runs
        events["second"] = [piece async for piece in sup.astream(_request("second"))]

    async def main() -> None:
        await asyncio.gather(failing(), queued())

    asyncio.run(main())
    return events


def test_a_crash_fails_only_the_generation_in_flight(make, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    flag = tmp_path / "crash-once"
    flag.touch()
    sup = make("--tokens", "6", "--delay", "0.05", "--crash-flag", str(flag), "--crash-at", "2")
    sup.wait_ready()
    first_pid = sup.status().pid
    events = _failing_then_queued(sup)
    assert events["first"] == ["t0 ", "t1 "]
    assert type(events["error"]) is ModelCrashed
    assert "SIGSEGV" in str(events["error"])
    assert events["second"] == [f"t{i} " for i in range(6)]  # went on after the restart
    status = sup.status()
    assert (status.state, status.crashes, status.restarts) == (WorkerState.READY, 1, 1)
    assert status.pid != first_pid
    assert first_pid is not None and not is_alive(first_pid)  # reaped, not a zombie
    assert "crashed (SIGSEGV)" in (status.last_error or "")


def test_a_hung_worker_is_killed_and_the_queue_goes_on(make, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    flag = tmp_path / "hang-once"
    flag.touch()
    sup = make("--tokens", "6", "--hang-flag", str(flag), "--crash-at", "2", stall_timeout=1.0)
    sup.wait_ready()
    first_pid = sup.status().pid
    events = _failing_then_queued(sup)
    assert events["first"] == ["t0 ", "t1 "]
    error = events["error"]
    assert isinstance(error, ModelStalled) and (error.code, error.status) == ("model_stalled", 504)
    assert "made no progress for 1 s" in str(error)
    assert events["second"] == [f"t{i} " for i in range(6)]  # answered by the restarted worker
    status = sup.status()
    assert (status.state, status.crashes, status.restarts) == (WorkerState.READY, 1, 1)
    assert first_pid is not None and not is_alive(first_pid)  # killed and reaped
    assert "killed after 1 s without progress" in (status.last_error or "")


def test_a_slow_generation_that_keeps_making_progress_is_not_a_stall(make) -> None:  # type: ignore[no-untyped-def]
    # 20 tokens 0.2 s apart: 4 s in all, twice the stall timeout, never 2 s without a token
    sup = make("--tokens", "20", "--delay", "0.2", stall_timeout=2.0)
    sup.wait_ready()
    assert list(sup.stream(_request())) == [f"t{i} " for i in range(20)]
    status = sup.status()
    assert (status.crashes, status.restarts) == (0, 0)


def test_an_idle_worker_is_never_a_stall(make) -> None:  # type: ignore[no-untyped-def]
    sup = make(stall_timeout=0.2)
    sup.wait_ready()
    pid = sup.status().pid
    time.sleep(1.0)  # five timeouts with nothing to do
    status = sup.status()
    assert (status.pid, status.crashes) == (pid, 0)


def test_a_worker_killed_while_idle_is_restarted(make) -> None:  # type: ignore[no-untyped-def]
    sup = make()
    sup.wait_ready()
    pid = sup.status().pid
    assert pid is not None
    os.kill(pid, 9)
    assert _wait(lambda: sup.status().restarts == 1 and sup.status().state == WorkerState.READY)
    assert sup.status().crashes == 1
    assert list(sup.stream(_request())) == [f"t{i} " for i in range(5)]


def test_a_model_that_cannot_load_is_retried_a_bounded_number_of_times(  # type: ignore[no-untyped-def]
    make, tmp_path: Path
) -> None:
    starts = tmp_path / "starts"
    sup = make("--load", "fatal", "--count-file", str(starts), max_start_failures=3)
    with pytest.raises(ModelUnavailable) as caught:
        sup.wait_ready()
    assert caught.value.fix == MODEL_FIX
    assert "could not be loaded" in str(caught.value) and "Failed to load model" in str(
        caught.value
    )
    time.sleep(0.5)  # well past every backoff: no further start may happen
    status = sup.status()
    assert status.state == WorkerState.FAILED
    assert len(starts.read_text().split()) == 3
    assert (status.restarts, status.crashes, status.pid) == (2, 0, None)
    with pytest.raises(ModelUnavailable):
        sup.submit(_request(), lambda kind, value: None)
    with pytest.raises(ModelUnavailable):
        sup.count_tokens(["a b"])
    for pid in map(int, starts.read_text().split()):
        assert not is_alive(pid)


def test_a_native_crash_while_loading_names_the_rebuild(make) -> None:  # type: ignore[no-untyped-def]
    sup = make("--load", "segv", max_start_failures=2)
    with pytest.raises(ModelUnavailable) as caught:
        sup.wait_ready()
    assert caught.value.fix == REBUILD_FIX
    assert "SIGSEGV while loading" in str(caught.value)
    assert sup.status().state == WorkerState.FAILED


def test_requests_queued_while_loading_fail_at_once_when_loading_gives_up(make) -> None:  # type: ignore[no-untyped-def]
    sup = make("--load", "fatal", max_start_failures=2)
    sup.start()
    with pytest.raises(ModelUnavailable):
        list(sup.stream(_request()))


def test_cancelling_stops_the_worker_within_a_token(make) -> None:  # type: ignore[no-untyped-def]
    sup = make("--tokens", "200", "--delay", "0.01")
    sup.wait_ready()

    async def read_three() -> None:
        pieces = sup.astream(_request())
        async for piece in pieces:
            if piece == "t2 ":
                break
        await pieces.aclose()

    asyncio.run(read_three())
    time.sleep(0.3)  # 30 more tokens' worth of time
    assert sup.tokens_generated <= 4
    assert list(sup.stream(_request()))[:2] == ["t0 ", "t1 "]  # the worker is free for the next


def test_token_counts_are_answered_while_a_generation_runs(make) -> None:  # type: ignore[no-untyped-def]
    sup = make("--tokens", "50", "--delay", "0.02")
    sup.wait_ready()
    job = sup.submit(_request(), lambda kind, value: None)
    started = time.monotonic()
    assert sup.count_tokens(["one two three", "", "x"]) == [3, 0, 1]
    assert time.monotonic() - started < 0.5  # not queued behind the 1 s generation
    sup.cancel(job)


def test_a_python_error_in_the_worker_fails_that_request_and_keeps_the_worker(make) -> None:  # type: ignore[no-untyped-def]
    sup = make()
    sup.wait_ready()
    pid = sup.status().pid
    with pytest.raises(RuntimeError, match="exceed context window"):
        list(sup.stream(_request("raise")))
    assert sup.status().pid == pid and sup.status().crashes == 0
    assert len(list(sup.stream(_request()))) == 5


def test_close_stops_the_worker_and_fails_what_is_queued(make) -> None:  # type: ignore[no-untyped-def]
    sup = make("--tokens", "100", "--delay", "0.05")
    sup.wait_ready()
    pid = sup.status().pid
    assert pid is not None
    box: list[tuple[str, object]] = []
    sup.submit(_request(), lambda kind, value: box.append((kind, value)))
    sup.submit(_request(), lambda kind, value: box.append((kind, value)))
    sup.close()
    assert not is_alive(pid)
    assert [kind for kind, _ in box if kind == "error"] == ["error", "error"]
    assert sup.status().state == WorkerState.STOPPED


def test_a_worker_whose_server_disappears_exits(tmp_path: Path) -> None:
    """stdin EOF (what the server's death looks like) ends the worker at once, mid-generation."""
    import subprocess

    proc = subprocess.Popen(
        [sys.executable, str(FAKE), "--tokens", "1000", "--delay", "0.01", "--model", "x"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stdin is not None
    assert b'"ready"' in proc.stdout.readline()
    proc.stdin.write(
        b'{"op": "generate", "id": 1, "messages": [{"role": "user", "content": "q"}]}\n'
    )
    proc.stdin.flush()
    assert b'"token"' in proc.stdout.readline()
    proc.stdin.close()
    assert proc.wait(timeout=5) == 0


def test_a_consumer_task_cancelled_away_from_the_generator_stops_the_worker(make) -> None:  # type: ignore[no-untyped-def]
    """A disconnect cancels the task while it waits on the socket, not inside the generator: the
    generator stays suspended (and, held by a cycle, unclosed); the job must stop anyway."""
    sup = make("--tokens", "300", "--delay", "0.01")
    sup.wait_ready()
    held: list[object] = []

    async def consume() -> None:
        pieces = sup.astream(_request())
        held.append(pieces)  # keeps the generator alive: no finalizer will close it
        await pieces.__anext__()
        await asyncio.sleep(30)  # e.g. a socket write that never completes

    async def main() -> None:
        task = asyncio.create_task(consume())
        await asyncio.sleep(0.1)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.5)  # 50 more tokens' worth of time

    asyncio.run(main())
    assert sup.tokens_generated < 40, sup.tokens_generated


def _first_piece_in_a_short_task(sup: LlamaSupervisor, held: list[object]) -> asyncio.Task[str]:
    """How LangChain drives a stream: each ``anext`` in a task of its own that then finishes."""
    pieces = sup.astream(_request())
    held.append(pieces)  # abandoned in a cycle: nothing closes the generator
    return asyncio.ensure_future(pieces.__anext__())


def test_without_a_scope_a_stream_started_in_a_short_task_outlives_its_consumer(make) -> None:  # type: ignore[no-untyped-def]
    """The case the generation scope exists for, shown without it: the consumer-task callback sees
    a task that finished normally, so the job runs on after the consumer is gone."""
    sup = make("--tokens", "300", "--delay", "0.01")
    sup.wait_ready()
    held: list[object] = []

    async def main() -> None:
        assert await _first_piece_in_a_short_task(sup, held) == "t0 "
        await asyncio.sleep(0.5)

    asyncio.run(main())
    assert sup.tokens_generated > 40, sup.tokens_generated


def test_leaving_the_generation_scope_stops_a_stream_its_consumer_abandoned(make) -> None:  # type: ignore[no-untyped-def]
    sup = make("--tokens", "300", "--delay", "0.01")
    sup.wait_ready()
    held: list[object] = []

    async def request() -> None:
        with generation_scope() as scope:
            assert await _first_piece_in_a_short_task(sup, held) == "t0 "
            assert scope.running == 1
            # the client hangs up here: the request ends, the generator is never closed

    async def main() -> None:
        await request()
        await asyncio.sleep(0.5)  # 50 more tokens' worth of time

    asyncio.run(main())
    assert sup.tokens_generated < 10, sup.tokens_generated
    assert list(sup.stream(_request()))[:2] == ["t0 ", "t1 "]  # the worker is free for the next


def test_a_finished_generation_leaves_nothing_in_its_scope(make) -> None:  # type: ignore[no-untyped-def]
    sup = make("--tokens", "5")
    sup.wait_ready()

    async def main() -> None:
        with generation_scope() as scope:
            assert [piece async for piece in sup.astream(_request())][-1] == "t4 "
            assert scope.running == 0

    asyncio.run(main())


def test_a_sync_stream_in_a_worker_thread_registers_with_the_callers_scope(make) -> None:  # type: ignore[no-untyped-def]
    """Sync chat models run in an executor thread with the caller's context copied in."""
    sup = make("--tokens", "300", "--delay", "0.01")
    sup.wait_ready()
    held: list[object] = []

    async def main() -> None:
        with generation_scope() as scope:
            pieces = sup.stream(_request())
            held.append(pieces)
            loop = asyncio.get_running_loop()
            context = contextvars.copy_context()
            first = await loop.run_in_executor(None, context.run, next, pieces)
            assert first == "t0 " and scope.running == 1
        await asyncio.sleep(0.5)

    asyncio.run(main())
    assert sup.tokens_generated < 10, sup.tokens_generated
