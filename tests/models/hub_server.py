"""A minimal Hugging Face Hub on 127.0.0.1 for download tests: repo file listing and ``resolve`` URLs.

Serves ``/api/models/{repo}/tree/{revision}`` (what ``list_repo_files`` reads) and
``/{repo}/resolve/{revision}/{file}`` (HEAD for metadata, GET for content), with the headers
``huggingface_hub`` expects (``X-Repo-Commit``, ``ETag``, ``Content-Length``). No Xet.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

__all__ = ["hub_server"]

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@contextmanager
def hub_server(repos: dict[str, dict[str, Path]]) -> Iterator[tuple[str, list[str]]]:
    """Serve ``{repo_id: {filename: path}}``; yields the endpoint URL and a log of requested paths."""
    requests: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            return

        def _send_file(self, body: bool) -> None:
            path = unquote(urlparse(self.path).path)
            requests.append(f"{self.command} {path}")
            for repo, files in repos.items():
                prefix = f"/{repo}/resolve/"
                if path.startswith(prefix):
                    _, _, filename = path[len(prefix) :].partition("/")
                    if filename in files:
                        data = files[filename].read_bytes()
                        self.send_response(200)
                        self.send_header("X-Repo-Commit", COMMIT)
                        self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
                        self.send_header("Content-Length", str(len(data)))
                        self.send_header("Content-Type", "application/octet-stream")
                        self.end_headers()
                        if body:
                            self.wfile.write(data)
                        return
                tree = f"/api/models/{repo}/tree/"
                if path.startswith(tree) and body:
                    listing = [
                        {
                            "type": "file",
                            "path": name,
                            "size": p.stat().st_size,
                            "oid": hashlib.sha1(p.read_bytes()).hexdigest(),
                        }
                        for name, p in files.items()
                    ]
                    payload = json.dumps(listing).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
            payload = json.dumps({"error": "Repository not found"}).encode()
            self.send_response(404)
            self.send_header("X-Error-Code", "RepoNotFound")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if body:
                self.wfile.write(payload)

        def do_HEAD(self) -> None:
            self._send_file(body=False)

        def do_GET(self) -> None:
            self._send_file(body=True)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
