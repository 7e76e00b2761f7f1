"""Stand-ins for the Qwen2.5-VL, Qwen3-VL and UI-TARS-1.5 formats until their modules land.

They keep what Omnidesk sent these models before (its own prompts in ``assets/prompts``, the append-only
layout of :mod:`omnidesk.agent.formats.json_format`) but already size screenshots the way the models were
trained (smart_resize, whole screen). Each is replaced by a module of its own written from the family's
published format (``qwen25``, ``qwen3``, ``uitars``); nothing else refers to this module.
"""

from __future__ import annotations

from omnidesk.agent.formats.base import FormatSettings, ImageSizing
from omnidesk.agent.formats.json_format import OmnideskLayout, load_prompt
from omnidesk.agent.parsing import ModelConvention, OutputParser, parser_for
from omnidesk.agent.smart_resize import (
    COOKBOOK_MAX_PIXELS,
    COOKBOOK_MIN_PIXELS,
    QWEN3_FACTOR,
    QWEN25_FACTOR,
    UITARS_MAX_PIXELS,
    UITARS_MIN_PIXELS,
)

__all__ = ["InterimTextFormat", "interim_formats"]


class InterimTextFormat:
    """Omnidesk's text prompt for a family whose trained format module is still to come."""

    detail_crops = False

    def __init__(
        self, name: str, prompt: str, parser: str, convention: ModelConvention, image_sizing: ImageSizing
    ) -> None:
        self.name = name
        self.image_sizing = image_sizing
        self._prompt = prompt
        self._convention = convention
        self.parser: OutputParser = parser_for(parser, convention)

    def defaults(self, *, slow_decoding: bool) -> FormatSettings:
        return FormatSettings(thinking=False, max_tokens=1024)

    def conversation(self, task: str, settings: FormatSettings) -> OmnideskLayout:
        return OmnideskLayout(load_prompt(self._prompt, convention=self._convention), task, settings, self.parser)


def interim_formats() -> dict[str, InterimTextFormat]:
    """The stand-ins by ``output_format`` name."""
    return {
        "qwen25": InterimTextFormat(
            "qwen25",
            "qwen_computer_use",
            "qwen",
            "image_pixels",
            ImageSizing.smart(factor=QWEN25_FACTOR, min_pixels=COOKBOOK_MIN_PIXELS, max_pixels=COOKBOOK_MAX_PIXELS),
        ),
        "qwen3": InterimTextFormat(
            "qwen3",
            "qwen_computer_use",
            "qwen",
            "thousandths",
            ImageSizing.smart(factor=QWEN3_FACTOR, min_pixels=COOKBOOK_MIN_PIXELS, max_pixels=COOKBOOK_MAX_PIXELS),
        ),
        "uitars": InterimTextFormat(
            "uitars",
            "uitars",
            "uitars",
            "image_pixels",
            ImageSizing.smart(factor=QWEN25_FACTOR, min_pixels=UITARS_MIN_PIXELS, max_pixels=UITARS_MAX_PIXELS),
        ),
    }
