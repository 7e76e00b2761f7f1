"""Building the frozen app with installer/omnidesk.spec, once per test session (fixture in conftest.py).

The build goes to ``build/frozen-test/`` in the source tree (ignored by git). A later session reuses it
when nothing that goes into it changed since (the spec, the launcher, Omnidesk's sources, pyproject.toml,
the venv's installed packages), so local reruns take seconds; a clean checkout, as in CI, builds it fresh.
A file lock keeps test sessions in the same tree from building over each other or over a build in use.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

__all__ = ["BUILD", "ROOT", "FrozenApp", "frozen_app_build"]

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "build" / "frozen-test"
_INPUTS = (
    ROOT / "installer" / "omnidesk.spec",
    ROOT / "installer" / "omnidesk_launcher.py",
    ROOT / "installer" / "pyinstaller_hooks",
    ROOT / "pyproject.toml",
    ROOT / "app",
    ROOT / "agent",
    ROOT / "runtime",
    ROOT / "assets",
)
_BUILD_TIMEOUT = 900
_LOCK_TIMEOUT = 600


@dataclass(frozen=True, slots=True)
class FrozenApp:
    """The one-folder app: ``executable`` is dist/omnidesk/omnidesk."""

    folder: Path
    executable: Path


def _newest_input() -> float:
    """The latest change to anything the build reads (site-packages changes when packages are installed)."""
    times = [Path(sysconfig.get_paths()["purelib"]).stat().st_mtime]
    for entry in _INPUTS:
        files = [entry] if entry.is_file() else [p for p in entry.rglob("*") if "__pycache__" not in p.parts]
        times += [p.stat().st_mtime for p in files]
    return max(times)


def _stale(stamp: Path) -> bool:
    return not stamp.exists() or stamp.stat().st_mtime <= _newest_input()


def _build(stamp: Path) -> None:
    shutil.rmtree(BUILD / "dist", ignore_errors=True)
    stamp.unlink(missing_ok=True)
    command = [
        *(sys.executable, "-m", "PyInstaller", str(ROOT / "installer" / "omnidesk.spec")),
        *("--distpath", str(BUILD / "dist"), "--workpath", str(BUILD / "work"), "--noconfirm", "--log-level", "WARN"),
    ]
    started, started_at = time.monotonic(), time.time()
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=_BUILD_TIMEOUT, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"PyInstaller failed:\n{result.stdout[-4000:]}\n{result.stderr[-8000:]}")
    stamp.touch()
    os.utime(stamp, (started_at, started_at))  # sources edited during the build make it stale
    size = sum(p.stat().st_size for p in (BUILD / "dist").rglob("*") if p.is_file() and not p.is_symlink())
    print(f"frozen app built in {time.monotonic() - started:.0f} s, {size / 2**20:.0f} MiB")


def _lock(lock: IO[str], mode: int) -> None:
    deadline = time.monotonic() + _LOCK_TIMEOUT
    while True:
        try:
            fcntl.flock(lock, mode | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"another test session has held {BUILD} for {_LOCK_TIMEOUT} s; let it finish and run again"
                ) from None
            time.sleep(0.5)


@contextmanager
def frozen_app_build() -> Iterator[FrozenApp]:
    """Build (or reuse an up-to-date build of) the frozen app; no one rebuilds it while this is open."""
    BUILD.mkdir(parents=True, exist_ok=True)
    stamp = BUILD / "built.stamp"
    with (BUILD / "build.lock").open("w") as lock:
        # Shared while in use (sessions can share a build); exclusive only to rebuild a stale one.
        _lock(lock, fcntl.LOCK_SH)
        if _stale(stamp):
            fcntl.flock(lock, fcntl.LOCK_UN)
            _lock(lock, fcntl.LOCK_EX)
            if _stale(stamp):  # nobody rebuilt it while we waited
                _build(stamp)
            fcntl.flock(lock, fcntl.LOCK_SH)
        else:
            print(f"reusing the frozen app in {BUILD / 'dist'} (nothing changed since it was built)")
        folder = BUILD / "dist" / "omnidesk"
        yield FrozenApp(folder, folder / "omnidesk")
