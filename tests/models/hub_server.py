"""A minimal Hugging Face Hub on 127.0.0.1 for download tests: repo file listing and ``resolve`` URLs.

Serves ``/api/models/{repo}[/revision/{revision}]`` (``model_info`` with ``files_metadata``: the commit
and each file's size and LFS SHA-256) and
``/{repo}/resolve/{revision}/{file}`` (HEAD for metadata, GET for content, ``Range: bytes=A-[B]`` answered
with 206 as the Hub's CDN does), with the headers ``huggingface_hub`` expects (``X-Repo-Commit``, ``ETag``
= the file's SHA-256 as for LFS files, ``Content-Length``). No Xet.

``throttle`` (bytes per second) sends file bodies slowly, in small pieces, so that a test can watch the
progress, cancel in the middle and resume; ``corrupt`` names files whose bytes get one bit flipped on the
way (size and ETag stay right, as with damage in transit); ``drop_after`` cuts the next download off after
that many bytes, as a lost connection does. The server's ``state`` has the log of requests
(``"GET /path bytes=N-"``) and lets a test change ``throttle`` while it runs.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

__all__ = ["HubState", "hub_server"]

COMMIT = "0123456789abcdef0123456789abcdef01234567"
_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")
_PIECE = 16 * 1024


@dataclass
class HubState:
    """What the mirror saw, and how it behaves now (safe to change from the test thread)."""

    requests: list[str] = field(default_factory=list)
    throttle: float | None = None
    corrupt: set[str] = field(default_factory=set)
    drop_after: int | None = None
    """Close the connection after this many bytes of the next whole-file GET (a lost connection), once."""


@contextmanager
def hub_server(
    repos: dict[str, dict[str, Path]],
    *,
    throttle: float | None = None,
    corrupt: set[str] | None = None,
    state: HubState | None = None,
) -> Iterator[tuple[str, list[str]]]:
    """Serve ``{repo_id: {filename: path}}``; yields the endpoint URL and the log of requests."""
    hub = state or HubState()
    hub.throttle = throttle if throttle is not None else hub.throttle
    hub.corrupt |= corrupt or set()
    requests = hub.requests

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            return

        def _send_file(self, body: bool) -> None:
            path = unquote(urlparse(self.path).path)
            wanted = self.headers.get("Range", "")
            requests.append(f"{self.command} {path}" + (f" {wanted}" if wanted else ""))
            for repo, files in repos.items():
                prefix = f"/{repo}/resolve/"
                if path.startswith(prefix):
                    _, _, filename = path[len(prefix) :].partition("/")
                    if filename in files:
                        self._file(filename, files[filename].read_bytes(), wanted, body)
                        return
                if (path == f"/api/models/{repo}" or path.startswith(f"/api/models/{repo}/revision/")) and body:
                    siblings = []
                    for name, p in files.items():
                        data = p.read_bytes()
                        lfs = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
                        siblings.append(
                            {"rfilename": name, "size": len(data), "blobId": hashlib.sha1(data).hexdigest(), "lfs": lfs}
                        )
                    self._json(200, {"id": repo, "modelId": repo, "sha": COMMIT, "siblings": siblings})
                    return
            self._json(404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"}, body=body)

        def _file(self, filename: str, data: bytes, wanted: str, body: bool) -> None:
            size = len(data)
            start, end = 0, size - 1
            match = _RANGE.match(wanted)
            if match:
                start = int(match.group(1))
                end = min(int(match.group(2)), size - 1) if match.group(2) else size - 1
                if start >= size:
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{size}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
            self.send_response(206 if match else 200)
            self.send_header("X-Repo-Commit", COMMIT)
            self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(end - start + 1))
            if match:
                self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
            self.send_header("Content-Type", "application/octet-stream")
            self.end_headers()
            if not body:
                return
            if filename in hub.corrupt:
                flipped = bytearray(data)
                flipped[size // 2] ^= 0x01
                data = bytes(flipped)
            self._body(data[start : end + 1], whole=not match)

        def _body(self, payload: bytes, *, whole: bool) -> None:
            cut = hub.drop_after if whole else None
            if cut is not None:
                hub.drop_after = None
                payload = payload[:cut]
                self.close_connection = True
            try:
                for offset in range(0, len(payload), _PIECE):
                    rate = hub.throttle
                    piece = payload[offset : offset + _PIECE]
                    self.wfile.write(piece)
                    self.wfile.flush()
                    if rate:
                        time.sleep(len(piece) / rate)  # the mirror's pace, not a test's synchronisation
            except (BrokenPipeError, ConnectionResetError):
                return  # the client went away (a cancelled download)

        def _json(
            self, status: int, payload: object, extra: dict[str, str] | None = None, *, body: bool = True
        ) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            for key, value in (extra or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if body:
                self.wfile.write(data)

        def do_HEAD(self) -> None:
            self._send_file(body=False)

        def do_GET(self) -> None:
            self._send_file(body=True)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
