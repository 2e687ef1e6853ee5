"""Benchmarks (``python -m bench``) and the retrieval/refusal evaluation (``python -m bench.eval``).

Every speed figure is a ratio against a baseline measured in the same run, interleaved with the
subject, so a busy machine slows both sides alike and the ratio still means something.
"""
