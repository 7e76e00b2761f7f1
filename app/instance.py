"""One Omnidesk at a time: an advisory lock in the runtime dir, held for the life of the process.

The runtime dir is often a fallback under the shared temporary folder (no ``XDG_RUNTIME_DIR`` under cron
or ssh), where another user may have made ``omnidesk-UID`` first: it is created 0700 and refused when it
is a link, someone else's, or writable by others; the lock file is opened without following links.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import stat
from pathlib import Path
from typing import IO

from omnidesk.agent.errors import AlreadyRunningError, ConfigError

__all__ = ["InstanceLock", "private_runtime_dir"]

log = logging.getLogger(__name__)


def private_runtime_dir(path: Path) -> Path:
    """``path`` checked as a runtime dir only this user controls (created 0700 if missing).

    Raises:
        ConfigError: it cannot be made, is not a folder (a link, say), belongs to another user, or other
            users may write in it.
    """
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = os.lstat(path)
    except OSError as exc:
        raise ConfigError(f"cannot create the runtime folder {path}: {exc.strerror or exc}") from exc
    mode = stat.S_IMODE(info.st_mode)
    hint = "remove it, or set XDG_RUNTIME_DIR (or OMNIDESK_RUNTIME_DIR) to a folder of yours"
    if not stat.S_ISDIR(info.st_mode):
        raise ConfigError(f"the runtime folder {path} is not a folder (a link?); {hint}")
    if info.st_uid != os.getuid():
        raise ConfigError(f"the runtime folder {path} belongs to another user (uid {info.st_uid}); {hint}")
    if mode & 0o022:
        raise ConfigError(f"the runtime folder {path} is writable by other users (mode {mode:o}); {hint}")
    if mode & 0o077:
        os.chmod(path, 0o700)
    return path


class InstanceLock:
    """``flock`` on ``<runtime_dir>/omnidesk.lock``; the kernel drops it when the process dies."""

    def __init__(self, runtime_dir: Path) -> None:
        self.path = runtime_dir / "omnidesk.lock"
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        private_runtime_dir(self.path.parent)
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            handle = open(os.open(self.path, flags, 0o600), "r+", encoding="utf-8")  # noqa: SIM115 - kept open
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise ConfigError(f"the lock file {self.path} is a symbolic link; remove it") from exc
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
