"""One Omnidesk at a time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from omnidesk.agent.errors import AlreadyRunningError
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
