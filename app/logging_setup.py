"""Logging handlers: only the app configures them (stderr + a rotating file in the data dir)."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

__all__ = ["setup_logging"]

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


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
    console.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    console._omnidesk = True  # type: ignore[attr-defined]
    root.addHandler(console)
    if log_file is None:
        return
    try:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.handlers.RotatingFileHandler(
            log_file, maxBytes=2_000_000, backupCount=5, encoding="utf-8"
        )
    except OSError as exc:
        logging.getLogger(__name__).warning("cannot write the log file %s (%s); logging to stderr only", log_file, exc)
        return
    file_handler.setLevel(logging.INFO)
    file_handler.setFormatter(logging.Formatter(_FORMAT))
    file_handler._omnidesk = True  # type: ignore[attr-defined]
    root.addHandler(file_handler)
