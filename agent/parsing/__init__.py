"""Model output → typed actions, one parser per output convention (all produce the same actions)."""

from __future__ import annotations

from omnidesk.agent.parsing.common import ModelConvention, OutputParser, Parsed

__all__ = ["FORMATS", "ModelConvention", "OutputParser", "Parsed", "parser_for"]


FORMATS = ("nemotron", "qwen2.5", "qwen3", "qwen", "uitars", "json")
"""Every output format :func:`parser_for` knows."""


def parser_for(name: str, convention: ModelConvention | None = None) -> OutputParser:
    """The parser for an output format (see :data:`FORMATS`).

    ``nemotron`` (Nemotron 3 Nano Omni's ``## Action:`` / ``## Code:``), ``qwen2.5`` and ``qwen3`` (each
    version's ``computer_use`` actions; pixels of the smart-resized screenshot / 0–1000), ``uitars``
    (UI-TARS-1.5, pixels of the smart-resized screenshot), ``json`` (Omnidesk's grammar-constrained
    format), and ``qwen`` (either Qwen version's actions — for other models that borrow the tool, such as
    Holo or GUI-Owl). ``convention`` overrides the format's usual coordinate convention.

    Raises:
        ValueError: unknown format, or a convention the format cannot express.
    """
    from omnidesk.agent.parsing.json_format import JsonParser
    from omnidesk.agent.parsing.nemotron import NemotronParser
    from omnidesk.agent.parsing.qwen import QwenParser
    from omnidesk.agent.parsing.uitars import UiTarsParser

    if name == "nemotron":
        if convention not in {None, "fraction"}:
            raise ValueError("the Nemotron format uses fractions")
        return NemotronParser()
    if name == "json":
        return JsonParser(convention or "fraction")
    if name == "qwen":
        return QwenParser(convention or "thousandths")
    if name == "qwen2.5":
        return QwenParser(convention or "image_pixels", version="2.5")
    if name == "qwen3":
        return QwenParser(convention or "thousandths", version="3")
    if name == "uitars":
        return UiTarsParser(convention or "image_pixels")
    raise ValueError(f"unknown output format {name!r}; use one of {', '.join(FORMATS)}")
