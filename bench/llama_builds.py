"""Raw llama.cpp speed of two builds of llama-cpp-python, side by side in one run.

``python -m bench.llama_builds --python .venv/bin/python --python /other/venv/bin/python`` runs the
same grounded-size prompts (~1,000 tokens, distinct per repetition so the KV cache never helps)
through each interpreter's ``llama_cpp.Llama`` in turn, interleaved, and reports per build the
median prefill (time to first token) and generation tokens/s, and the ratio of the second build to
the first. It is how the opt-in ``make llama-avx512`` build was judged against the portable default
(README, Troubleshooting). Model loading is not timed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

_PROBE = r"""
import json, sys, time
import llama_cpp
seed, max_tokens, model = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
llm = llama_cpp.Llama(model_path=model, n_ctx=4096, verbose=False)
words = ("note sync server port backup plan team price export search tag folder user key "
         "install config restart update login share page edit history").split()
body = " ".join(words[(i * 7 + seed * 13) % len(words)] for i in range(700))
messages = [{"role": "system", "content": "Answer from the context only."},
            {"role": "user", "content": f"Context:\n{body}\n\nQuestion {seed}: what is described?"}]
start = time.perf_counter(); first = None; n = 0
for part in llm.create_chat_completion(messages=messages, stream=True, temperature=0.0,
                                       max_tokens=max_tokens, repeat_penalty=1.1):
    if part["choices"][0]["delta"].get("content"):
        n += 1
        first = first or time.perf_counter()
end = time.perf_counter()
info = llama_cpp.llama_print_system_info()
print(json.dumps({"ttft": first - start, "tps": (n - 1) / (end - first) if n > 1 else 0.0,
                  "tokens": n, "info": info.decode() if isinstance(info, bytes) else str(info)}))
"""


def _run(python: str, seed: int, max_tokens: int, model: str) -> dict[str, float | str]:
    out = subprocess.run(
        [python, "-c", _PROBE, str(seed), str(max_tokens), model],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: measure and print the table."""
    parser = argparse.ArgumentParser(prog="python -m bench.llama_builds", description=__doc__)
    parser.add_argument("--python", action="append", required=True, help="a venv's python (2x)")
    parser.add_argument("--reps", type=int, default=6, help="prompts per build (interleaved)")
    parser.add_argument("--max-tokens", type=int, default=128)
    args = parser.parse_args(argv)
    from rag_chain.llamacpp import bundled_gguf_path

    model = bundled_gguf_path()
    results: dict[str, list[dict[str, float | str]]] = {p: [] for p in args.python}
    for rep in range(args.reps):
        order = args.python if rep % 2 == 0 else list(reversed(args.python))
        for python in order:
            results[python].append(_run(python, rep, args.max_tokens, model))
            print(
                f"rep {rep} {python}: {results[python][-1]['ttft']:.3f} s, "
                f"{results[python][-1]['tps']:.1f} tok/s",
                file=sys.stderr,
            )
    base = None
    for python, runs in results.items():
        ttft = statistics.median(float(r["ttft"]) for r in runs)
        tps = statistics.median(float(r["tps"]) for r in runs)
        line = f"{python}: prefill {ttft:.3f} s, {tps:.1f} tok/s  [{runs[0]['info']}]"
        if base is None:
            base = (ttft, tps)
        else:
            line += f"  ratio to first: prefill {ttft / base[0]:.3f}, tok/s {tps / base[1]:.3f}"
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
