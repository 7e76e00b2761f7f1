"""An engine URL with credentials (``user:password@host``, ``?api_key=``) is never logged or shown
(issue 14, finding 13): not on the console, not in the log file (also not in httpx's own request lines),
not in error messages — while the engine does get the credentials."""

from __future__ import annotations

import base64
import json
import socket
from pathlib import Path

import pytest

from omnidesk.agent.errors import RemoteEngineError
from omnidesk.agent.ports import ChatMessage, ModelRequest
from omnidesk.runtime.remote import RemoteModelClient
from tests.app.cli_helpers import isolated_env, run_cli
from tests.runtime.hostile_engine import Connection, Request, hostile_engine

SECRETS = ("s3cret-pass", "K3Y-in-query")
MODELS = json.dumps({"data": [{"id": "tiny"}]}).encode()


def _with_credentials(url: str) -> str:
    return url.replace("http://", f"http://me:{SECRETS[0]}@") + f"/v1?api_key={SECRETS[1]}"


def _models(_: Request, conn: Connection) -> None:
    conn.send(f"HTTP/1.1 200 OK\r\nContent-Length: {len(MODELS)}\r\n\r\n".encode() + MODELS)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _assert_hidden(*texts: str) -> None:
    for text in texts:
        assert not any(secret in text for secret in SECRETS), text


def test_doctor_logs_and_shows_the_engine_without_its_credentials(tmp_path: Path) -> None:
    with hostile_engine(_models) as engine:
        env = isolated_env(tmp_path, OMNIDESK_MODEL__REMOTE_URL=_with_credentials(engine.url))
        result = run_cli(["-v", "doctor"], env)
        shown = run_cli(["config", "show"], env)
    assert "serves tiny" in result.stdout, result.stdout + result.stderr
    log = (tmp_path / "data" / "logs" / "omnidesk.log").read_text()
    assert "HTTP Request: GET http://***@127.0.0.1" in log  # httpx's own line, redacted
    _assert_hidden(result.stdout, result.stderr, log, shown.stdout, shown.stderr)
    request = engine.requests[0]
    assert request.target == f"/v1/models?api_key={SECRETS[1]}"  # the engine does get them
    assert request.headers["authorization"] == "Basic " + base64.b64encode(f"me:{SECRETS[0]}".encode()).decode()


def test_an_unreachable_engine_is_named_without_its_credentials(tmp_path: Path) -> None:
    url = _with_credentials(f"http://127.0.0.1:{_closed_port()}")
    result = run_cli(["doctor"], isolated_env(tmp_path, OMNIDESK_MODEL__REMOTE_URL=url))
    assert "http://***@127.0.0.1" in result.stdout
    _assert_hidden(result.stdout, result.stderr)


@pytest.mark.parametrize("status", ["401 Unauthorized", "refused"])
def test_remote_client_errors_name_the_engine_without_its_credentials(status: str) -> None:
    def refuse(_: Request, conn: Connection) -> None:
        conn.send(f"HTTP/1.1 {status}\r\nContent-Length: 2\r\n\r\n{{}}".encode())

    with hostile_engine(refuse) as engine:
        url = _with_credentials(engine.url if status != "refused" else f"http://127.0.0.1:{_closed_port()}")
        with RemoteModelClient(url, timeout=10) as client, pytest.raises(RemoteEngineError) as info:
            client.generate(ModelRequest((ChatMessage.text("user", "hi"),), max_tokens=4))
    assert "http://***@127.0.0.1" in str(info.value)
    _assert_hidden(str(info.value))
