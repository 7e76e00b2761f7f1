"""A real llama.cpp server (xllamacpp) on 127.0.0.1, run in a child process for tests.

The server lives in its own process so its llama.cpp build never shares a process with
llama-cpp-python's, and so stopping it is just closing its stdin. ``media_marker`` sets
``LLAMA_MEDIA_MARKER`` in that process before the server starts (llama.cpp reads it once), so the
``/apply-template`` text carries the same marker libmtmd uses in-process (``<__media__>``) instead of a
random one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["llama_server"]

_SERVER = r"""
import json
import sys
import xllamacpp

options = json.loads(sys.argv[1])
params = xllamacpp.CommonParams()
params.model.path = options["model"]
if options["mmproj"]:
    params.mmproj.path = options["mmproj"]
params.n_ctx = options["n_ctx"]
params.n_batch = options["n_batch"]
params.n_ubatch = options["n_ubatch"]
params.n_parallel = 1
params.cpuparams.n_threads = options["n_threads"]
params.cpuparams_batch.n_threads = options["n_threads"]
if options["flash_attn"] is not None:
    params.flash_attn_type = xllamacpp.llama_flash_attn_type(int(options["flash_attn"]))
if options["reasoning_budget"] is not None:
    params.sampling.reasoning_budget_tokens = options["reasoning_budget"]
server = xllamacpp.Server(params)
print("LISTENING " + server.listening_address, flush=True)
sys.stdin.read()
del server
"""


@contextmanager
def llama_server(
    model: Path,
    mmproj: Path | None = None,
    *,
    n_ctx: int = 2048,
    n_batch: int = 2048,
    n_ubatch: int = 512,
    media_marker: str | None = None,
    reasoning_budget: int | None = None,
    flash_attn: bool | None = None,
    n_threads: int = 2,
) -> Iterator[str]:
    """Run an OpenAI-compatible llama.cpp server; yields its base URL (``http://127.0.0.1:PORT``)."""
    options = {
        "model": str(model),
        "mmproj": str(mmproj or ""),
        "n_ctx": n_ctx,
        "n_batch": n_batch,
        "n_ubatch": n_ubatch,
        "reasoning_budget": reasoning_budget,
        "flash_attn": flash_attn,
        "n_threads": n_threads,
    }
    env = dict(os.environ)
    if media_marker is not None:
        env["LLAMA_MEDIA_MARKER"] = media_marker
    proc = subprocess.Popen(
        [sys.executable, "-c", _SERVER, json.dumps(options)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
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
