"""Logging handlers: only the app configures them (stderr + a rotating file in the data dir).

The log folder is 0700 and every log file 0600 whatever the umask (the log names windows, tasks and
files); files an older version left readable are tightened. Every line, on the console and in the file, has
the credentials of any URL in it redacted (``runtime/urls.py``) — also the lines libraries write, such as
httpx's request log.
"""

from __future__ import annotations

import io
import logging
import logging.handlers
import os
from pathlib import Path

from omnidesk.agent.private_files import private_dir
from omnidesk.runtime.urls import redact_urls

__all__ = ["setup_logging"]

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _RedactingFormatter(logging.Formatter):
    """Formats a record, then redacts every URL in the text (message, arguments and traceback alike)."""

    def format(self, record: logging.LogRecord) -> str:
        return redact_urls(super().format(record))


class _PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating log whose files are created 0600 (``FileHandler`` opens them with the umask's mode)."""

    def _open(self) -> io.TextIOWrapper:
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(self.baseFilename, flags, 0o600)
        os.fchmod(fd, 0o600)
        return open(fd, "a", encoding=self.encoding, errors=self.errors)


def setup_logging(log_file: Path | None, *, verbose: bool = False) -> None:
    """Console at WARNING (DEBUG with ``-v``); the log file always at INFO, rotated at 2 MB x 5."""
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for handler in list(root.handlers):
        if getattr(handler, "_omnidesk", False):
            root.removeHandler(handler)
            handler.close()
    console = logging.StreamHandler()
    console.setLevel(logging.DEBUG if verbose else logging.WARNING)
    console.setFormatter(_RedactingFormatter("%(levelname)s: %(message)s"))
    console._omnidesk = True  # type: ignore[attr-defined]
    root.addHandler(console)
    if log_file is None:
        return
    try:
        private_dir(log_file.parent)
        for old in log_file.parent.glob(log_file.name + "*"):
            if old.is_file() and not old.is_symlink() and old.stat().st_uid == os.getuid():
                old.chmod(0o600)
        file_handler = _PrivateRotatingFileHandler(log_file, maxBytes=2_000_000, backupCount=5, encoding="utf-8")
    except OSError as exc:
        logging.getLogger(__name__).warning("cannot write the log file %s (%s); logging to stderr only", log_file, exc)
        return
    file_handler.setLevel(logging.INFO)
    file_handler.setFormatter(_RedactingFormatter(_FORMAT))
    file_handler._omnidesk = True  # type: ignore[attr-defined]
    root.addHandler(file_handler)
