"""Model output → typed actions, one parser per output convention (all produce the same actions)."""

from __future__ import annotations

from omnidesk.agent.parsing.common import ModelConvention, OutputParser, Parsed

__all__ = ["ModelConvention", "OutputParser", "Parsed", "parser_for"]


def parser_for(name: str, convention: ModelConvention | None = None) -> OutputParser:
    """The parser for an output format: ``nemotron``, ``json``, ``qwen`` or ``uitars``.

    ``convention`` overrides the format's usual coordinate convention (e.g. ``qwen`` with
    ``image_pixels`` for Qwen2.5-VL and Holo, ``thousandths`` for Qwen3-VL and GUI-Owl).

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
    if name == "uitars":
        return UiTarsParser(convention or "image_pixels")
    raise ValueError(f"unknown output format {name!r}; use nemotron, json, qwen or uitars")
