"""One Omnidesk at a time: an advisory lock in the runtime dir, held for the life of the process."""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path
from typing import IO

from omnidesk.agent.errors import AlreadyRunningError, ConfigError

__all__ = ["InstanceLock"]

log = logging.getLogger(__name__)


class InstanceLock:
    """``flock`` on ``<runtime_dir>/omnidesk.lock``; the kernel drops it when the process dies."""

    def __init__(self, runtime_dir: Path) -> None:
        self.path = runtime_dir / "omnidesk.lock"
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            handle = self.path.open("a+", encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot create the lock file {self.path}: {exc.strerror}") from exc
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip() or "unknown"
            handle.close()
            raise AlreadyRunningError(
                f"Omnidesk is already running (pid {owner}); use that window, or stop it first"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._file = handle
        log.debug("instance lock %s taken", self.path)

    @property
    def held(self) -> bool:
        return self._file is not None

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    def __enter__(self) -> InstanceLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
