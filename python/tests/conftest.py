"""Shared helpers: the real registry files beside the repository, and the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"


def shared(relative: str) -> Path:
    """A file of ../shared/data: skipped where the folder is absent, unless
    PORTREG_REQUIRE_SHARED=1 (CI), where its absence fails the test."""
    path = SHARED / relative
    if not path.exists():
        if os.environ.get("PORTREG_REQUIRE_SHARED") == "1":
            pytest.fail(f"{path} is missing and PORTREG_REQUIRE_SHARED=1")
        pytest.skip(f"needs {path}, the real registry files")
    return path


def cli(args: List[str], tmp: Path) -> subprocess.CompletedProcess[str]:
    """``python -m portreg ARGS`` (the CLI's own code), in a sandbox of its own: no
    installed registry, no local names, never the user's home."""
    env = dict(os.environ)
    for name in ("HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "PORTREG_DATA_DIR",
                 "PORTREG_CONFIG_DIR", "PORTREG_SYSTEM_DATA_DIR", "PORTREG_SYSTEM_LOCAL_DIR"):
        env[name] = str(tmp / name.lower())
    return subprocess.run(
        [sys.executable, "-m", "portreg", *args], capture_output=True, text=True, env=env,
        check=False,
    )


@pytest.fixture(autouse=True)
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test's registry is found in its own folder, never the user's home."""
    for name in ("HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "PORTREG_DATA_DIR",
                 "PORTREG_CONFIG_DIR", "PORTREG_SYSTEM_DATA_DIR", "PORTREG_SYSTEM_LOCAL_DIR"):
        monkeypatch.setenv(name, str(tmp_path / "sandbox" / name.lower()))
