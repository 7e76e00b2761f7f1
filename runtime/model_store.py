"""Models in the data dir: download (Hugging Face Hub), list, verify, remove.

Each model lives in ``models/NAME/`` with its GGUF files under their published names and a manifest
(``omnidesk-model.json``: repo, revision, profile, quant, and each file's size and SHA-256) so ``verify``
can tell a damaged download from a good one without the network. A download goes into
``models/.NAME.partial/`` first and is continued from there after a cancel, a lost connection or a killed
process (:mod:`omnidesk.runtime.hub_download`); only a complete, checked download becomes ``models/NAME``.
Downloads use plain HTTP (the Xet protocol is turned off: it needs extra native code and a second endpoint,
and private mirrors rarely speak it).
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omnidesk.agent.errors import ConfigError, ModelError, ModelFileError
from omnidesk.agent.ports import CancelToken
from omnidesk.agent.private_files import private_dir, write_private
from omnidesk.runtime.hub_download import (
    DiskFree,
    DownloadProgress,
    Progress,
    RemoteFile,
    SpeedMeter,
    check_disk_space,
    download_file,
    partial_bytes,
)
from omnidesk.runtime.llama.validate import validate_model_files
from omnidesk.runtime.model_catalog import HubCatalog, ModelOffer
from omnidesk.runtime.profiles import ModelProfile

__all__ = ["MANIFEST", "Downloaded", "ModelStore", "StoredModel", "VerifyReport"]

log = logging.getLogger(__name__)

MANIFEST = "omnidesk-model.json"
_CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class StoredModel:
    name: str
    folder: Path
    model: Path | None
    mmproj: Path | None
    size_bytes: int
    manifest: dict[str, Any]

    @property
    def profile(self) -> str:
        return str(self.manifest.get("profile", ""))


@dataclass(frozen=True, slots=True)
class Downloaded:
    """Every file of an offer downloaded and checksummed in ``folder``, not yet checked as a model."""

    name: str
    offer: ModelOffer
    folder: Path


@dataclass(frozen=True, slots=True)
class VerifyReport:
    name: str
    ok: bool
    problems: tuple[str, ...]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _safe_name(name: str) -> str:
    if not name or "/" in name or "\\" in name or name in (".", "..") or name.startswith("."):
        raise ConfigError(f"invalid model name {name!r}; use letters, digits, dots and dashes")
    return name


class ModelStore:
    """The models folder; ``endpoint`` points at a Hub mirror (default: huggingface.co).

    ``disk_free(folder) -> bytes`` is injectable (tests); by default it asks the file system.
    """

    def __init__(
        self,
        root: Path,
        *,
        endpoint: str | None = None,
        token: str | None = None,
        disk_free: DiskFree | None = None,
    ) -> None:
        self.root = root
        self.catalog = HubCatalog(endpoint, token)
        self._disk_free = disk_free

    # --- listing -----------------------------------------------------------------------------------

    def _load(self, folder: Path) -> StoredModel:
        manifest: dict[str, Any] = {}
        try:
            manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            manifest = {}
        ggufs = sorted(folder.glob("*.gguf"))
        models = [p for p in ggufs if "mmproj" not in p.name.lower()]
        mmprojs = [p for p in ggufs if "mmproj" in p.name.lower()]
        size = sum(p.stat().st_size for p in ggufs)
        return StoredModel(
            folder.name, folder, models[0] if models else None, mmprojs[0] if mmprojs else None, size, manifest
        )

    def installed(self) -> list[StoredModel]:
        if not self.root.is_dir():
            return []
        return [self._load(p) for p in sorted(self.root.iterdir()) if p.is_dir() and not p.name.startswith(".")]

    def get(self, name: str) -> StoredModel:
        folder = self.root / _safe_name(name)
        if not folder.is_dir():
            known = ", ".join(m.name for m in self.installed()) or "none"
            raise ConfigError(f"no model named {name!r} in {self.root} (installed: {known})")
        return self._load(folder)

    def partial_bytes(self, offer: ModelOffer, name: str | None = None) -> int:
        """Bytes of ``offer`` already downloaded by an earlier, unfinished pull (what a resume skips)."""
        partial = self._partial(_safe_name(name or offer.default_name))
        return sum(partial_bytes(partial / f.name) for f in offer.files)

    # --- download ----------------------------------------------------------------------------------

    def pull(
        self,
        profile: ModelProfile,
        quant: str,
        *,
        name: str | None = None,
        progress: Progress | None = None,
        cancel: CancelToken | None = None,
    ) -> StoredModel | None:
        """Download the profile's model file for ``quant`` and its mmproj into ``models/NAME``."""
        return self.install(self.catalog.offer(profile, quant), name=name, progress=progress, cancel=cancel)

    def install(
        self,
        offer: ModelOffer,
        *,
        name: str | None = None,
        progress: Progress | None = None,
        cancel: CancelToken | None = None,
    ) -> StoredModel | None:
        """Download ``offer`` (continuing an unfinished download), check it, and make it ``models/NAME``.

        Returns None when ``cancel`` fired: what was downloaded stays for the next call. Raises
        :class:`ModelError` (network, disk space: the partial download is kept) or
        :class:`ModelFileError` (a corrupt file — deleted —, or the wrong architecture — all deleted).
        """
        downloaded = self.download(offer, name=name, progress=progress, cancel=cancel)
        return None if downloaded is None else self.finish(downloaded)

    def download(
        self,
        offer: ModelOffer,
        *,
        name: str | None = None,
        progress: Progress | None = None,
        cancel: CancelToken | None = None,
    ) -> Downloaded | None:
        """The download half of :meth:`install`: every file in ``models/.NAME.partial``, checksums checked."""
        name = _safe_name(name or offer.default_name)
        self._check_architecture(offer)
        revision: str | None = None
        pinned: list[RemoteFile] = []
        for remote in offer.files:
            resolved, commit = self.catalog.resolve(offer.repo, remote, revision)
            revision = commit or revision
            pinned.append(resolved)
        partial = self._partial(name)
        private_dir(partial)
        total = sum(f.size for f in pinned)
        check_disk_space(partial, total - sum(partial_bytes(partial / f.name) for f in pinned), self._disk_free)
        meter = SpeedMeter()
        entries = []
        finished = 0
        for remote in pinned:

            def on_bytes(n: int, remote: RemoteFile = remote, base: int = finished) -> None:
                if progress is not None:
                    done = base + n
                    progress(DownloadProgress(remote.name, n, remote.size, done, total, meter.add(done)))

            sha = download_file(
                remote, partial / remote.name, headers=self.catalog.headers(), on_bytes=on_bytes, cancel=cancel
            )
            if sha is None:
                kept = partial_bytes(partial / remote.name)
                log.info("download of %s cancelled; %d bytes kept for later", name, kept)
                return None
            entries.append({"file": remote.name, "size": remote.size, "sha256": sha})
            finished += remote.size
        manifest = {
            "name": name,
            "profile": offer.profile.name,
            "quant": offer.quant,
            "repo": offer.repo,
            "revision": revision or "",
            "files": entries,
        }
        write_private(partial / MANIFEST, json.dumps(manifest, indent=2).encode("utf-8"))
        return Downloaded(name, offer, partial)

    def finish(self, downloaded: Downloaded) -> StoredModel:
        """The checking half of :meth:`install`: GGUF headers, architecture and mmproj pairing; then the
        folder takes its name. Wrong files are deleted (resuming them would not help)."""
        try:
            self._check_downloaded(downloaded.folder, downloaded.offer.profile)
        except ModelError:
            shutil.rmtree(downloaded.folder, ignore_errors=True)
            raise
        folder = self.root / downloaded.name
        if folder.exists():
            shutil.rmtree(folder)
        downloaded.folder.rename(folder)
        log.info("pulled %s from %s into %s", downloaded.name, downloaded.offer.repo, folder)
        return self._load(folder)

    def _partial(self, name: str) -> Path:
        return self.root / f".{name}.partial"

    def _check_architecture(self, offer: ModelOffer) -> None:
        """Refuse a model of the wrong architecture from its remote header, before downloading it."""
        try:
            header = self.catalog.header(offer.model)
        except ModelError as exc:
            log.info("cannot read the remote header of %s before downloading (%s)", offer.model.name, exc)
            return
        if header.architecture not in offer.profile.architectures:
            raise ModelFileError(
                f"{offer.repo}/{offer.model.name} is a {header.architecture!r} model, but the profile "
                f"{offer.profile.name} runs {', '.join(offer.profile.architectures)}; pick another profile "
                "or repository — nothing was downloaded"
            )

    def _check_downloaded(self, folder: Path, profile: ModelProfile) -> None:
        stored = self._load(folder)
        if stored.model is None:
            raise ModelFileError(f"the download into {folder} holds no model GGUF")
        validate_model_files(stored.model, stored.mmproj, tuple(profile.architectures))

    # --- verify / remove ---------------------------------------------------------------------------

    def verify(self, name: str) -> VerifyReport:
        """Sizes and SHA-256 against the manifest, then the GGUF headers (architecture, truncation)."""
        stored = self.get(name)
        problems: list[str] = []
        files = stored.manifest.get("files")
        if not isinstance(files, list):
            problems.append(f"no {MANIFEST} (not pulled by omnidesk): only the GGUF headers were checked")
            files = []
        for entry in files:
            path = stored.folder / str(entry.get("file", ""))
            if not path.is_file():
                problems.append(f"{path.name} is missing")
            elif path.stat().st_size != entry.get("size"):
                problems.append(f"{path.name} has {path.stat().st_size} bytes, expected {entry.get('size')}")
            elif _sha256(path) != entry.get("sha256"):
                problems.append(f"{path.name} is corrupt (SHA-256 differs from the download)")
        if stored.model is None:
            problems.append("no model GGUF in the folder")
        else:
            try:
                from omnidesk.runtime.profiles import load_profile

                archs = tuple(load_profile(stored.profile).architectures) if stored.profile else ()
                validate_model_files(stored.model, stored.mmproj, archs or ("nemotron_h_moe",))
            except (ModelError, ConfigError) as exc:
                problems.append(str(exc))
        hard = [p for p in problems if not p.startswith("no " + MANIFEST)]
        return VerifyReport(name, not hard, tuple(problems))

    def remove(self, name: str) -> int:
        """Delete ``models/NAME``; returns the bytes freed."""
        stored = self.get(name)
        freed = sum(p.stat().st_size for p in stored.folder.rglob("*") if p.is_file())
        shutil.rmtree(stored.folder)
        return freed
