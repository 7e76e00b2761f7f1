"""Read-only probes of the machine for ``omnidesk doctor``: X11 extensions, PortAudio, GPUs, memory.

Each probe either returns a description or raises a typed error from the one exception tree; none of
them changes anything.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from omnidesk.agent.errors import NoMicrophoneError, RemoteEngineError
from omnidesk.runtime.display import open_x_display

__all__ = [
    "GpuInfo",
    "available_memory_bytes",
    "default_input_device",
    "llama_gpu_offload",
    "nvidia_gpus",
    "probe_remote",
    "x11_extensions",
]

log = logging.getLogger(__name__)


def x11_extensions(display: str) -> set[str]:
    """Names of the X extensions the server offers that Omnidesk uses (XTEST, RECORD, RANDR)."""
    conn = open_x_display(display)
    try:
        return {name for name in ("XTEST", "RECORD", "RANDR") if conn.query_extension(name) is not None}
    finally:
        conn.close()


def default_input_device(name: str = "") -> str:
    """The input device Omnidesk would record from (by name substring, else the default)."""
    try:
        import sounddevice
    except OSError as exc:
        raise NoMicrophoneError(
            "no microphone: the PortAudio library is not installed (install libportaudio2)"
        ) from exc
    try:
        devices = sounddevice.query_devices()
        inputs = [d for d in devices if int(d["max_input_channels"]) > 0]
        if name:
            for device in inputs:
                if name.lower() in str(device["name"]).lower():
                    return str(device["name"])
            raise NoMicrophoneError(
                f"no microphone named like {name!r}; set audio.device to one of: "
                + ", ".join(str(d["name"]) for d in inputs)
            )
        info = sounddevice.query_devices(kind="input")
    except sounddevice.PortAudioError as exc:
        raise NoMicrophoneError(
            "no microphone: PortAudio finds no input device; plug one in or check PulseAudio/PipeWire"
        ) from exc
    return str(info["name"])


@dataclass(frozen=True, slots=True)
class GpuInfo:
    name: str
    total_bytes: int
    free_bytes: int


def nvidia_gpus() -> list[GpuInfo]:
    """NVIDIA GPUs as nvidia-smi reports them; empty when there is no driver or no GPU."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        out = subprocess.run(
            [smi, "--query-gpu=name,memory.total,memory.free", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        log.info("nvidia-smi failed: %s", exc)
        return []
    gpus = []
    for line in out.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
            gpus.append(GpuInfo(parts[0], int(parts[1]) * 2**20, int(parts[2]) * 2**20))
    return gpus


def llama_gpu_offload() -> bool:
    """Whether the installed llama-cpp-python was built with a GPU backend."""
    import llama_cpp

    return bool(llama_cpp.llama_supports_gpu_offload())


def available_memory_bytes(meminfo: Path = Path("/proc/meminfo")) -> int:
    """MemAvailable from the kernel (what can be used without swapping)."""
    for line in meminfo.read_text(encoding="ascii").splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    raise ValueError(f"no MemAvailable line in {meminfo}")


_MAX_MODEL_LIST_BYTES = 4 << 20


def probe_remote(url: str, api_key: str = "", timeout: float = 5.0) -> list[str]:
    """Model ids an OpenAI-compatible engine serves (GET /v1/models); RemoteEngineError if unreachable.

    Like the remote client: proxy variables are ignored for an engine on loopback, the answer is read up
    to a cap, and the URL is shown without its credentials.
    """
    import httpx

    from omnidesk.runtime.remote_stream import read_capped
    from omnidesk.runtime.urls import api_endpoint, is_loopback_url, redact_url

    base = url.rstrip("/")
    endpoint = api_endpoint(base, "models")
    shown = redact_url(base)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        with (
            httpx.Client(timeout=timeout, trust_env=not is_loopback_url(base)) as client,
            client.stream("GET", endpoint, headers=headers) as response,
        ):
            status = response.status_code
            body = read_capped(response, _MAX_MODEL_LIST_BYTES) if status < 400 else b""
    except httpx.TimeoutException as exc:
        raise RemoteEngineError(f"{shown} did not answer within {timeout:.0f} s; is the engine running?") from exc
    except httpx.HTTPError as exc:
        raise RemoteEngineError(
            f"cannot reach {shown} ({type(exc).__name__}); check the URL and that the engine runs"
        ) from exc
    if status in (401, 403):
        raise RemoteEngineError(f"{shown} refused the API key (HTTP {status}); set model.remote_api_key")
    if status >= 400:
        raise RemoteEngineError(f"{shown} answered HTTP {status} to {redact_url(endpoint)}")
    try:
        data = json.loads(body).get("data", [])
        return [str(item.get("id", "?"))[:200] for item in data if isinstance(item, dict)]
    except (ValueError, RecursionError, AttributeError, TypeError) as exc:
        raise RemoteEngineError(f"{redact_url(endpoint)} did not answer with an OpenAI-style model list") from exc
