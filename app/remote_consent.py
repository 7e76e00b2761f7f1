"""The person's consent before their screen goes to a remote engine off this machine.

A remote engine on loopback sees nothing that leaves the machine, so it needs no consent (and proxy
variables are ignored for it, see ``runtime/remote.py``); any other URL is asked about once and remembered in
``model.remote_confirmed`` — without the credentials it may carry, which are never shown or stored here.
Where there is no one to ask (no terminal, an MCP client) an unconfirmed URL is refused with the command
that allows it. When the environment sends the engine's traffic through a proxy, the question names it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from omnidesk.agent.errors import ConfigError
from omnidesk.app.settings import AppPaths, Settings, load_settings, save_settings
from omnidesk.runtime.urls import credential_free, is_loopback_url, proxy_for

__all__ = ["RemoteConsent", "is_loopback_url", "require_remote_consent"]

log = logging.getLogger(__name__)

RemoteConsent = Callable[[str], bool]
"""Asks the person whether their screen may go to a remote engine (the question is the argument)."""


def require_remote_consent(settings: Settings, paths: AppPaths, url: str, ask: RemoteConsent | None) -> None:
    """Before the screen first goes to a remote engine that is not on loopback, the person allows it.

    Raises:
        ConfigError: the person declined, or there is no way to ask (``ask`` is None).
    """
    engine = credential_free(url)
    if is_loopback_url(url) or engine in {credential_free(u) for u in settings.model.remote_confirmed}:
        return
    proxy = proxy_for(url)
    through = f", through the proxy {proxy} (from the proxy environment variables)" if proxy else ""
    question = (
        f"Omnidesk will send your screen, your questions and your voice to {engine}, which is not this "
        f"machine{through}. Allow it?"
    )
    if ask is None or not ask(question):
        raise ConfigError(
            f"your screen is not sent to {engine} without your consent; allow it once with "
            f"`omnidesk config set model.remote_confirmed '[\"{engine}\"]'` or confirm when asked"
        )
    stored = load_settings(paths, environment=False)
    stored.model.remote_confirmed = [*stored.model.remote_confirmed, engine]
    save_settings(stored, paths)
    log.info("remote engine %s allowed by the user", engine)
