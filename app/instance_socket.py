"""Bring the running Omnidesk forward: a second launch knocks on the first one's socket and leaves.

The first instance holds :class:`~omnidesk.app.instance.InstanceLock` and listens on
``<runtime_dir>/omnidesk.sock`` (Qt's local server, in ``app/gui/single_instance.py``); a second launch
finds the lock taken, sends ``raise`` here and exits without loading a model or a hotkey listener.
"""

from __future__ import annotations

import logging
import socket
from pathlib import Path

__all__ = ["RAISE_MESSAGE", "knock", "socket_path"]

log = logging.getLogger(__name__)

RAISE_MESSAGE = b"raise\n"


def socket_path(runtime_dir: Path) -> Path:
    return runtime_dir / "omnidesk.sock"


def knock(path: Path, timeout: float = 2.0) -> bool:
    """Ask the running instance to show its window; False when nobody answers."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(path))
            sock.sendall(RAISE_MESSAGE)
            return sock.recv(16).startswith(b"ok")
    except OSError as exc:
        log.info("no running Omnidesk answered on %s: %s", path, exc)
        return False
