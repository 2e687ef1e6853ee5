"""The real worker program (rag_chain.llama_worker) over a fake llama: fast supervisor tests.

Everything but llama.cpp is the real thing: the protocol, the reader thread, cancellation, the
stdout/stderr split. Behaviour is chosen by flags:

--tokens N        tokens per generation ("t0 t1 ..."), --delay S between them
--crash-flag F    if file F exists when a generation reaches token --crash-at, delete F and
                  SIGSEGV this process (so the restarted worker answers)
--hang-flag F     the same, but hang there instead (as a native call that never returns)
--load fatal|segv|slow  fail loading with a Python error, die with SIGSEGV, or take 1 s
--count-file F    append one line per load to F (counts how many workers were started)
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

WORKER = Path(__file__).resolve().parents[2] / "packages/rag-chain/rag_chain/llama_worker.py"
_spec = importlib.util.spec_from_file_location("llama_worker", WORKER)
assert _spec is not None and _spec.loader is not None
llama_worker = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(llama_worker)


def _take(flag: str | None) -> bool:
    """Whether the one-shot ``flag`` file was there (it is removed: the restarted worker answers)."""
    if flag and os.path.exists(flag):
        os.remove(flag)
        return True
    return False


class FakeLlama:
    def __init__(self, opts: argparse.Namespace) -> None:
        self.opts = opts

    def tokenize(self, data: bytes, add_bos: bool = False, special: bool = False) -> list[bytes]:
        return data.split()

    def create_chat_completion(self, messages: list[dict[str, str]], **kw: Any) -> Any:
        question = messages[-1]["content"]
        if question == "raise":
            raise ValueError("Requested tokens exceed context window")
        for i in range(self.opts.tokens):
            if i == self.opts.crash_at and _take(self.opts.crash_flag):
                os.kill(os.getpid(), signal.SIGSEGV)
            if i == self.opts.crash_at and _take(self.opts.hang_flag):
                time.sleep(3600)
            time.sleep(self.opts.delay)
            yield {"choices": [{"delta": {"content": f"t{i} "}}]}


class FakeWorker(llama_worker.Worker):  # type: ignore[name-defined,misc]
    opts: argparse.Namespace

    def load(self) -> None:
        opts = self.opts
        if opts.count_file:
            with open(opts.count_file, "a") as handle:
                handle.write(f"{os.getpid()}\n")
        if opts.load == "fatal":
            raise ValueError(f"Failed to load model from file: {self.args.model}")
        if opts.load == "segv":
            os.kill(os.getpid(), signal.SIGSEGV)
        if opts.load == "slow":
            time.sleep(1.0)
        self.llama = self.vocab = FakeLlama(opts)
        self.channel.send({"ev": "ready", "pid": os.getpid(), "system_info": "FAKE = 1"})


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=5)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--crash-flag", default=None)
    parser.add_argument("--crash-at", type=int, default=2)
    parser.add_argument("--hang-flag", default=None)
    parser.add_argument("--load", default="ok")
    parser.add_argument("--count-file", default=None)
    opts, rest = parser.parse_known_args()
    FakeWorker.opts = opts
    return int(llama_worker.main(rest, worker_class=FakeWorker))


if __name__ == "__main__":
    sys.exit(main())
