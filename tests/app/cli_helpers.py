"""Run the installed ``omnidesk`` console script in a subprocess with private config/data dirs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

OMNIDESK = Path(sys.executable).with_name("omnidesk")


def isolated_env(tmp_path: Path, **overrides: str | None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        OMNIDESK_CONFIG_DIR=str(tmp_path / "config"),
        OMNIDESK_DATA_DIR=str(tmp_path / "data"),
        OMNIDESK_RUNTIME_DIR=str(tmp_path / "run"),
    )
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def run_cli(
    args: list[str], env: dict[str, str], *, timeout: float = 120, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(OMNIDESK), *args], env=env, capture_output=True, text=True, timeout=timeout, check=False, cwd=cwd
    )
