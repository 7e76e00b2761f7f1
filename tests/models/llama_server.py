"""A real llama.cpp server (xllamacpp) on 127.0.0.1, run in a child process for tests.

The server lives in its own process so its llama.cpp build never shares a process with
llama-cpp-python's, and so stopping it is just closing its stdin.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["llama_server"]

_SERVER = r"""
import sys
import xllamacpp

params = xllamacpp.CommonParams()
params.model.path = sys.argv[1]
if sys.argv[2]:
    params.mmproj.path = sys.argv[2]
params.n_ctx = int(sys.argv[3])
params.n_parallel = 1
params.cpuparams.n_threads = 2
server = xllamacpp.Server(params)
print("LISTENING " + server.listening_address, flush=True)
sys.stdin.read()
del server
"""


@contextmanager
def llama_server(model: Path, mmproj: Path | None = None, *, n_ctx: int = 2048) -> Iterator[str]:
    """Run an OpenAI-compatible llama.cpp server; yields its base URL (``http://127.0.0.1:PORT``)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _SERVER, str(model), str(mmproj or ""), str(n_ctx)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = ""
        for line in proc.stdout:
            if line.startswith("LISTENING "):
                url = line.split(" ", 1)[1].strip()
                break
        if not url:
            raise RuntimeError(f"xllamacpp server did not start (exit code {proc.wait(timeout=10)})")
        yield url.rstrip("/")
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
