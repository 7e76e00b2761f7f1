"""A keyring backend in a JSON file, for CLI tests in subprocesses.

Select it with ``PYTHON_KEYRING_BACKEND=tests.keyring_backend.FileKeyring`` (keyring's own switch) and
``OMNIDESK_TEST_KEYRING=/path/to/file.json``; the repository root must be on ``PYTHONPATH``. Without the
file variable it behaves like a machine with no keyring at all.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import NoKeyringError, PasswordDeleteError

__all__ = ["FileKeyring", "keyring_env"]


def keyring_env(file: Path | None) -> dict[str, str]:
    """Environment for a subprocess that uses this backend (``file=None``: no keyring)."""
    root = Path(__file__).resolve().parents[1]
    env = {"PYTHON_KEYRING_BACKEND": "tests.keyring_backend.FileKeyring", "PYTHONPATH": str(root)}
    if file is not None:
        env["OMNIDESK_TEST_KEYRING"] = str(file)
    return env


class FileKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def _file(self) -> Path:
        name = os.environ.get("OMNIDESK_TEST_KEYRING")
        if not name:
            raise NoKeyringError("no keyring in this test")
        return Path(name)

    def _load(self) -> dict[str, str]:
        file = self._file()
        return json.loads(file.read_text()) if file.exists() else {}

    def get_password(self, service: str, username: str) -> str | None:
        return self._load().get(f"{service}/{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        data = self._load()
        data[f"{service}/{username}"] = password
        self._file().write_text(json.dumps(data))

    def delete_password(self, service: str, username: str) -> None:
        data = self._load()
        if data.pop(f"{service}/{username}", None) is None:
            raise PasswordDeleteError("not stored")
        self._file().write_text(json.dumps(data))
