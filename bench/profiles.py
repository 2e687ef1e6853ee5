"""How big each benchmark run is: ``tiny`` (tests), ``quick`` (default), ``full`` (``--full``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    """Repetitions and sizes of one benchmark run."""

    name: str
    #: Measurements per streaming figure (each with a distinct question), interleaved with baseline.
    reps: int
    #: Answer length limit for the server and the raw baseline alike.
    max_tokens: int
    #: Concurrent streaming clients in the load figure.
    clients: int
    #: Synthetic files and paragraphs per file for the ingest figures.
    ingest_files: int
    ingest_paragraphs: int
    #: Repetitions of the ingest measurement (subject and baseline interleaved).
    ingest_reps: int
    #: Index sizes for the retrieval latency figure, and queries per size.
    retrieval_sizes: tuple[int, ...]
    retrieval_queries: int
    #: Server starts timed for the cold-start figure (the first is the benchmark's own server).
    cold_starts: int = 2
    #: Whether to start the seed-style naive app and compare with it.
    naive: bool = True


PROFILES = {
    "tiny": Profile(
        name="tiny",
        reps=1,
        max_tokens=16,
        clients=2,
        ingest_files=2,
        ingest_paragraphs=6,
        ingest_reps=1,
        retrieval_sizes=(300,),
        retrieval_queries=5,
        cold_starts=1,
    ),
    "quick": Profile(
        name="quick",
        reps=10,
        max_tokens=64,
        clients=16,
        ingest_files=40,
        ingest_paragraphs=12,
        ingest_reps=3,
        retrieval_sizes=(10_000,),
        retrieval_queries=60,
    ),
    "full": Profile(
        name="full",
        reps=24,
        max_tokens=160,
        clients=16,
        ingest_files=120,
        ingest_paragraphs=12,
        ingest_reps=5,
        retrieval_sizes=(10_000, 100_000),
        retrieval_queries=200,
        cold_starts=3,
    ),
}
