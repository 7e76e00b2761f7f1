"""Where the configured model's files are: a GGUF given by path or by name, and the mmproj beside it.

Shared by the composition root (which opens them) and ``omnidesk doctor`` (which checks them).
"""

from __future__ import annotations

import logging
from pathlib import Path

from omnidesk.app.settings import AppPaths, Settings

__all__ = ["find_mmproj", "is_model_path", "resolve_model_path"]

log = logging.getLogger(__name__)


def is_model_path(name: str) -> bool:
    """Whether a ``--model`` value names a file (``.gguf``, absolute, or existing) rather than a NAME."""
    candidate = Path(name).expanduser()
    return candidate.suffix == ".gguf" or candidate.is_absolute() or candidate.exists()


def resolve_model_path(settings: Settings, paths: AppPaths) -> Path | None:
    """The configured GGUF: a path as given, or a NAME looked up in the data dir's models folder."""
    name = settings.model.model
    if not name:
        return None
    candidate = Path(name).expanduser()
    if is_model_path(name):
        return candidate
    folder = paths.models_dir / name
    ggufs = sorted(p for p in folder.glob("*.gguf") if "mmproj" not in p.name.lower()) if folder.is_dir() else []
    return ggufs[0] if ggufs else folder


def find_mmproj(model: Path) -> Path | None:
    """An ``mmproj*.gguf`` next to the model file (how ``models pull`` and most repos lay them out)."""
    candidates = sorted(model.parent.glob("mmproj*.gguf")) if model.parent.is_dir() else []
    return candidates[0] if candidates else None
