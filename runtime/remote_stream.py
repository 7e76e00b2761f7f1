"""Reading an OpenAI-compatible engine's streamed reply as untrusted input.

An engine may be slow, broken or hostile (it may be anywhere on the network). Whatever it sends, a
request ends within its deadline with a reply or a :class:`RemoteEngineError`:

- :class:`RequestGuard` ends a request from outside — at its total deadline, or at once on a stop
  request — by shutting down the request's socket (captured through httpx's ``trace`` extension when the
  connection is made), which wakes a read blocked in another thread; reads also time out on their own.
- :func:`sse_data` splits the byte stream into Server-Sent Events with a cap on each line and on the
  whole body; comments and keep-alive pings (``: ping``) are skipped, but they do not extend the deadline.
- :func:`parse_chunk` checks every field the client reads against typed models (:class:`Chunk`); a wrong
  type is a :class:`RemoteEngineError`, never a ``KeyError`` or ``AttributeError`` deeper down.
- :func:`read_capped` reads a body (an error page, a model list) up to a limit.

SSE framing follows the WHATWG HTML standard's event-stream parsing ("data:" lines joined by newlines,
dispatched at a blank line; lines starting with ":" are comments), as the OpenAI Python SDK's decoder does.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from omnidesk.agent.errors import RemoteEngineError

__all__ = [
    "Choice",
    "Chunk",
    "Delta",
    "RequestGuard",
    "StreamLimits",
    "ToolCallDelta",
    "Usage",
    "parse_chunk",
    "read_capped",
    "short_detail",
    "sse_data",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StreamLimits:
    """How long one request may take in all, and how much an engine may send."""

    deadline: float = 600.0
    max_line_bytes: int = 1 << 20
    max_body_bytes: int = 64 << 20
    max_error_bytes: int = 64 << 10


Count = Annotated[int, Field(ge=0, le=1 << 40)]
Millis = Annotated[float, Field(ge=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True, allow_inf_nan=False)


class ToolCallFunction(_Strict):
    name: str | None = None
    arguments: str | dict[str, Any] | None = None  # JSON text in pieces, or (some engines) the object


class ToolCallDelta(_Strict):
    """A piece of a tool call the engine's tool parser split off (OpenAI ``delta.tool_calls[]``)."""

    index: int | None = None
    function: ToolCallFunction | None = None


class Delta(_Strict):
    content: str | None = None
    reasoning_content: str | None = None
    reasoning: str | None = None  # vLLM's newer name for reasoning_content
    tool_calls: list[ToolCallDelta] | None = None

    @property
    def reasoning_text(self) -> str | None:
        return self.reasoning_content or self.reasoning


class Choice(_Strict):
    delta: Delta | None = None
    finish_reason: str | None = None


class PromptTokensDetails(_Strict):
    cached_tokens: Count | None = None


class Usage(_Strict):
    prompt_tokens: Count | None = None
    completion_tokens: Count | None = None
    prompt_tokens_details: PromptTokensDetails | None = None


class Timings(_Strict):
    """llama.cpp's per-reply timings (its own extension to the chunk)."""

    prompt_ms: Millis | None = None
    predicted_ms: Millis | None = None


class Chunk(_Strict):
    """One ``chat.completion.chunk`` event: the fields Omnidesk reads, each with its type."""

    choices: list[Choice] = Field(default_factory=list)
    usage: Usage | None = None
    timings: Timings | None = None


def parse_chunk(data: str) -> Chunk:
    """One event's data as a typed chunk.

    Raises:
        RemoteEngineError: not JSON, not an object, an ``error`` event, or a field of the wrong type.
    """
    try:
        event = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise RemoteEngineError(f"the remote engine sent an unreadable event: {data[:200]!r}") from exc
    if not isinstance(event, dict):
        raise RemoteEngineError(f"the remote engine sent an event that is not a JSON object: {data[:200]!r}")
    if "error" in event:
        raise RemoteEngineError(f"the remote engine reported an error: {short_detail(event['error'])}")
    try:
        return Chunk.model_validate(event)
    except ValidationError as exc:
        item = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(p) for p in item["loc"])
        raise RemoteEngineError(
            f"the remote engine sent a malformed chunk ({where}: {item['msg']}); is it OpenAI-compatible?"
        ) from exc


