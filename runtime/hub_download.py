"""Resumable, cancellable file downloads with progress: what ``models pull`` and the first-run panel use.

huggingface_hub finds the file (its URL on the Hub or a mirror, size, ETag — the SHA-256 of an LFS file —,
commit and auth headers); the bytes are streamed here, into ``FILE.part`` beside the target, because
``hf_hub_download`` deletes its partial file when a download fails or is interrupted (a cancelled or killed
24 GB download would start over) and reports progress once per 10 MB chunk. A ``FILE.part`` left by a
cancel, a lost connection or a killed process is continued with an HTTP ``Range`` request, after checking
that the remote file is still the same one (ETag and size in ``FILE.part.json``). The finished file is
checked against the SHA-256 the Hub publishes before it takes its name.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omnidesk.agent.errors import ModelError, ModelFileError
from omnidesk.agent.ports import CancelToken

__all__ = [
    "DownloadProgress",
    "Progress",
    "RemoteFile",
    "SpeedMeter",
    "check_disk_space",
    "download_file",
    "partial_bytes",
]

log = logging.getLogger(__name__)

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
DiskFree = Callable[[Path], int]


@dataclass(frozen=True, slots=True)
class RemoteFile:
    """One file to fetch: where from, how big, and its SHA-256 when the Hub publishes one (LFS files)."""

    name: str
    url: str
    size: int
    etag: str = ""

    @property
    def sha256(self) -> str | None:
        tag = self.etag.strip('"').removeprefix("W/").strip('"').lower()
        return tag if _SHA256.match(tag) else None


@dataclass(frozen=True, slots=True)
class DownloadProgress:
    """Where a download of several files stands; ``bytes_per_second`` over the last few seconds."""

    filename: str
    file_done: int
    file_total: int
    done: int
    total: int
    bytes_per_second: float

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0

    @property
    def seconds_left(self) -> float | None:
        if self.bytes_per_second <= 0:
            return None
        return (self.total - self.done) / self.bytes_per_second


Progress = Callable[[DownloadProgress], None]


class SpeedMeter:
    """Bytes per second over a sliding window of recent samples (``clock`` is injectable for tests)."""

    def __init__(self, window: float = 3.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._window = window
        self._clock = clock
        self._samples: deque[tuple[float, int]] = deque()

    def add(self, total_bytes: int) -> float:
        """Record the running byte count; returns the current speed."""
        now = self._clock()
        self._samples.append((now, total_bytes))
        while len(self._samples) > 2 and now - self._samples[1][0] >= self._window:
            self._samples.popleft()
        (t0, b0), (t1, b1) = self._samples[0], self._samples[-1]
        return (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0


def partial_bytes(target: Path) -> int:
    """Bytes already downloaded for ``target`` (complete file or ``.part``)."""
    if target.is_file():
        return target.stat().st_size
    part = _part(target)
    return part.stat().st_size if part.is_file() else 0


def check_disk_space(folder: Path, needed: int, disk_free: DiskFree | None = None) -> None:
    """Raise a :class:`ModelError` saying how much to free when ``needed`` bytes do not fit in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    free = (disk_free or _disk_free)(folder)
    if needed > free:
        raise ModelError(
            f"not enough disk space: the download needs {_gib(needed)} more in {folder}, which has "
            f"{_gib(free)} free; free up space (the part already downloaded is kept) or set "
            "OMNIDESK_DATA_DIR to a bigger disk, then download again"
        )


