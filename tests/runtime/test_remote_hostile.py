"""The remote client against an engine that misbehaves on a real loopback socket (issue 14, finding 9).

Each hostile behaviour ends in a :class:`RemoteEngineError` that says what happened (or, for a stop
request, a ``cancelled`` reply) — never a hang, an unbounded read or a ``KeyError``/``AttributeError``.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable

import pytest

from omnidesk.agent.errors import RemoteEngineError
from omnidesk.agent.ports import CancelToken, ChatMessage, ModelRequest
from omnidesk.runtime.remote import RemoteModelClient, StreamLimits
from tests.runtime.hostile_engine import Connection, Engine, Request, hostile_engine, sse, sse_headers

TOKEN = {"choices": [{"delta": {"content": "ok"}, "finish_reason": None}]}
STOP = {"choices": [{"delta": {}, "finish_reason": "stop"}]}


def _request() -> ModelRequest:
    return ModelRequest((ChatMessage.text("user", "What now?"),), max_tokens=8)


def _client(url: str, **limits: float) -> RemoteModelClient:
    return RemoteModelClient(url, timeout=30, limits=StreamLimits(**limits))  # type: ignore[arg-type]


def _error_from(behaviour: Callable[[Request, Connection], None], **limits: float) -> tuple[str, Engine]:
    """The message of the error the client raised against ``behaviour`` (and the engine, to ask what it saw)."""
    with hostile_engine(behaviour) as engine, _client(engine.url, **limits) as client:
        try:
            client.generate(_request())
        except RemoteEngineError as exc:
            return str(exc), engine
    pytest.fail("the client accepted the hostile engine's reply")


def test_a_stream_that_never_ends_is_stopped_at_the_deadline() -> None:
    """Tokens, then keep-alive comments forever: each read succeeds, the request's deadline ends it."""

    def pings(_: Request, conn: Connection) -> None:
        conn.send(sse_headers() + sse(TOKEN, done=False))
        conn.hold(b": ping\n\n", every=0.05)

    message, _ = _error_from(pings, deadline=1.0)
    assert re.search(r"did not finish its reply within 1 s.*remote_deadline", message), message


def test_an_engine_that_never_sends_headers_is_stopped_at_the_deadline() -> None:
    def silent(_: Request, conn: Connection) -> None:
        conn.hold()

    message, _ = _error_from(silent, deadline=1.0)
    assert re.search("did not finish its reply", message), message


def test_a_line_without_end_is_capped() -> None:
    def endless_line(_: Request, conn: Connection) -> None:
        conn.send(sse_headers() + b"data: ")
        conn.hold(b"x" * 65536, every=0.0)

    message, engine = _error_from(endless_line, max_line_bytes=256 << 10)
    assert re.search("line longer than 256 KiB", message), message
    assert engine.sent_bytes < 64 << 20  # stopped reading long before a gigabyte


def test_the_whole_reply_is_capped() -> None:
    def flood(_: Request, conn: Connection) -> None:
        conn.send(sse_headers())
        conn.hold(sse(TOKEN, done=False) * 500, every=0.0)

    message, _ = _error_from(flood, max_body_bytes=1 << 20)
    assert re.search("more than 1 MiB for one reply", message), message


def test_a_huge_error_body_is_read_only_up_to_its_cap() -> None:
    """A 50 MB error page: the message quotes its start; the client stops reading near the cap."""

    def error_page(_: Request, conn: Connection) -> None:
        body = json.dumps({"error": {"message": "boom " + "x" * (50 << 20)}}).encode()
        head = f"HTTP/1.1 500 Internal Server Error\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        conn.send(head)
        for start in range(0, len(body), 1 << 20):
            if not conn.send(body[start : start + (1 << 20)]):
                return

    message, engine = _error_from(error_page)
    assert re.search("HTTP 500", message), message
    assert len(message) < 1000
    assert engine.sent_bytes < 20 << 20  # socket buffers hold some; not the 50 MB


