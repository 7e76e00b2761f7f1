"""The person's consent before their screen goes to a remote engine off this machine.

A remote engine on loopback sees nothing that leaves the machine, so it needs no consent; any other URL is
asked about once and remembered in ``model.remote_confirmed``. Where there is no one to ask (no terminal,
an MCP client) an unconfirmed URL is refused with the command that allows it.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable
from urllib.parse import urlsplit

from omnidesk.agent.errors import ConfigError
from omnidesk.app.settings import AppPaths, Settings, load_settings, save_settings

__all__ = ["RemoteConsent", "is_loopback_url", "require_remote_consent"]

log = logging.getLogger(__name__)

RemoteConsent = Callable[[str], bool]
"""Asks the person whether their screen may go to a remote engine (the question is the argument)."""


def is_loopback_url(url: str) -> bool:
    """Whether a URL points at this machine (the screen never leaves it then)."""
    host = (urlsplit(url).hostname or "").strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_remote_consent(settings: Settings, paths: AppPaths, url: str, ask: RemoteConsent | None) -> None:
    """Before the screen first goes to a remote engine that is not on loopback, the person allows it.

    Raises:
        ConfigError: the person declined, or there is no way to ask (``ask`` is None).
    """
    if is_loopback_url(url) or url in settings.model.remote_confirmed:
        return
    question = (
        f"Omnidesk will send your screen, your questions and your voice to {url}, which is not this machine. Allow it?"
    )
    if ask is None or not ask(question):
        raise ConfigError(
            f"your screen is not sent to {url} without your consent; allow it once with "
            f"`omnidesk config set model.remote_confirmed '[\"{url}\"]'` or confirm when asked"
        )
    stored = load_settings(paths, environment=False)
    stored.model.remote_confirmed = [*stored.model.remote_confirmed, url]
    save_settings(stored, paths)
    log.info("remote engine %s allowed by the user", url)
