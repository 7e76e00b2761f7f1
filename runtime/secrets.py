"""The SecretStore port over the system keyring (Secret Service, KWallet, …) via ``keyring``.

A secret's value lives under the service ``omnidesk`` (username: the secret's name); its binding — the
windows where it may be typed (``agent/secrets.py``) — lives next to it under ``omnidesk-binding``, as
JSON with no value in it. Keeping both in the keyring means a binding travels, and goes, with its secret,
and that changing where a secret may be typed takes what reading the secret takes. ``omnidesk secrets
set NAME --window-class …`` stores both; the model writes ``{{secret:NAME}}`` to type it. A secret
stored before bindings existed (``keyring set omnidesk NAME``) has none and is refused until bound.
Values are never logged.
"""

from __future__ import annotations

import logging
from typing import Any

from omnidesk.agent.errors import ConfigError
from omnidesk.agent.secrets import SecretBinding

__all__ = ["BINDING_SERVICE", "SERVICE", "KeyringSecretStore"]

logger = logging.getLogger(__name__)

SERVICE = "omnidesk"
BINDING_SERVICE = "omnidesk-binding"


class KeyringSecretStore:
    """Reads and writes secrets and their bindings in a keyring backend (the system's default unless one is
    passed in)."""

    def __init__(self, *, service: str = SERVICE, backend: Any = None) -> None:
        self._service = service
        self._binding_service = BINDING_SERVICE if service == SERVICE else f"{service}-binding"
        self._backend = backend

    def _keyring(self) -> Any:
        if self._backend is None:
            import keyring

            self._backend = keyring.get_keyring()
        return self._backend

    def _read(self, service: str, name: str, what: str) -> str | None:
        from keyring.errors import KeyringError, NoKeyringError

        try:
            value = self._keyring().get_password(service, name)
        except NoKeyringError as exc:
            raise ConfigError(
                "no system keyring is available for secrets; install and unlock one (GNOME Keyring, KWallet) "
                f"or use the `keyrings.alt` file backend — {exc}"
            ) from exc
        except KeyringError as exc:
            raise ConfigError(f"the keyring refused to read {what} {name!r}: {exc}; unlock it and retry") from exc
        return None if value is None else str(value)

    def _write(self, service: str, name: str, value: str, what: str) -> None:
        from keyring.errors import KeyringError, NoKeyringError

        try:
            self._keyring().set_password(service, name, value)
        except NoKeyringError as exc:
            raise ConfigError(f"no system keyring is available to store {what} {name!r}: {exc}") from exc
        except KeyringError as exc:
            raise ConfigError(f"the keyring refused to store {what} {name!r}: {exc}") from exc

    def get(self, name: str) -> str | None:
        """The secret ``name``, or ``None`` when it is not stored.

        Raises:
            ConfigError: no usable keyring on this system.
        """
        value = self._read(self._service, name, "secret")
        if value is None:
            logger.info("secret %r is not in the keyring (service %r)", name, self._service)
        return value

    def binding(self, name: str) -> SecretBinding | None:
        """Where secret ``name`` may be typed, or ``None`` when it has no binding.

        Raises:
            ConfigError: no usable keyring, or a binding that is not readable (bind it again).
        """
        text = self._read(self._binding_service, name, "the binding of secret")
        return None if text is None else SecretBinding.from_json(text)

    def set(self, name: str, value: str, binding: SecretBinding | None = None) -> None:
        """Store a secret, and its binding when given (``omnidesk secrets set``, tests)."""
        self._write(self._service, name, value, "secret")
        if binding is not None:
            self.bind(name, binding)

    def bind(self, name: str, binding: SecretBinding) -> None:
        """Store where secret ``name`` may be typed (replacing an earlier binding)."""
        self._write(self._binding_service, name, binding.to_json(), "the binding of secret")

    def delete(self, name: str) -> bool:
        """Remove a secret and its binding; False when there was no such secret.

        Raises:
            ConfigError: no usable keyring, or it refused.
        """
        from keyring.errors import KeyringError, PasswordDeleteError

        found = False
        for service in (self._service, self._binding_service):
            try:
                self._keyring().delete_password(service, name)
                found = found or service == self._service
            except PasswordDeleteError:
                continue
            except KeyringError as exc:
                raise ConfigError(f"the keyring refused to delete secret {name!r}: {exc}") from exc
        return found