def download_file(
    remote: RemoteFile,
    target: Path,
    *,
    headers: dict[str, str] | None = None,
    on_bytes: Callable[[int], None] | None = None,
    cancel: CancelToken | None = None,
    timeout: float = 30.0,
) -> str | None:
    """Fetch ``remote`` into ``target``, continuing a ``.part`` left before; returns its SHA-256.

    ``on_bytes(n)`` gets this file's byte count as it grows. Returns None when ``cancel`` fired (the part
    is kept for next time). Raises :class:`ModelError` on a network failure (part kept) and
    :class:`ModelFileError` when the finished file's checksum differs from the Hub's (part deleted).
    """
    import httpx

    if target.is_file() and target.stat().st_size == remote.size:
        return _hash_file(target)
    part, sidecar = _part(target), _sidecar(target)
    identity = {"url_etag": remote.etag, "size": remote.size}
    if (part.exists() and _read_json(sidecar) != identity) or (part.is_file() and part.stat().st_size > remote.size):
        log.info("the remote %s changed since the partial download: starting over", remote.name)
        part.unlink(missing_ok=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    sidecar.write_text(json.dumps(identity), encoding="utf-8")
    digest = hashlib.sha256()
    start = _hash_into(part, digest) if part.is_file() else 0
    if on_bytes is not None:
        on_bytes(start)
    if start < remote.size:
        request_headers = {**(headers or {}), "Accept-Encoding": "identity"}
        if start:
            request_headers["Range"] = f"bytes={start}-"
            log.info("resuming %s at byte %d of %d", remote.name, start, remote.size)
        try:
            streamed = _stream(
                remote,
                part,
                start,
                headers=request_headers,
                digest=digest,
                on_bytes=on_bytes,
                cancel=cancel,
                timeout=timeout,
            )
        except httpx.HTTPError as exc:
            if cancel is not None and cancel.cancelled:
                return None
            kept = part.stat().st_size if part.is_file() else 0
            raise ModelError(
                f"downloading {remote.name} failed ({type(exc).__name__}: {exc}); check the network and "
                f"download again — the {_gib(kept)} already downloaded are kept and the download continues "
                "from there"
            ) from exc
        if streamed is None:
            return None
        digest = streamed
    sha = digest.hexdigest()
    expected = remote.sha256
    if expected is not None and sha != expected:
        part.unlink(missing_ok=True)
        sidecar.unlink(missing_ok=True)
        raise ModelFileError(
            f"{remote.name} arrived corrupt (its SHA-256 differs from the one the Hub publishes); the damaged "
            "file was deleted — download it again"
        )
    part.replace(target)
    sidecar.unlink(missing_ok=True)
    return sha


def _stream(
    remote: RemoteFile,
    part: Path,
    start: int,
    *,
    headers: dict[str, str],
    digest: Any,
    on_bytes: Callable[[int], None] | None,
    cancel: CancelToken | None,
    timeout: float,
) -> Any:
    """Append the rest of the file to ``part``; returns the running digest, or None when cancelled."""
    import httpx

    with (
        httpx.Client(follow_redirects=True, timeout=timeout) as client,
        client.stream("GET", remote.url, headers=headers) as response,
    ):
        if cancel is not None:
            cancel.on_cancel(response.close)  # a stalled read ends at once
        if response.status_code == 416 and start == remote.size:
            return digest
        response.raise_for_status()
        if start and response.status_code != 206:  # the server ignored Range: start over
            log.info("the server does not resume downloads: fetching %s from the start", remote.name)
            start, digest = 0, hashlib.sha256()
        done = start
        with part.open("ab" if start else "wb") as fh:
            for chunk in response.iter_bytes():  # as it arrives: progress and cancel stay prompt
                if cancel is not None and cancel.cancelled:
                    return None
                fh.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if on_bytes is not None:
                    on_bytes(done)
        if cancel is not None and cancel.cancelled:
            return None
        if done != remote.size:
            raise httpx.ReadError(f"the connection ended after {done} of {remote.size} bytes")
    return digest


def _part(target: Path) -> Path:
    return target.with_name(target.name + ".part")


def _sidecar(target: Path) -> Path:
    return target.with_name(target.name + ".part.json")


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _hash_into(path: Path, digest: Any) -> int:
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(8 * 1024 * 1024):
            digest.update(chunk)
            size += len(chunk)
    return size


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    _hash_into(path, digest)
    return digest.hexdigest()


def _disk_free(folder: Path) -> int:
    return shutil.disk_usage(folder).free


def _gib(n: int) -> str:
    return f"{n / 2**30:.2f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB"
