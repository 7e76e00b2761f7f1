"""A keyring backend in a JSON file, for tests that run the ``omnidesk`` command in a subprocess.

Selected with ``PYTHON_KEYRING_BACKEND=tests.file_keyring.FileKeyring`` (keyring's own variable); the file
is ``OMNIDESK_TEST_KEYRING``. The real keyring needs a Secret Service on D-Bus, which the rig has not.
Without the file variable it behaves like a machine with no keyring at all (``keyring_env(None)``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import NoKeyringError, PasswordDeleteError

__all__ = ["FileKeyring", "keyring_env", "write_keyring"]


def _path() -> Path:
    name = os.environ.get("OMNIDESK_TEST_KEYRING")
    if not name:
        raise NoKeyringError("no keyring in this test")
    return Path(name)


def _load() -> dict[str, str]:
    try:
        return dict(json.loads(_path().read_text(encoding="utf-8")))
    except FileNotFoundError:
        return {}


class FileKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def get_password(self, service: str, username: str) -> str | None:
        return _load().get(f"{service}\0{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        data = _load()
        data[f"{service}\0{username}"] = password
        _path().write_text(json.dumps(data), encoding="utf-8")

    def delete_password(self, service: str, username: str) -> None:
        data = _load()
        if data.pop(f"{service}\0{username}", None) is None:
            raise PasswordDeleteError("not stored")
        _path().write_text(json.dumps(data), encoding="utf-8")


def keyring_env(file: Path | None) -> dict[str, str]:
    """Environment for a subprocess that uses ``file`` as its keyring (``None``: no keyring at all)."""
    root = Path(__file__).resolve().parent.parent
    path = os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH", "")) if p)
    env = {"PYTHON_KEYRING_BACKEND": "tests.file_keyring.FileKeyring", "PYTHONPATH": path}
    if file is not None:
        env["OMNIDESK_TEST_KEYRING"] = str(file)
    return env


def write_keyring(file: Path, entries: dict[tuple[str, str], str]) -> None:
    """Put ``(service, name) → value`` entries in the file keyring directly."""
    file.write_text(json.dumps({f"{s}\0{n}": v for (s, n), v in entries.items()}), encoding="utf-8")
