"""The one composition root: builds the runtime adapters from settings and hands them to the agent.

Nothing else in Omnidesk constructs adapters; tests build their own graphs from fakes instead.
"""

from __future__ import annotations

import logging
from pathlib import Path

from omnidesk.app.doctor import Check
from omnidesk.app.settings import AppPaths, Settings

__all__ = ["model_checks", "resolve_model_path"]

log = logging.getLogger(__name__)


# --- model -----------------------------------------------------------------------------------------


def resolve_model_path(settings: Settings, paths: AppPaths) -> Path | None:
    """The configured GGUF: a path as given, or a NAME looked up in the data dir's models folder."""
    name = settings.model.model
    if not name:
        return None
    candidate = Path(name).expanduser()
    if candidate.suffix == ".gguf" or candidate.is_absolute() or candidate.exists():
        return candidate
    folder = paths.models_dir / name
    ggufs = sorted(p for p in folder.glob("*.gguf") if "mmproj" not in p.name.lower()) if folder.is_dir() else []
    return ggufs[0] if ggufs else folder


def model_checks(settings: Settings, paths: AppPaths) -> list[Check]:
    """Doctor lines for the configured model: files present and valid, and whether it fits."""
    if settings.model.remote_url:
        return [Check("model", True, f"remote engine {settings.model.remote_url} (reachability not probed)")]
    model = resolve_model_path(settings, paths)
    if model is None:
        return [
            Check(
                "model",
                False,
                "no model configured",
                "run `omnidesk models pull` or `omnidesk config set model.model /path/to/model.gguf`",
            )
        ]
    if not model.is_file():
        return [Check("model", False, f"model file not found: {model}", "check model.model or pull the model")]
    return [Check("model", True, f"{model} ({model.stat().st_size / 2**30:.2f} GiB)")]
