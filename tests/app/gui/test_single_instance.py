"""A second ``omnidesk`` brings the running window forward and starts nothing of its own."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from tests.app.cli_helpers import OMNIDESK, isolated_env, run_cli
from tests.rig.xserver import WindowManager

pytestmark = pytest.mark.desktop


def _visible_omnidesk_windows(env: dict[str, str]) -> list[str]:
    found = subprocess.run(
        ["xdotool", "search", "--onlyvisible", "--name", "^Omnidesk$"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=10,
    )
    return found.stdout.split()


def _wait_until(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_second_launch_raises_the_first_window(window_manager: WindowManager, tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    with subprocess.Popen([str(OMNIDESK)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as first:
        try:
            _wait_until(lambda: _visible_omnidesk_windows(env), 60, "the first window")
            (window,) = _visible_omnidesk_windows(env)
            subprocess.run(["xdotool", "windowminimize", "--sync", window], env=env, check=True, timeout=10)
            assert window not in _visible_omnidesk_windows(env)

            second = run_cli([], env, timeout=60)
            assert second.returncode == 0, second.stderr
            assert "already running" in second.stdout
            _wait_until(lambda: window in _visible_omnidesk_windows(env), 10, "the first window to come back")
            assert first.poll() is None  # the first one still runs; only one Omnidesk
        finally:
            first.terminate()
            first.wait(timeout=30)
    assert first.returncode == 0


def test_stale_lock_of_a_dead_instance_does_not_block(x_display: object, tmp_path: Path) -> None:
    """A crashed instance leaves its socket behind; the kernel dropped its lock, so a new one starts."""
    env = isolated_env(tmp_path)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "omnidesk.sock").write_text("stale")
    (run_dir / "omnidesk.lock").write_text("12345")
    with subprocess.Popen([str(OMNIDESK)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as app:
        try:
            _wait_until(lambda: _visible_omnidesk_windows(env), 60, "the window")
        finally:
            app.terminate()
            app.wait(timeout=30)
    assert app.returncode == 0
