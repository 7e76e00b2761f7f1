"""Fuzzing the remote client: random and mutated event streams from an engine on loopback.

Whatever the engine sends — valid chunks mixed with garbage JSON, wrong types, comments, stray fields,
odd line ends, a cut at any byte, an error status — the client returns a reply or raises a
:class:`RemoteEngineError`, within its deadline. Examples are derandomised (the same in every CI run) and
bounded (small caps, a 2 s deadline that a slow example would hit, not hang on).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from omnidesk.agent.errors import RemoteEngineError
from omnidesk.agent.ports import ChatMessage, ModelRequest
from omnidesk.runtime.remote import RemoteModelClient, StreamLimits
from tests.runtime.hostile_engine import Connection, Engine, Request, hostile_engine

_SETTINGS = settings(
    max_examples=100, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck)
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
fields = st.sampled_from(["content", "reasoning_content", "reasoning", "role", "tool_calls"])
deltas = st.dictionaries(fields, st.text(max_size=12) | json_values, max_size=3)
choices = st.fixed_dictionaries(
    {"delta": deltas | json_values},
    optional={"finish_reason": st.sampled_from(["stop", "length", None]) | json_values, "index": json_values},
)
usages = st.fixed_dictionaries(
    {},
    optional={
        "prompt_tokens": st.integers(-5, 2**50) | json_values,
        "completion_tokens": st.integers(0, 100) | json_values,
        "prompt_tokens_details": st.fixed_dictionaries({"cached_tokens": st.integers(-1, 9) | json_values}),
    },
)
chunks = st.fixed_dictionaries(
    {"choices": st.lists(choices, max_size=2) | json_values},
    optional={"usage": usages | json_values, "timings": st.dictionaries(st.just("prompt_ms"), json_values)},
)
events = st.one_of(
    chunks.map(json.dumps),
    chunks.map(json.dumps),
    json_values.map(json.dumps),
    st.just("[DONE]"),
    st.text(max_size=40),
    st.just('{"error": {"message": "overloaded"}}'),
)
line_ends = st.sampled_from(["\n\n", "\r\n\r\n", "\n\r\n", "\n"])


valid_events = st.one_of(
    st.text(max_size=12).map(lambda t: json.dumps({"choices": [{"delta": {"content": t}, "finish_reason": None}]})),
    st.text(max_size=12).map(lambda t: json.dumps({"choices": [{"delta": {"reasoning_content": t}}]})),
    st.just(json.dumps({"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 3}})),
)
FINISH = json.dumps({"choices": [{"delta": {}, "finish_reason": "stop"}]})


@st.composite
def streams(draw: st.DrawFn) -> bytes:
    """An event stream: a valid reply (tokens, a finish, ``[DONE]``) with a few mutations — events
    replaced by random ones, comments, other fields and blank lines put in, events dropped, odd line ends,
    a cut at any byte, bytes that are not UTF-8."""
    data = [*draw(st.lists(valid_events, max_size=5)), FINISH, "[DONE]"]
    lines = [f"data: {d}" for d in data]
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(lines)))
        kind = draw(st.sampled_from(["replace", "replace", "replace", "comment", "field", "blank", "drop", "bare"]))
        if kind == "replace" and at < len(lines):
            lines[at] = f"data:{draw(st.sampled_from([' ', '']))}{draw(events)}"
        elif kind == "comment":
            lines.insert(at, f": {draw(st.text(max_size=10))}")
        elif kind == "field":
            lines.insert(at, f"{draw(st.sampled_from(['event', 'id', 'retry', 'x']))}: {draw(st.text(max_size=10))}")
        elif kind == "blank":
            lines.insert(at, "")
        elif kind == "drop" and at < len(lines):
            del lines[at]
        elif kind == "bare":
            lines.insert(at, draw(st.text(max_size=30)))
    end = draw(line_ends)
    body = "".join(f"{line}{end}" if line.startswith("data") else f"{line}\n" for line in lines)
    raw = body.encode("utf-8", "surrogatepass")
    if draw(st.integers(0, 3)) == 0:
        raw = raw[: draw(st.integers(0, len(raw)))]
    if draw(st.integers(0, 9)) == 0:
        raw += draw(st.binary(max_size=64))
    return raw


class _Script:
    """What the engine sends next (one example at a time)."""

    status = "200 OK"
    content_type = "text/event-stream"
    body = b""

    def __call__(self, _: Request, conn: Connection) -> None:
        conn.send(f"HTTP/1.1 {self.status}\r\nContent-Type: {self.content_type}\r\nConnection: close\r\n\r\n".encode())
        conn.send(self.body)


SCRIPT = _Script()


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    with hostile_engine(SCRIPT) as running:
        yield running


def _generate(url: str) -> Any:
    limits = StreamLimits(deadline=2.0, max_line_bytes=16 << 10, max_body_bytes=256 << 10, max_error_bytes=4096)
    with RemoteModelClient(url, timeout=5, limits=limits) as client:
        return client.generate(ModelRequest((ChatMessage.text("user", "hi"),), max_tokens=8))


@_SETTINGS
@given(
    body=streams(),
    status=st.sampled_from(["200 OK"] * 6 + ["400 Bad Request", "500 Oops", "401 No"]),
    content_type=st.sampled_from(["text/event-stream"] * 8 + ["text/event-stream; charset=utf-8", "text/html"]),
)
def test_any_stream_gives_a_reply_or_a_remote_engine_error(
    engine: Engine, body: bytes, status: str, content_type: str
) -> None:
    SCRIPT.status, SCRIPT.content_type, SCRIPT.body = status, content_type, body
    try:
        reply = _generate(engine.url)
    except RemoteEngineError as exc:
        assert str(exc)
        event("error: " + re.sub(r" at \S+", "", str(exc)).split(";")[0].split("(")[0][:60])
        return
    event("reply")
    assert isinstance(reply.text, str) and isinstance(reply.reasoning, str)
    assert reply.prompt_tokens >= 0 and reply.completion_tokens >= 0 and reply.reused_tokens >= 0
    assert reply.stop_reason in ("stop", "length")


@_SETTINGS
@given(body=st.binary(max_size=2048))
def test_random_bytes_give_a_reply_or_a_remote_engine_error(engine: Engine, body: bytes) -> None:
    SCRIPT.status, SCRIPT.content_type, SCRIPT.body = "200 OK", "text/event-stream", body
    with contextlib.suppress(RemoteEngineError):
        _generate(engine.url)
