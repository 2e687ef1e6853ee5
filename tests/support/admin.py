"""The real ``rag-admin`` CLI in a subprocess: keys for live servers, migrations, its errors.

Integration and browser tests start real ``rag-serve`` processes with ``RAG_AUTH=apikey``; the keys
they use are made the way an operator makes them, by ``rag-admin`` over the same environment.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def run_admin(
    env: dict[str, str], *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``rag-admin <args>`` with ``env``, whatever its exit status (for tests of its failures)."""
    return subprocess.run(
        [str(BIN / "rag-admin"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def admin(env: dict[str, str], *args: str, timeout: float = 60) -> str:
    """``rag-admin <args>``, which must succeed; its stdout, stripped."""
    result = run_admin(env, *args, timeout=timeout)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def create_key(env: dict[str, str], user: str) -> str:
    """A new API key for ``user`` (``create-key`` prints only the key on stdout)."""
    return admin(env, "create-key", "--user", user)


def bearer(env: dict[str, str], user: str) -> dict[str, str]:
    """Request headers carrying a new key for ``user``."""
    return {"Authorization": f"Bearer {create_key(env, user)}"}
