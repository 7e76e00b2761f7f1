"""Proxy variables and a local engine (issue 14, finding 7): the screen does not leave through a proxy.

A real listener stands in for the proxy and records every connection it gets. With every proxy variable
set (upper and lower case), a request to an engine on loopback goes straight to the engine; a request to an
engine elsewhere goes through the proxy the person configured (consent covers that engine, see
``app/remote_consent.py``) — here the recording proxy answers it itself.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from omnidesk.agent.ports import ChatMessage, ModelRequest
from omnidesk.runtime.remote import RemoteModelClient
from omnidesk.runtime.system_probe import probe_remote
from tests.runtime.hostile_engine import Connection, Request, hostile_engine, sse, sse_headers

REPLY = sse({"choices": [{"delta": {"content": "hi"}, "finish_reason": "stop"}]})
MODELS = json.dumps({"data": [{"id": "tiny"}]}).encode()


def _answer(request: Request, conn: Connection) -> None:
    if request.target.endswith("/models"):
        conn.send(f"HTTP/1.1 200 OK\r\nContent-Length: {len(MODELS)}\r\n\r\n".encode() + MODELS)
    else:
        conn.send(sse_headers() + REPLY)


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """A proxy listener named in every proxy variable; yields the request lines it received."""
    seen: list[str] = []
    with hostile_engine(lambda request, conn: (seen.append(request.target), _answer(request, conn))) as engine:
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
            monkeypatch.setenv(name, engine.url)
            monkeypatch.setenv(name.lower(), engine.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        yield seen


def _ask(url: str) -> str:
    with RemoteModelClient(url, timeout=30) as client:
        return client.generate(ModelRequest((ChatMessage.text("user", "hi"),), max_tokens=4)).text


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_loopback_engine_is_reached_directly_whatever_the_proxy_variables(proxy: list[str], host: str) -> None:
    with hostile_engine(_answer) as engine:
        url = engine.url.replace("127.0.0.1", host)
        assert _ask(url) == "hi"
        assert probe_remote(url) == ["tiny"]  # doctor's check too (it sends the API key)
        assert [r.target for r in engine.requests] == ["/v1/chat/completions", "/v1/models"]
    assert proxy == []


def test_an_engine_elsewhere_goes_through_the_configured_proxy(proxy: list[str]) -> None:
    assert _ask("http://engine.invalid:8080") == "hi"
    assert proxy == ["http://engine.invalid:8080/v1/chat/completions"]
