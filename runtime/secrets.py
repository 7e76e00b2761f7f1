"""The SecretStore port over the system keyring (Secret Service, KWallet, …) via ``keyring``.

Secrets live under the service ``omnidesk``: ``keyring set omnidesk NAME`` stores one, and the model
writes ``{{secret:NAME}}`` to type it. Values are never logged.
"""

from __future__ import annotations

import logging
from typing import Any

from omnidesk.agent.errors import ConfigError

__all__ = ["SERVICE", "KeyringSecretStore"]

logger = logging.getLogger(__name__)

SERVICE = "omnidesk"


class KeyringSecretStore:
    """Reads secrets from a keyring backend (the system's default unless one is passed in)."""

    def __init__(self, *, service: str = SERVICE, backend: Any = None) -> None:
        self._service = service
        self._backend = backend

    def _keyring(self) -> Any:
        if self._backend is None:
            import keyring

            self._backend = keyring.get_keyring()
        return self._backend

    def get(self, name: str) -> str | None:
        """The secret ``name``, or ``None`` when it is not stored.

        Raises:
            ConfigError: no usable keyring on this system.
        """
        from keyring.errors import KeyringError, NoKeyringError

        try:
            value = self._keyring().get_password(self._service, name)
        except NoKeyringError as exc:
            raise ConfigError(
                "no system keyring is available for secrets; install and unlock one (GNOME Keyring, KWallet) "
                f"or use the `keyrings.alt` file backend — {exc}"
            ) from exc
        except KeyringError as exc:
            raise ConfigError(f"the keyring refused to read secret {name!r}: {exc}; unlock it and retry") from exc
        if value is None:
            logger.info("secret %r is not in the keyring (service %r)", name, self._service)
        return value if value is None else str(value)

    def set(self, name: str, value: str) -> None:
        """Store a secret (for ``omnidesk`` commands and tests)."""
        from keyring.errors import KeyringError

        try:
            self._keyring().set_password(self._service, name, value)
        except KeyringError as exc:
            raise ConfigError(f"the keyring refused to store secret {name!r}: {exc}") from exc
