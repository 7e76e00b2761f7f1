"""A misbehaving OpenAI-compatible engine on loopback: real sockets, real HTTP framing, hostile content.

``hostile_engine(behaviour)`` serves every connection with ``behaviour(request, connection)`` on its own
thread: ``request`` is the parsed request (method, target, headers, JSON body); the :class:`Connection`
writes raw bytes and holds the connection open. The server counts what it sent and notes when clients
hang up, so tests can tell how much a client read before it stopped. Also the fuzz test's engine.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Connection", "Engine", "Request", "hostile_engine", "sse", "sse_headers"]


@dataclass(frozen=True)
class Request:
    method: str
    target: str
    headers: dict[str, str]
    body: Any


class Connection:
    """The server's end of one connection, for a behaviour to misbehave on."""

    def __init__(self, engine: Engine, sock: socket.socket) -> None:
        self._engine = engine
        self._sock = sock

    def send(self, data: bytes) -> bool:
        """Write ``data``; False once the client hung up or the test ended."""
        if self._engine.stop.is_set():
            return False
        try:
            self._sock.sendall(data)
        except OSError:
            self._hung_up()
            return False
        with self._engine.lock:
            self._engine.sent_bytes += len(data)
        return True

    def hold(self, data: bytes = b"", every: float = 0.05) -> None:
        """Keep the connection open until the client hangs up or the test ends: sending ``data`` every
        ``every`` s (0: as fast as the client reads), or, without data, saying nothing."""
        if data:
            while self.send(data):
                if every and self._engine.stop.wait(every):
                    return
            return
        self._sock.settimeout(0.05)
        while not self._engine.stop.is_set():
            try:
                if self._sock.recv(4096) == b"":
                    self._hung_up()
                    return
            except TimeoutError:
                continue
            except OSError:
                self._hung_up()
                return

    def _hung_up(self) -> None:
        with self._engine.lock:
            self._engine.hangups += 1
        self._engine.hung_up.set()


Behaviour = Callable[[Request, Connection], None]


@dataclass
class Engine:
    url: str
    requests: list[Request] = field(default_factory=list)
    sent_bytes: int = 0
    hangups: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    hung_up: threading.Event = field(default_factory=threading.Event)

    def client_hung_up(self, timeout: float = 10.0) -> bool:
        """Whether a client closed its connection (waiting up to ``timeout`` s for the server to notice)."""
        return self.hung_up.wait(timeout)


def sse_headers(status: str = "200 OK", content_type: str = "text/event-stream") -> bytes:
    """Response headers with no length: the body runs until the connection closes."""
    return f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nConnection: close\r\n\r\n".encode()


def sse(*events: object, done: bool = True) -> bytes:
    """``data:`` events (objects as JSON, strings as they are) and the closing ``[DONE]``."""
    lines = [f"data: {e if isinstance(e, str) else json.dumps(e)}\n\n" for e in events]
    return "".join(lines + (["data: [DONE]\n\n"] if done else [])).encode()


def _read_request(conn: socket.socket) -> Request | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    first, *lines = head.decode("latin-1").split("\r\n")
    method, target, _ = first.split(" ", 2)
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        rest += chunk
    body = json.loads(rest) if rest else None
    return Request(method, target, headers, body)


def _serve(engine: Engine, sock: socket.socket, behaviour: Behaviour) -> None:
    with sock:
        try:
            request = _read_request(sock)
        except (OSError, ValueError):
            return
        if request is None:
            return
        with engine.lock:
            engine.requests.append(request)
        behaviour(request, Connection(engine, sock))


@contextlib.contextmanager
def hostile_engine(behaviour: Behaviour) -> Iterator[Engine]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    engine = Engine(f"http://127.0.0.1:{listener.getsockname()[1]}")
    threads: list[threading.Thread] = []

    def accept() -> None:
        listener.settimeout(0.05)
        while not engine.stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            thread = threading.Thread(target=_serve, args=(engine, conn, behaviour), daemon=True)
            thread.start()
            threads.append(thread)

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield engine
    finally:
        engine.stop.set()
        acceptor.join(5)
        listener.close()
        for thread in threads:
            thread.join(10)
