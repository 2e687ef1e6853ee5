"""The installed llama.cpp build is the portable one: no AMX (it crashed on Sapphire Rapids)."""

from __future__ import annotations

import subprocess
import sys

from rag_chain.llama_build import enabled_features, forbidden_in

# What the native build printed on the Intel Xeon (Sapphire Rapids) where the first answer crashed.
NATIVE_SPR = (
    "CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX_VNNI = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | "
    "BMI2 = 1 | AVX512 = 1 | AVX512_VBMI = 1 | AVX512_VNNI = 1 | AVX512_BF16 = 1 | AMX_INT8 = 1 | "
    "LLAMAFILE = 1 | OPENMP = 1 | REPACK = 1 |"
)
PORTABLE = (
    "CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | LLAMAFILE = 1 | "
    "OPENMP = 1 | REPACK = 1 |"
)


def test_an_amx_build_is_recognised() -> None:
    assert forbidden_in(NATIVE_SPR) == ["AMX_INT8"]
    assert forbidden_in(PORTABLE) == []
    assert forbidden_in(PORTABLE.replace("AVX2 = 1", "AVX2 = 1 | AMX_INT8 = 0")) == []
    assert {"AVX2", "FMA", "F16C"} <= enabled_features(PORTABLE)
    assert "AVX512" not in enabled_features(PORTABLE)


def test_the_installed_build_enables_no_amx() -> None:
    """Loads libllama in a child process (the test process, like the server, stays clean)."""
    result = subprocess.run(
        [sys.executable, "-m", "rag_chain.llama_build", "--check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    print(result.stdout)
    assert result.returncode == 0, result.stderr
    info = next(line for line in result.stdout.splitlines() if line.startswith("llama.cpp"))
    assert "AVX2 = 1" in info  # a real system-info line was read
    assert "AMX" not in info
