"""KeyringSecretStore against an in-memory keyring backend (passed in, no global keyring changes)."""

from __future__ import annotations

import pytest
from keyring.backend import KeyringBackend
from keyring.errors import NoKeyringError, PasswordSetError

from omnidesk.agent.errors import ConfigError
from omnidesk.agent.secrets import SecretBinding, fill_secrets
from omnidesk.runtime.secrets import KeyringSecretStore


class MemoryKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.data.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        if not password:
            raise PasswordSetError("empty")
        self.data[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.data.pop((service, username), None)


class NoKeyring(MemoryKeyring):
    def get_password(self, service: str, username: str) -> str | None:
        raise NoKeyringError("no backend")


def test_round_trip_and_fill() -> None:
    backend = MemoryKeyring()
    store = KeyringSecretStore(backend=backend)
    store.set("mail", "p@ss <ü>")
    assert backend.data == {("omnidesk", "mail"): "p@ss <ü>"}
    assert store.get("mail") == "p@ss <ü>" and store.get("other") is None
    assert fill_secrets("{{secret:mail}}!", store) == "p@ss <ü>!"


def test_a_binding_is_stored_next_to_its_secret_without_the_value() -> None:
    backend = MemoryKeyring()
    store = KeyringSecretStore(backend=backend)
    binding = SecretBinding(window_class=("firefox",), title=("GitHub",), alone=True)
    store.set("github", "hunter2", binding)
    assert store.binding("github") == binding
    assert "hunter2" not in backend.data[("omnidesk-binding", "github")]
    backend.data[("omnidesk", "old")] = "stored with `keyring set omnidesk old`"
    assert store.binding("old") is None  # refused until bound (agent/secrets.py)
    backend.data[("omnidesk-binding", "bad")] = "{not json"
    with pytest.raises(ConfigError, match="bind the secret again"):
        store.binding("bad")
    assert store.delete("github") and ("omnidesk-binding", "github") not in backend.data


def test_errors_say_what_to_do() -> None:
    with pytest.raises(ConfigError, match="keyring"):
        KeyringSecretStore(backend=NoKeyring()).get("x")
    with pytest.raises(ConfigError, match="refused"):
        KeyringSecretStore(backend=MemoryKeyring()).set("x", "")
