"""One rule for user names: whoever rag-ingest --user accepts, rag-admin can give a key, and back."""

from __future__ import annotations

from pathlib import Path

import pytest
from rag_core.names import valid_user

from app.admin_cli import main as admin
from ingest.cli import main as ingest

GOOD = ["alice", "bob.smith@example.org", "team-7", "a"]
BAD = ["_x", "_shared", "_anonymous", "-x", ".hidden", "@home", "", "a b", "x" * 65]


@pytest.mark.parametrize("name", GOOD)
def test_a_valid_name_can_own_documents_and_hold_a_key(name: str) -> None:
    assert valid_user(name)


@pytest.mark.parametrize("name", BAD)
def test_both_clis_refuse_the_same_names(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = str(tmp_path / "data")
    assert ingest([str(tmp_path), "--data-dir", data, f"--user={name}"]) == 2
    assert admin(["--data-dir", data, "create-key", f"--user={name}"]) == 2
    errors = capsys.readouterr().err
    assert errors.count("--user must be 1-64 letters") == 2, errors
