"""Secrets as placeholders: the model and the logs only ever see ``{{secret:name}}``.

The value is looked up in a :class:`SecretStore` (the keyring adapter lives in ``runtime/secrets.py``)
at the moment of typing, and nowhere else.
"""

from __future__ import annotations

import re
from typing import Protocol

from omnidesk.agent.errors import SafetyStop

__all__ = ["SECRET_PATTERN", "SecretStore", "fill_secrets", "secret_names"]

SECRET_PATTERN = re.compile(r"\{\{\s*secret:([A-Za-z0-9_.\-]{1,64})\s*\}\}")


class SecretStore(Protocol):
    """Named secrets the person stored for Omnidesk (never shown to the model)."""

    def get(self, name: str) -> str | None:
        """The secret's value, or ``None`` when there is no such secret."""
        ...


def secret_names(text: str) -> list[str]:
    """The names of the placeholders in ``text``, in order."""
    return SECRET_PATTERN.findall(text)


def fill_secrets(text: str, store: SecretStore | None) -> str:
    """Replace every placeholder by its value.

    Raises:
        SafetyStop: a placeholder names a secret that is not stored (or there is no store).
    """

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        secret = store.get(name) if store is not None else None
        if secret is None:
            raise SafetyStop(
                f"the model asked to type secret {name!r}, which is not stored; add it with your keyring "
                f"(service 'omnidesk') or answer the model yourself",
                reason="missing_secret",
            )
        return secret

    return SECRET_PATTERN.sub(value, text)
