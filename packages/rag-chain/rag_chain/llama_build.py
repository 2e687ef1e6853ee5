"""What the installed llama.cpp build enabled, and a check that it is the portable one.

Why: llama-cpp-python's default build compiles for the build machine's CPU; on an Intel Xeon with
AMX that build died with a general protection fault at the first generation. ``make install`` builds
for an explicit target (``scripts/llama-wheel.sh``) and then runs ``python -m rag_chain.llama_build
--check``, which fails the install if the build enabled AMX. Importing this module does not load
libllama; :func:`system_info` does, so the server calls it only inside the model worker process.
"""

from __future__ import annotations

import argparse
import platform
import re
import sys

#: Features that must never be enabled in a build we ship (AMX crashed on Sapphire Rapids).
FORBIDDEN_FEATURES = ("AMX_INT8", "AMX_BF16", "AMX_TILE", "AMX")


def system_info() -> str:
    """``llama_print_system_info()`` of the installed build, as text (loads libllama)."""
    import llama_cpp

    raw = llama_cpp.llama_print_system_info()
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


def enabled_features(info: str) -> set[str]:
    """Names of the features a system-info line reports as ``= 1`` (e.g. ``{"AVX2", "FMA"}``)."""
    return {name for name, value in re.findall(r"([A-Z0-9_]+) = (\d+)", info) if value != "0"}


def forbidden_in(info: str) -> list[str]:
    """The forbidden features a system-info line has enabled (empty for a portable build)."""
    enabled = enabled_features(info)
    return [feature for feature in FORBIDDEN_FEATURES if feature in enabled]


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), for logs and benchmark tables."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m rag_chain.llama_build",
        description="Print the CPU model and the installed llama.cpp build's features; with --check, "
        "exit 1 if the build enabled AMX (rebuild with `make llama-rebuild`).",
    )
    parser.add_argument("--check", action="store_true", help="fail if AMX is enabled")
    args = parser.parse_args(argv)
    info = system_info().strip()
    print(f"cpu: {cpu_model()}")
    print(f"llama.cpp system info: {info}")
    bad = forbidden_in(info)
    if args.check and bad:
        print(
            f"llama.cpp build enabled {', '.join(bad)}: this build can crash on CPUs that differ "
            "from the build machine. Rebuild it portably: make llama-rebuild",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
