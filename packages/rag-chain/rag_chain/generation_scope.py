"""Tie every generation to the unit of work that asked for it, so ending that work stops them.

A generation is stopped when its consumer closes the token stream or when the task consuming it is
cancelled. Neither is guaranteed when a client hangs up: LangChain drives a streamed chain through
nested async generators, each ``anext`` in a short task of its own, and a disconnect can land while
none of them is waiting on the model. The innermost generator is then merely abandoned inside a
reference cycle and closed only by a later garbage collection; until then llama.cpp goes on
producing tokens nobody reads (seen in CI: 396 of 400 tokens generated after a ``/rag/stream``
disconnect).

So a server opens a :func:`generation_scope` around each request; every generation started inside
it (in any task or thread: context variables are copied into both) registers how to stop itself,
and leaving the scope stops whatever is still running. A generation that finished deregistered
itself already, so a normal request costs one dictionary entry per generation. Code that runs no
scope (a script, ``langgraph dev``) keeps the consumer-based cancellation alone.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

Stop = Callable[[], None]


class GenerationScope:
    """The generations started within one unit of work that have not finished yet."""

    def __init__(self) -> None:
        self._stops: dict[int, Stop] = {}
        self._ids = itertools.count()
        self._lock = threading.Lock()  # generations register from executor threads too
        self._closed = False

    def register(self, stop: Stop) -> Callable[[], None]:
        """Remember how to stop one generation; returns the call that forgets it again."""
        with self._lock:
            if self._closed:  # started after its request ended: stop it at once
                closed = True
            else:
                closed = False
                key = next(self._ids)
                self._stops[key] = stop
        if closed:
            stop()
            return _nothing

        def forget() -> None:
            with self._lock:
                self._stops.pop(key, None)

        return forget

    @property
    def running(self) -> int:
        """How many registered generations have not finished."""
        with self._lock:
            return len(self._stops)

    def close(self) -> None:
        """Stop every generation still running; later registrations are stopped at once."""
        with self._lock:
            self._closed = True
            stops = list(self._stops.values())
            self._stops.clear()
        for stop in stops:
            stop()


def _nothing() -> None:
    return None


_current: ContextVar[GenerationScope | None] = ContextVar("rag_generation_scope", default=None)


@contextmanager
def generation_scope() -> Iterator[GenerationScope]:
    """Run a unit of work (one HTTP request) whose generations stop when it ends, however it ends."""
    scope = GenerationScope()
    token = _current.set(scope)
    try:
        yield scope
    finally:
        _current.reset(token)
        scope.close()


def stop_with_scope(stop: Stop) -> Callable[[], None]:
    """Register ``stop`` with the current scope, if any; returns the call that deregisters it."""
    scope = _current.get()
    return scope.register(stop) if scope is not None else _nothing
