"""API keys of remote engines in the system keyring (Secret Service, KWallet, …), never in a file.

One key per engine *origin* (``scheme://host:port``, credentials dropped, see ``runtime/urls.py``): a key
is only ever sent to the engine it was stored for, so pointing ``model.remote_url`` somewhere else (by
hand, or through a crafted settings file) does not take the key along. Entries live under the service
``omnidesk-engine`` with the origin as user name. Keys are never logged.

The API (for the CLI, the settings dialog and the composition root, which builds the store)::

    store = build_api_key_store()        # app/compose.py
    store.get(url) -> str | None         # ConfigError when there is no usable keyring
    store.set(url, key)                  # an empty key removes it
    store.delete(url)
"""

from __future__ import annotations

import logging
from typing import Any

from omnidesk.agent.errors import ConfigError
from omnidesk.runtime.urls import origin

__all__ = ["SERVICE", "ApiKeyStore"]

log = logging.getLogger(__name__)

SERVICE = "omnidesk-engine"


class ApiKeyStore:
    """Remote engines' API keys in a keyring backend (the system's default unless one is passed in)."""

    def __init__(self, *, service: str = SERVICE, backend: Any = None) -> None:
        self._service = service
        self._backend = backend

    def _keyring(self) -> Any:
        if self._backend is None:
            import keyring

            self._backend = keyring.get_keyring()
        return self._backend

    def get(self, url: str) -> str | None:
        """The key stored for ``url``'s engine, or ``None``.

        Raises:
            ConfigError: no usable keyring (or it refused).
        """
        from keyring.errors import KeyringError

        try:
            value = self._keyring().get_password(self._service, origin(url))
        except KeyringError as exc:
            raise _no_keyring("read", exc) from exc
        return None if value is None else str(value)

    def set(self, url: str, key: str) -> None:
        """Store ``key`` for ``url``'s engine (an empty key removes the stored one).

        Raises:
            ConfigError: no usable keyring (or it refused).
        """
        if not key:
            self.delete(url)
            return
        from keyring.errors import KeyringError

        try:
            self._keyring().set_password(self._service, origin(url), key)
        except KeyringError as exc:
            raise _no_keyring("store", exc) from exc
        log.info("API key for %s stored in the keyring", origin(url))

    def delete(self, url: str) -> None:
        """Remove the key stored for ``url``'s engine (nothing if there is none)."""
        from keyring.errors import KeyringError, PasswordDeleteError

        try:
            self._keyring().delete_password(self._service, origin(url))
        except PasswordDeleteError:
            return
        except KeyringError as exc:
            raise _no_keyring("remove", exc) from exc
        log.info("API key for %s removed from the keyring", origin(url))


def _no_keyring(what: str, exc: Exception) -> ConfigError:
    return ConfigError(
        f"cannot {what} the remote engine's API key: no usable system keyring ({type(exc).__name__}: {exc}); "
        "install and unlock one (GNOME Keyring, KWallet), or set OMNIDESK_MODEL__REMOTE_API_KEY in the environment"
    )