@pytest.mark.parametrize(
    "event",
    [
        {"choices": "many"},
        {"choices": [{"delta": "text"}]},
        {"choices": [{"delta": {"content": 5}}]},
        {"choices": [{"delta": {"content": "a"}, "finish_reason": 1}]},
        {"choices": [None]},
        {"usage": {"prompt_tokens": "many"}},
        {"usage": {"prompt_tokens": -3}},
        {"usage": {"prompt_tokens_details": {"cached_tokens": 1.5}}},
        {"usage": []},
        {"timings": {"prompt_ms": "fast"}},
        [1, 2, 3],
        "{not json",
    ],
    ids=repr,
)
def test_wrongly_typed_fields_are_a_remote_engine_error(event: object) -> None:
    def typed_wrong(_: Request, conn: Connection) -> None:
        conn.send(sse_headers() + sse(TOKEN, event, STOP))

    with hostile_engine(typed_wrong) as engine, _client(engine.url) as client, pytest.raises(RemoteEngineError):
        client.generate(_request())


def test_comments_and_multi_line_events_follow_the_sse_format() -> None:
    """Keep-alive comments are skipped, ``data:`` lines of one event are joined, CRLF line ends work."""

    def polite(_: Request, conn: Connection) -> None:
        split = json.dumps(TOKEN).replace(", ", ",\r\ndata: ", 1)
        conn.send(sse_headers() + b": keep-alive\r\n\r\nevent: message\r\ndata: " + split.encode() + b"\r\n\r\n")
        conn.send(sse(STOP, {"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 1}}))

    with hostile_engine(polite) as engine, _client(engine.url) as client:
        reply = client.generate(_request())
    assert (reply.text, reply.prompt_tokens, reply.completion_tokens, reply.stop_reason) == ("ok", 7, 1, "stop")


def test_a_stream_cut_before_the_reply_is_complete_is_an_error() -> None:
    def cut(_: Request, conn: Connection) -> None:
        conn.send(sse_headers() + sse(TOKEN, done=False))

    message, _ = _error_from(cut)
    assert re.search("before the reply was complete", message), message


def test_a_json_answer_instead_of_a_stream_is_an_error() -> None:
    def not_streaming(_: Request, conn: Connection) -> None:
        conn.send(sse_headers(content_type="application/json") + b'{"choices": []}')

    message, _ = _error_from(not_streaming)
    assert re.search("not an event stream", message), message


@pytest.mark.parametrize("where", ["before the headers", "mid-stream"])
def test_a_stop_request_ends_a_blocked_read_at_once(where: str) -> None:
    """The engine goes silent; a stop request from another thread (the GUI, MCP's stop_task) ends the
    blocked read at once — the engine sees the connection closed and the client returns while it would
    still be waiting out its 60 s read timeout — and the reply says it was cancelled."""
    request_seen = threading.Event()
    first_token = threading.Event()
    returned = threading.Event()

    def stall(_: Request, conn: Connection) -> None:
        request_seen.set()
        if where == "mid-stream":
            conn.send(sse_headers() + sse(TOKEN, done=False))
        conn.hold()

    token = CancelToken()
    trigger = first_token if where == "mid-stream" else request_seen
    seen: list[tuple[bool, bool]] = []

    def stop_when_blocked(engine: Engine) -> None:
        assert trigger.wait(30)
        time.sleep(0.5)  # the client is now blocked in its read (no assertion depends on this time)
        token.cancel()
        seen.append((engine.client_hung_up(10.0), returned.wait(10.0)))

    with hostile_engine(stall) as engine, RemoteModelClient(engine.url, timeout=60) as client:
        canceller = threading.Thread(target=stop_when_blocked, args=(engine,), daemon=True)
        canceller.start()
        reply = client.generate(_request(), on_token=lambda _: first_token.set(), cancel=token)
        returned.set()
        canceller.join(30)
    assert seen == [(True, True)]
    assert reply.stop_reason == "cancelled"


def test_the_engine_probe_is_capped_and_bounded_like_every_request() -> None:
    """Asking the engine what it is: an endless ``/v1/models`` body and a silent ``/props`` leave a
    ``generic`` engine within the deadline, having read only up to the cap."""

    def probe(request: Request, conn: Connection) -> None:
        if request.target.endswith("/v1/models"):
            conn.send(b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{"data": [')
            conn.hold(b'{"owned_by": "vllm"},' * 4096, every=0.0)
        else:
            conn.hold()

    with hostile_engine(probe) as engine, _client(engine.url, deadline=1.0) as client:
        assert client.engine == "generic"
    assert engine.sent_bytes < 64 << 20