def short_detail(value: object) -> str:
    """An engine's error value as one short line (``{"message": …}`` objects by their message)."""
    text = value.get("message", value) if isinstance(value, dict) else value
    return str(text)[:300]


class RequestGuard:
    """Ends one request from outside: at ``deadline`` seconds, or on :meth:`cancel` (a stop request).

    Pass :meth:`trace` as the request's ``trace`` extension: it keeps the connection's network stream,
    whose socket :meth:`abort` shuts down (also when the abort came first, as soon as the connection is
    made). :attr:`reason` says why the request was ended, ``None`` if it was not.
    """

    def __init__(self, deadline: float) -> None:
        self._lock = threading.Lock()
        self._stream: Any = None
        self._finished = False
        self.reason: Literal["deadline", "cancelled"] | None = None
        self._timer = threading.Timer(deadline, self.abort, args=("deadline",))
        self._timer.daemon = True

    def __enter__(self) -> RequestGuard:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._finished = True
            self._stream = None
        self._timer.cancel()

    def trace(self, event: str, info: dict[str, Any]) -> None:
        if event not in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            return
        with self._lock:
            self._stream = info.get("return_value")
            aborted = self.reason is not None
        if aborted:
            self._shut_down()

    def cancel(self) -> None:
        self.abort("cancelled")

    def abort(self, reason: Literal["deadline", "cancelled"]) -> None:
        with self._lock:
            if self._finished or self.reason is not None:
                return
            self.reason = reason
        log.debug("ending the request to the remote engine (%s)", reason)
        self._shut_down()

    def _shut_down(self) -> None:
        with self._lock:
            stream = self._stream
        if stream is None:
            return
        sock = stream.get_extra_info("socket")
        if isinstance(sock, socket.socket):
            # the plain socket call: it also wakes a read inside an ssl.SSLSocket (closed already: nothing to wake)
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)


def sse_data(chunks: Iterator[bytes], limits: StreamLimits, guard: RequestGuard) -> Iterator[str]:
    """The data of each Server-Sent Event in ``chunks`` (stops early once ``guard`` ended the request).

    Raises:
        RemoteEngineError: a line over ``max_line_bytes``, a body over ``max_body_bytes``, or text that
            is not UTF-8.
    """
    buffer = bytearray()
    total = 0
    data: list[str] = []
    for chunk in chunks:
        if guard.reason is not None:
            return
        total += len(chunk)
        if total > limits.max_body_bytes:
            raise RemoteEngineError(
                f"the remote engine sent more than {limits.max_body_bytes >> 20} MiB for one reply; stopped reading"
            )
        buffer += chunk
        start = 0
        while (end := buffer.find(b"\n", start)) >= 0:
            if end - start > limits.max_line_bytes:
                raise _too_long(limits)
            line = bytes(buffer[start:end]).removesuffix(b"\r")
            start = end + 1
            event = _field(line, data)
            if event is not None:
                yield event
        del buffer[:start]
        if len(buffer) > limits.max_line_bytes:
            raise _too_long(limits)


def _too_long(limits: StreamLimits) -> RemoteEngineError:
    return RemoteEngineError(
        f"the remote engine sent a line longer than {limits.max_line_bytes >> 10} KiB; stopped reading"
    )


def _field(line: bytes, data: list[str]) -> str | None:
    """Take one line into the event being built; the event's data when the line ends it."""
    if not line:
        if not data:
            return None
        event = "\n".join(data)
        data.clear()
        return event
    if line.startswith(b":"):  # a comment: keep-alive pings
        return None
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RemoteEngineError("the remote engine sent an event that is not UTF-8 text") from exc
    name, _, value = text.partition(":")
    if name == "data":
        data.append(value.removeprefix(" "))
    return None


def read_capped(response: httpx.Response, limit: int) -> bytes:
    """Up to ``limit`` bytes of a streamed response's body (the rest is left unread)."""
    out = bytearray()
    for chunk in response.iter_bytes():
        out += chunk[: limit - len(out)]
        if len(out) >= limit:
            break
    return bytes(out)
