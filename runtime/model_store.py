"""Models in the data dir: download (Hugging Face Hub), list, verify, remove.

Each model lives in ``models/NAME/`` with its GGUF files under their published names and a manifest
(``omnidesk-model.json``: repo, revision, profile, quant, and each file's size and SHA-256) so ``verify``
can tell a damaged download from a good one without the network. Downloads use plain HTTP (the Xet
protocol is turned off: it needs extra native code and a second endpoint, and private mirrors rarely
speak it).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omnidesk.agent.errors import ConfigError, ModelError, ModelFileError
from omnidesk.agent.private_files import private_dir, write_private
from omnidesk.runtime.llama.validate import validate_model_files
from omnidesk.runtime.profiles import ModelProfile

__all__ = ["MANIFEST", "ModelStore", "StoredModel", "VerifyReport"]

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
    """The models folder; ``endpoint`` points at a Hub mirror (default: huggingface.co)."""

    def __init__(self, root: Path, *, endpoint: str | None = None, token: str | None = None) -> None:
        self.root = root
        self._endpoint = endpoint
        self._token = token

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

    # --- download ----------------------------------------------------------------------------------

    def pull(self, profile: ModelProfile, quant: str, *, name: str | None = None) -> StoredModel:
        """Download the profile's model file for ``quant`` and its mmproj into ``models/NAME``."""
        spec = profile.download
        if spec is None:
            raise ConfigError(f"profile {profile.name!r} has no download source; download the GGUF yourself")
        name = _safe_name(name or f"{profile.name}-{quant}")
        files = self._remote_files(spec.repo)
        model_glob = spec.model_pattern.format(quant=quant)
        wanted = [f for f in files if fnmatch.fnmatch(f, model_glob) and "mmproj" not in f.lower()]
        if not wanted:
            raise ModelError(
                f"{spec.repo} has no file matching {model_glob!r} (quant {quant}); available GGUFs: "
                + ", ".join(f for f in files if f.endswith(".gguf"))
            )
        chosen = [sorted(wanted)[0]]
        if spec.mmproj_pattern:
            mmprojs = sorted(f for f in files if fnmatch.fnmatch(f, spec.mmproj_pattern))
            chosen += mmprojs[:1]
        folder = self.root / name
        partial = self.root / f".{name}.partial"
        private_dir(partial)
        revision, entries = self._download(spec.repo, chosen, partial)
        manifest = {
            "name": name,
            "profile": profile.name,
            "quant": quant,
            "repo": spec.repo,
            "revision": revision,
            "files": entries,
        }
        write_private(partial / MANIFEST, json.dumps(manifest, indent=2).encode("utf-8"))
        try:
            self._check_downloaded(partial, profile)
        except ModelError:
            shutil.rmtree(partial, ignore_errors=True)  # the wrong files: do not resume from them
            raise
        if folder.exists():
            shutil.rmtree(folder)
        partial.rename(folder)
        log.info("pulled %s from %s into %s", name, spec.repo, folder)
        return self._load(folder)

    def _hub(self) -> Any:
        import huggingface_hub
        from huggingface_hub import constants

        constants.HF_HUB_DISABLE_XET = True  # plain HTTP downloads (see module docstring)
        return huggingface_hub

    def _remote_files(self, repo: str) -> list[str]:
        hub = self._hub()
        try:
            api = hub.HfApi(endpoint=self._endpoint, token=self._token)
            return sorted(api.list_repo_files(repo))
        except Exception as exc:
            raise ModelError(
                f"cannot list {repo} on {self._endpoint or 'huggingface.co'}: {exc}; check the network, "
                "the repo name, and (for gated models) your token"
            ) from exc

    def _download(self, repo: str, files: list[str], dest: Path) -> tuple[str, list[dict[str, Any]]]:
        hub = self._hub()
        entries = []
        revision = ""
        for filename in files:
            try:
                meta = hub.get_hf_file_metadata(
                    hub.hf_hub_url(repo, filename, endpoint=self._endpoint), token=self._token
                )
                revision = meta.commit_hash or revision
                path = Path(
                    hub.hf_hub_download(
                        repo,
                        filename,
                        local_dir=dest,
                        endpoint=self._endpoint,
                        token=self._token,
                        revision=revision or None,
                    )
                )
            except Exception as exc:
                raise ModelError(
                    f"downloading {filename} from {repo} failed: {exc}; run `omnidesk models pull` again "
                    "(finished files are kept)"
                ) from exc
            entries.append({"file": filename, "size": path.stat().st_size, "sha256": _sha256(path)})
        return revision, entries

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
