"""Where the configured model's files are: a GGUF given by path or by name, and the mmproj beside it;
and the one way a chosen model becomes the configured one (``models pull``, the first-run panel).

Shared by the composition root (which opens them) and ``omnidesk doctor`` (which checks them).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from omnidesk.app.settings import ApiKeys, AppPaths, Settings, load_settings, save_settings

if TYPE_CHECKING:
    from omnidesk.runtime.hub_download import DownloadProgress

__all__ = [
    "configure_model",
    "describe_progress",
    "find_mmproj",
    "format_bytes",
    "format_duration",
    "is_model_path",
    "resolve_model_path",
]

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


def configure_model(paths: AppPaths, *, api_keys: ApiKeys | None = None, **model: object) -> Settings:
    """Save ``model.KEY = value`` pairs into the settings file and return the settings now in force.

    The file is edited without the ``OMNIDESK_*`` environment (so an override never lands in it); the
    returned settings include it again, as every command and the window read them. A new
    ``remote_api_key`` goes into ``api_keys`` (see :func:`save_settings`).
    """
    stored = load_settings(paths, environment=False)
    section = stored.model.model_copy(update=model)
    save_settings(
        stored.model_copy(update={"model": type(stored.model).model_validate(section.model_dump())}),
        paths,
        api_keys=api_keys,
    )
    log.info("model settings changed: %s", ", ".join(sorted(model)))
    return load_settings(paths)


def format_bytes(n: float) -> str:
    """``812.4 MiB``, ``24.50 GiB``: sizes as a person reads them."""
    if n >= 2**30:
        return f"{n / 2**30:.2f} GiB"
    if n >= 2**20:
        return f"{n / 2**20:.1f} MiB"
    return f"{n / 2**10:.0f} KiB"


def format_duration(seconds: float) -> str:
    """``about 40 s``, ``about 12 min``, ``about 2 h 5 min``."""
    if seconds < 90:
        return f"about {max(1, round(seconds))} s"
    minutes = round(seconds / 60)
    return f"about {minutes} min" if minutes < 120 else f"about {minutes // 60} h {minutes % 60} min"


def describe_progress(progress: DownloadProgress) -> str:
    """One line: file, bytes of the whole download, speed and time left."""
    line = (
        f"{progress.filename}: {format_bytes(progress.done)} of {format_bytes(progress.total)} "
        f"({progress.fraction:.0%})"
    )
    if progress.bytes_per_second > 0:
        line += f" · {format_bytes(progress.bytes_per_second)}/s"
    left = progress.seconds_left
    if left is not None and progress.done < progress.total:
        line += f" · {format_duration(left)} left"
    return line
