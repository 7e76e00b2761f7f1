"""Engine URLs: whether one stays on this machine, and how to show one without its credentials.

A remote engine's URL may carry credentials (``https://user:token@host/``, ``?api_key=…``). Omnidesk
never logs or shows them: messages use :func:`redact_url`, the log handlers pass every line through
:func:`redact_urls` (which also catches URLs that libraries log), and consent and keyring entries are
keyed by :func:`credential_free` / :func:`origin`.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = [
    "api_endpoint",
    "credential_free",
    "is_loopback_url",
    "origin",
    "proxy_for",
    "redact_url",
    "redact_urls",
]

_HIDDEN = "***"
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\"'<>`]+")


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").strip("[]").lower()
    except ValueError:
        return ""


def is_loopback_url(url: str) -> bool:
    """Whether a URL points at this machine (the screen never leaves it then)."""
    host = _host(url)
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _netloc(parts: SplitResult, userinfo: str) -> str:
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:  # not a number: shown as nothing rather than guessed
        port = None
    return f"{userinfo}{host}" + (f":{port}" if port is not None else "")


def redact_url(url: str) -> str:
    """``url`` with its user info and every query value replaced by ``***`` (safe to log and show)."""
    try:
        parts = urlsplit(url)
        userinfo = f"{_HIDDEN}@" if "@" in parts.netloc else ""
        query = urlencode([(k, _HIDDEN) for k, _ in parse_qsl(parts.query, keep_blank_values=True)], safe="*")
        return urlunsplit((parts.scheme, _netloc(parts, userinfo), parts.path, query, ""))
    except ValueError:
        return f"{url.split('://', 1)[0]}://{_HIDDEN}" if "://" in url else _HIDDEN


def redact_urls(text: str) -> str:
    """``text`` with every URL in it redacted (:func:`redact_url`)."""
    return _URL.sub(lambda m: redact_url(m.group(0)), text)


def credential_free(url: str) -> str:
    """``url`` without user info, query or fragment: what consent is given for."""
    try:
        parts = urlsplit(url)
        return urlunsplit((parts.scheme.lower(), _netloc(parts, ""), parts.path.rstrip("/"), "", ""))
    except ValueError:
        return redact_url(url)


def origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url`` (lower case, no credentials): what an API key belongs to."""
    try:
        parts = urlsplit(url)
        return f"{parts.scheme.lower()}://{_netloc(parts, '')}"
    except ValueError:
        return redact_url(url)


def api_endpoint(base_url: str, name: str) -> str:
    """The OpenAI-style endpoint ``name`` (``chat/completions``, ``models``) of an engine given by its root
    (``http://host:8080``) or its ``/v1`` URL; a query the URL carries (``?api_key=…``) is kept."""
    parts = urlsplit(base_url)
    path = parts.path.rstrip("/")
    path = (path if path.endswith("/v1") else f"{path}/v1") + f"/{name}"
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def proxy_for(url: str) -> str | None:
    """The proxy the environment sends ``url`` through, shown without its credentials; ``None`` for an
    engine on loopback (the client ignores proxies for it) or a host ``NO_PROXY`` lists.

    The same variables httpx reads (urllib's ``getproxies``: ``HTTPS_PROXY``, ``HTTP_PROXY``, ``ALL_PROXY``,
    lower case too), so the person is told about the proxy the screen would pass through.
    """
    import urllib.request

    if is_loopback_url(url):
        return None
    proxies = urllib.request.getproxies()
    proxy = proxies.get(urlsplit(url).scheme.lower()) or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass(_host(url)):  # NO_PROXY, as urllib and httpx read it
        return None
    return redact_url(proxy)
