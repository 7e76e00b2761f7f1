"""What the Hub (or a mirror) offers for a profile: per quantisation the model file, its mmproj and their
sizes — and their GGUF headers, read over HTTP ranges (a few MB of a 24 GB file), so that doctor's fit
check and step estimate can judge a choice before anything is downloaded.
"""

from __future__ import annotations

import fnmatch
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omnidesk.agent.errors import ConfigError, ModelError, ModelFileError
from omnidesk.runtime.hub_download import RemoteFile
from omnidesk.runtime.llama.gguf_file import GGUFFile, read_gguf_stream
from omnidesk.runtime.profiles import ModelProfile

__all__ = ["HubCatalog", "ModelOffer"]

log = logging.getLogger(__name__)

_FIRST_READ = 256 * 1024  # doubled while the header runs on: 6 requests for an 8 MB header
_MAX_HEADER = 256 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ModelOffer:
    """One downloadable choice: a profile at a quantisation, with the files it takes."""

    profile: ModelProfile
    quant: str
    repo: str
    model: RemoteFile
    mmproj: RemoteFile | None

    @property
    def files(self) -> tuple[RemoteFile, ...]:
        return (self.model,) if self.mmproj is None else (self.model, self.mmproj)

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def default_name(self) -> str:
        return f"{self.profile.name}-{self.quant}"


class HubCatalog:
    """Lists a profile's downloads on ``endpoint`` (default huggingface.co) and reads their headers."""

    def __init__(self, endpoint: str | None = None, token: str | None = None, *, timeout: float = 30.0) -> None:
        self.endpoint = endpoint or None
        self._token = token or None
        self._timeout = timeout

    @property
    def where(self) -> str:
        return self.endpoint or "huggingface.co"

    def _hub(self) -> Any:
        import huggingface_hub
        from huggingface_hub import constants

        constants.HF_HUB_DISABLE_XET = True  # plain HTTP downloads (see runtime/model_store.py)
        return huggingface_hub

    def headers(self) -> dict[str, str]:
        """HTTP headers for the Hub (user agent, the token when one is set)."""
        return dict(self._hub().utils.build_hf_headers(token=self._token or False))

    def repo_files(self, repo: str) -> dict[str, int]:
        """``{path: size}`` of a repo's files; :class:`ModelError` saying what to check when unreachable.

        One ``model_info`` request (no retries with back-off: the person is waiting and can try again).
        """
        hub = self._hub()
        try:
            api = hub.HfApi(endpoint=self.endpoint, token=self._token or False)
            info = api.model_info(repo, files_metadata=True, timeout=self._timeout)
            return {sibling.rfilename: int(sibling.size or 0) for sibling in info.siblings or []}
        except Exception as exc:
            raise ModelError(
                f"cannot list {repo} on {self.where}: {exc}; check the network, the repo name, the mirror "
                "(model.hub_endpoint), and (for gated models) your token"
            ) from exc

    def offers(self, profile: ModelProfile) -> list[ModelOffer]:
        """One offer per quantisation the profile names that the repo has (in the profile's order)."""
        spec = profile.download
        if spec is None:
            return []
        files = self.repo_files(spec.repo)
        found = []
        for quant in spec.quants:
            try:
                found.append(self._offer(profile, quant, files))
            except ModelError as exc:
                log.info("%s: %s", profile.name, exc)
        return found

    def offer(self, profile: ModelProfile, quant: str) -> ModelOffer:
        """The files of ``profile`` at ``quant``; the error lists the GGUFs there are."""
        spec = profile.download
        if spec is None:
            raise ConfigError(f"profile {profile.name!r} has no download source; download the GGUF yourself")
        return self._offer(profile, quant, self.repo_files(spec.repo))

    def _offer(self, profile: ModelProfile, quant: str, files: dict[str, int]) -> ModelOffer:
        spec = profile.download
        assert spec is not None
        model_glob = spec.model_pattern.format(quant=quant)
        wanted = sorted(f for f in files if fnmatch.fnmatch(f, model_glob) and "mmproj" not in f.lower())
        if not wanted:
            raise ModelError(
                f"{spec.repo} has no file matching {model_glob!r} (quant {quant}); available GGUFs: "
                + ", ".join(f for f in sorted(files) if f.endswith(".gguf"))
            )
        mmproj = None
        if spec.mmproj_pattern:
            mmprojs = sorted(f for f in files if fnmatch.fnmatch(f, spec.mmproj_pattern))
            if mmprojs:
                mmproj = self._remote(spec.repo, mmprojs[0], files[mmprojs[0]])
        return ModelOffer(profile, quant, spec.repo, self._remote(spec.repo, wanted[0], files[wanted[0]]), mmproj)

    def _remote(self, repo: str, filename: str, size: int, revision: str | None = None, etag: str = "") -> RemoteFile:
        url = self._hub().hf_hub_url(repo, filename, revision=revision, endpoint=self.endpoint)
        return RemoteFile(filename, url, size, etag)

    def resolve(self, repo: str, remote: RemoteFile, revision: str | None) -> tuple[RemoteFile, str]:
        """The file pinned to a commit, with its size and ETag (SHA-256) from the Hub; and that commit."""
        hub = self._hub()
        url = hub.hf_hub_url(repo, remote.name, revision=revision, endpoint=self.endpoint)
        try:
            meta = hub.get_hf_file_metadata(url, token=self._token or False, endpoint=self.endpoint)
        except Exception as exc:
            raise ModelError(
                f"cannot reach {remote.name} in {repo} on {self.where}: {exc}; check the network and download again"
            ) from exc
        commit = meta.commit_hash or revision or ""
        pinned = self._remote(repo, remote.name, int(meta.size or remote.size), commit or None, meta.etag or "")
        return pinned, commit

    def header(self, remote: RemoteFile) -> GGUFFile:
        """The GGUF header of a remote file, fetched by HTTP ranges (only the bytes the header needs)."""
        import httpx

        try:
            with httpx.Client(follow_redirects=True, timeout=self._timeout, headers=self.headers()) as client:
                reader = _RangedFile(client, remote)
                return read_gguf_stream(reader, Path(remote.name), remote.size)
        except httpx.HTTPError as exc:
            raise ModelError(f"cannot read the header of {remote.name} on {self.where}: {exc}") from exc


