"""The top-level body fields LangServe's own clients send, per endpoint: what the body guard accepts.

The body guard rejects unknown fields so a typo fails loudly, which is only right if every field a
real client sends is known. LangChain.js's ``RemoteRunnable`` (``@langchain/core`` 0.3) sends
``diff: false`` to ``/stream_events`` as well as to ``/stream_log``; when the guard did not know
that, ``streamEvents`` answered ``422 unknown field(s) ['diff']``. So the fields are written down
per client, as captured from the requests the clients really make (``tests/clients`` drives both
on every verb against a live server and compares what they sent with these sets), and the guard
accepts exactly their union.
"""

from __future__ import annotations

from collections.abc import Mapping

#: Event filters of /stream_log and /stream_events (LangServe's StreamLogParameters): Python's
#: client always sends them (null when unset), LangChain.js's only when the caller sets them.
STREAM_FILTERS = frozenset(
    {
        "include_names",
        "include_types",
        "include_tags",
        "exclude_names",
        "exclude_types",
        "exclude_tags",
    }
)
_CALL = frozenset({"input", "config", "kwargs"})
_BATCH = frozenset({"inputs", "config", "kwargs"})

#: ``langserve.RemoteRunnable`` (0.3.3): invoke/ainvoke, batch/abatch, stream/astream,
#: astream_log, astream_events.
PYTHON_CLIENT: Mapping[str, frozenset[str]] = {
    "invoke": _CALL,
    "batch": _BATCH,
    "stream": _CALL,
    "stream_log": _CALL | {"diff"} | STREAM_FILTERS,
    "stream_events": _CALL | STREAM_FILTERS,
}

#: ``RemoteRunnable`` from ``@langchain/core/runnables/remote`` (0.3.x) called without stream
#: options: invoke, batch, stream, streamLog, streamEvents (both send ``diff: false``).
JS_CLIENT: Mapping[str, frozenset[str]] = {
    "invoke": _CALL,
    "batch": _BATCH,
    "stream": _CALL,
    "stream_log": _CALL | {"diff"},
    "stream_events": _CALL | {"diff"},
}

#: LangServe's own default playground (its Start button posts to /stream_log).
PLAYGROUND: Mapping[str, frozenset[str]] = {"stream_log": frozenset({"input", "config"})}

CLIENTS: Mapping[str, Mapping[str, frozenset[str]]] = {
    "python": PYTHON_CLIENT,
    "js": JS_CLIENT,
    "playground": PLAYGROUND,
}


def accepted_fields() -> dict[str, frozenset[str]]:
    """Per endpoint, every field some LangServe client sends: what the body guard accepts."""
    accepted: dict[str, frozenset[str]] = {}
    for fields_by_endpoint in CLIENTS.values():
        for endpoint, fields in fields_by_endpoint.items():
            accepted[endpoint] = accepted.get(endpoint, frozenset()) | fields
    return accepted
