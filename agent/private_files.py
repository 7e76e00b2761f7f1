"""Files only their owner can read, and paths a crafted folder cannot lead out of.

What Omnidesk keeps on disk shows the person's screen and work (run bundles, recordings, logs, settings):
folders are created ``0700`` and files ``0600`` whatever the umask, and an existing folder of ours that is
wider is tightened (with a log line). Files are replaced atomically through a fresh temporary name created
with ``O_EXCL | O_NOFOLLOW`` (``tempfile.mkstemp``), so a symbolic link planted at the target's name is
replaced, never followed. :func:`confined_path` checks a name that a bundle (or any file Omnidesk did not
write itself) gives for another file: it must stay inside the bundle, also after symbolic links.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import tempfile
from pathlib import Path, PurePosixPath
from typing import IO

__all__ = ["confined_path", "open_private_append", "private_dir", "write_private"]

log = logging.getLogger(__name__)

_DIR_MODE = 0o700
_FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """``path`` as a folder only its owner can enter: created ``0700`` (parents too), tightened if wider.

    A folder owned by someone else is left alone (it is not ours to change), with a warning if others may
    enter it. Raises ``OSError``.
    """
    missing = []
    for folder in (path, *path.parents):
        if folder.exists():
            break
        missing.append(folder)
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=_DIR_MODE)
        os.chmod(folder, _DIR_MODE)  # mkdir's mode went through the umask
    info = os.stat(path)
    wide = stat.S_IMODE(info.st_mode) & 0o077
    if info.st_uid != os.getuid():
        if wide:
            log.warning("%s belongs to another user and is open to others; keep Omnidesk's files elsewhere", path)
    elif wide:
        os.chmod(path, stat.S_IMODE(info.st_mode) & ~0o077)
        log.info("made %s private to you (it was readable by other users)", path)
    return path


def write_private(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Replace ``path`` atomically by ``data``, mode ``0600``; a link at ``path`` is replaced, not followed.

    ``durable``: wait until the data is on disk before the rename (off where a writer cannot wait, such
    as a recording's index between segments). Raises ``OSError``.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # 0600, O_EXCL
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def open_private_append(path: Path) -> IO[str]:
    """``path`` opened for appending text, created ``0600``; a symbolic link there is refused (``OSError``)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, _FILE_MODE)
    try:
        if os.fstat(fd).st_uid == os.getuid():
            os.fchmod(fd, _FILE_MODE)
        return open(fd, "a", encoding="utf-8")
    except BaseException:
        os.close(fd)
        raise


def confined_path(folder: Path, name: object) -> Path:
    """The file ``name`` (as a folder's own index gives it) inside ``folder``.

    Raises:
        ValueError: ``name`` is not a relative path, climbs out with ``..``, or leads out of ``folder``
            through a symbolic link; the message says which.
    """
    if not isinstance(name, str) or not name or "\0" in name or len(name) > 4096:
        raise ValueError(f"{str(name)[:80]!r} is not a file name")
    relative = PurePosixPath(name)
    if relative.is_absolute() or ".." in relative.parts:
        raise ValueError(f"{name!r} points outside the folder")
    try:
        root = folder.resolve()
        target = (root / relative).resolve()
    except (OSError, RuntimeError) as exc:  # a name too long, a loop of links
        raise ValueError(f"{name[:80]!r} cannot be looked up ({exc})") from exc
    if not target.is_relative_to(root):
        raise ValueError(f"{name!r} leads outside the folder through a symbolic link")
    return target
