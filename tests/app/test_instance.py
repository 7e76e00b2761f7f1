"""One Omnidesk at a time."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from omnidesk.agent.errors import AlreadyRunningError, ConfigError
from omnidesk.app.instance import InstanceLock

_HOLD = """
import sys, time
from pathlib import Path
from omnidesk.app.instance import InstanceLock
lock = InstanceLock(Path(sys.argv[1]))
lock.acquire()
print("held", flush=True)
sys.stdin.readline()
"""


def test_second_instance_is_refused_and_lock_freed_on_exit(tmp_path: Path) -> None:
    with subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(tmp_path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as holder:
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
            with pytest.raises(AlreadyRunningError, match=f"pid {holder.pid}"):
                InstanceLock(tmp_path).acquire()
        finally:
            holder.kill()
            holder.wait(timeout=10)
    with InstanceLock(tmp_path) as lock:  # the kernel released it with the process
        assert lock.held
    assert not lock.held


def test_the_lock_file_is_not_followed_through_a_link(tmp_path: Path) -> None:
    """Another user who planted ``omnidesk.lock`` as a link must not get a file of ours truncated."""
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (runtime / "omnidesk.lock").symlink_to(victim)
    with pytest.raises(ConfigError, match="link"):
        InstanceLock(runtime).acquire()
    assert victim.read_text() == "keep me"


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o1777])
def test_a_runtime_dir_others_can_write_is_refused(tmp_path: Path, mode: int) -> None:
    runtime = tmp_path / "run"
    runtime.mkdir()
    runtime.chmod(mode)
    with pytest.raises(ConfigError, match="writable by other users"):
        InstanceLock(runtime).acquire()


def test_a_runtime_dir_of_another_user_is_refused(tmp_path: Path) -> None:
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    if os.getuid() == 0:
        os.chown(runtime, 65534, 65534)  # nobody
    else:
        runtime = Path("/")  # root's, and this test is not root
    with pytest.raises(ConfigError, match="belongs to another user"):
        InstanceLock(runtime).acquire()


def test_the_runtime_dir_is_made_private_whatever_the_umask(tmp_path: Path) -> None:
    runtime = tmp_path / "fallback" / "omnidesk-1000"
    old = os.umask(0)
    try:
        with InstanceLock(runtime) as lock:
            assert lock.held
    finally:
        os.umask(old)
    assert stat.S_IMODE(runtime.stat().st_mode) == 0o700
    assert stat.S_IMODE((runtime / "omnidesk.lock").stat().st_mode) == 0o600