class _RangedFile:
    """A read-only, forward-reading view of a remote file that fetches what is read in growing ranges."""

    def __init__(self, client: Any, remote: RemoteFile) -> None:
        self._client = client
        self._remote = remote
        self._buffer = bytearray()
        self._pos = 0
        self._step = _FIRST_READ

    def read(self, n: int) -> bytes:
        end = min(self._pos + n, self._remote.size)
        if end > _MAX_HEADER:
            raise ModelFileError(f"{self._remote.name} has a header over {_MAX_HEADER // 2**20} MiB: not a model GGUF")
        if len(self._buffer) < end:
            self._fetch(min(max(end, len(self._buffer) + self._step), _MAX_HEADER, self._remote.size))
            self._step *= 2
        data = bytes(self._buffer[self._pos : end])
        self._pos = end
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        self._pos = offset if whence == 0 else self._pos + offset
        return self._pos

    def _fetch(self, end: int) -> None:
        start = len(self._buffer)
        headers = {"Range": f"bytes={start}-{end - 1}", "Accept-Encoding": "identity"}
        with self._client.stream("GET", self._remote.url, headers=headers) as response:
            response.raise_for_status()
            whole = response.status_code == 200 and start == 0 and end == self._remote.size
            if response.status_code != 206 and not whole:
                raise ModelError(
                    f"{self._remote.name}: the server does not send parts of files, so its header cannot be "
                    "read before downloading; choose the quantisation yourself"
                )
            body = response.read()
        self._buffer += body[: end - start]
        if len(body) < end - start:
            raise ModelFileError(f"{self._remote.name} ended early on the server; try again later")
