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
    from omnidesk.agent.formats.interim import interim_formats
    from omnidesk.agent.formats.json_format import JsonFormat
    from omnidesk.agent.formats.nemotron import NemotronFormat

    def fixed(fmt: ModelFormat) -> Callable[[ModelConvention], ModelFormat]:
        return lambda _convention: fmt

    factories = {name: fixed(fmt) for name, fmt in interim_formats().items()}
    factories["nemotron"] = lambda _convention: NemotronFormat()
    factories["json"] = JsonFormat
    return factories


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
