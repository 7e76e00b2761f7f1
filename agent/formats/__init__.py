"""One module per model family's trained format (prompt, request layout, image sizing, parser), chosen in
one place — :func:`get_format` with the profile's ``output_format`` (``app/compose.py``).

The interface is in :mod:`omnidesk.agent.formats.base`; ``docs/models.md`` describes each format and its
sources. To add a family: write ``agent/formats/<family>.py`` with a class implementing
:class:`~omnidesk.agent.formats.base.ModelFormat`, add it to :func:`_factories`, and name it in the
family's profile (``output_format = "<name>"``).
"""

from __future__ import annotations

from collections.abc import Callable

from omnidesk.agent.errors import ConfigError
from omnidesk.agent.formats.base import (
    Conversation,
    FinishedStep,
    FormatSettings,
    ImageSizing,
    ModelFormat,
    overview_of,
    resolve_settings,
)
from omnidesk.agent.parsing import ModelConvention

__all__ = [
    "Conversation",
    "FinishedStep",
    "FormatSettings",
    "ImageSizing",
    "ModelFormat",
    "format_names",
    "get_format",
    "overview_of",
    "resolve_settings",
]


def _factories() -> dict[str, Callable[[ModelConvention], ModelFormat]]:
    from omnidesk.agent.formats.json_format import JsonFormat
    from omnidesk.agent.formats.nemotron import NemotronFormat
    from omnidesk.agent.formats.qwen import QwenFormat
    from omnidesk.agent.formats.uitars import UiTarsFormat

    return {
        "nemotron": lambda _convention: NemotronFormat(),
        "qwen25": lambda _convention: QwenFormat("2.5"),
        "qwen3": lambda _convention: QwenFormat("3"),
        "uitars": lambda _convention: UiTarsFormat(),
        "json": JsonFormat,
    }


def format_names() -> list[str]:
    """Every ``output_format`` a profile may name."""
    return sorted(_factories())


def get_format(name: str, convention: ModelConvention = "fraction") -> ModelFormat:
    """The format module called ``name``; ``convention`` matters only to Omnidesk's own ``json`` format.

    Raises:
        ConfigError: no such format.
    """
    factories = _factories()
    if name not in factories:
        known = ", ".join(sorted(factories))
        raise ConfigError(f"unknown output format {name!r}; a profile's output_format is one of {known}")
    return factories[name](convention)
