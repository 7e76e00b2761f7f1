"""The pixels and tokens a screenshot becomes, per model family and engine — the table in docs/models.md.

Each row chains the two resizes a screenshot goes through: the family's format (``agent/formats/``: what
Omnidesk sends) and the engine's own preprocessor (what the vision encoder sees): vLLM's Nemotron tiler
(:func:`~omnidesk.agent.media_budget.vllm_image_grid`), the Hugging Face / vLLM Qwen processors
(``smart_resize`` with the processor's limits), and llama.cpp's libmtmd (:class:`~omnidesk.agent.canvas.ImageCanvas`
with its default token limits; the server and the in-process engine size alike). The documentation's table
is this module's output (``python -m omnidesk.runtime.llama.image_sizing``); a test keeps the two equal.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

from omnidesk.agent.canvas import ImageCanvas
from omnidesk.agent.formats import get_format
from omnidesk.agent.media_budget import fixed_canvas, vllm_image_grid
from omnidesk.agent.smart_resize import QWEN3_FACTOR, QWEN25_FACTOR, smart_resize
from omnidesk.runtime.llama.projector import QWEN_TOKEN_LIMITS

__all__ = ["SCREENS", "Seen", "SizingRow", "markdown", "rows"]

SCREENS = ((1920, 1080), (3840, 2160))
"""The screenshots the table shows: a full-HD and a 4K monitor."""

# Hugging Face preprocessor limits (preprocessor_config.json): Qwen2.5-VL and UI-TARS-1.5 (a Qwen2.5-VL)
# min_pixels 3136 / max_pixels 12845056; Qwen3-VL size.shortest_edge 65536 / longest_edge 16777216.
_HF_QWEN25 = (3136, 12845056)
_HF_QWEN3 = (65536, 16777216)


@dataclass(frozen=True, slots=True)
class Seen:
    """What the encoder gets: its image size, the screenshot's part of it (smaller when padded), tokens."""

    width: int
    height: int
    picture: tuple[int, int]
    tokens: int


@dataclass(frozen=True, slots=True)
class SizingRow:
    family: str
    output_format: str
    engine: str
    engine_sizes: Callable[[int, int], Seen]


def _vllm_nemotron(width: int, height: int) -> Seen:
    columns, rows = vllm_image_grid(width, height)
    return Seen(columns * 16, rows * 16, (columns * 16, rows * 16), rows * columns // 4)


def _hf_qwen(factor: int, limits: tuple[int, int]) -> Callable[[int, int], Seen]:
    def sizes(width: int, height: int) -> Seen:
        h, w = smart_resize(height, width, factor=factor, min_pixels=limits[0], max_pixels=limits[1])
        return Seen(w, h, (w, h), (w // factor) * (h // factor))

    return sizes


def _libmtmd(canvas: ImageCanvas) -> Callable[[int, int], Seen]:
    def sizes(width: int, height: int) -> Seen:
        view = canvas.view(width, height)
        return Seen(view.width, view.height, (view.content.width, view.content.height), view.tokens)

    return sizes


def _qwen_merger(projector: str, patch: int) -> ImageCanvas:
    low, high = QWEN_TOKEN_LIMITS
    area = (patch * 2) ** 2
    return ImageCanvas(projector, "dynamic", patch, 2, min_pixels=low * area, max_pixels=high * area)


def rows() -> list[SizingRow]:
    """Every (family, engine) pair Omnidesk documents."""
    qwen25_mtmd = _libmtmd(_qwen_merger("qwen2.5vl_merger", QWEN25_FACTOR // 2))
    return [
        SizingRow("Nemotron 3 Nano Omni", "nemotron", "vLLM (`nano_nemotron_vl`)", _vllm_nemotron),
        SizingRow("Nemotron 3 Nano Omni", "nemotron", "llama.cpp (`nemotron_v2_vl`)", _libmtmd(fixed_canvas(512))),
        SizingRow("Qwen2.5-VL", "qwen25", "vLLM / HF processor", _hf_qwen(QWEN25_FACTOR, _HF_QWEN25)),
        SizingRow("Qwen2.5-VL", "qwen25", "llama.cpp (`qwen2.5vl_merger`)", qwen25_mtmd),
        SizingRow("Qwen3-VL", "qwen3", "vLLM / HF processor", _hf_qwen(QWEN3_FACTOR, _HF_QWEN3)),
        SizingRow(
            "Qwen3-VL",
            "qwen3",
            "llama.cpp (`qwen3vl_merger`)",
            _libmtmd(_qwen_merger("qwen3vl_merger", QWEN3_FACTOR // 2)),
        ),
        SizingRow("UI-TARS-1.5", "uitars", "vLLM / HF processor", _hf_qwen(QWEN25_FACTOR, _HF_QWEN25)),
        SizingRow("UI-TARS-1.5", "uitars", "llama.cpp (`qwen2.5vl_merger`)", qwen25_mtmd),
    ]


def _cell(seen: Seen) -> str:
    size = f"{seen.width}×{seen.height}"
    if seen.picture != (seen.width, seen.height):
        size += f" (picture {seen.picture[0]}×{seen.picture[1]})"
    return f"{size}, {seen.tokens:,} tokens"


def markdown() -> str:
    """The table: per family and engine, what each of :data:`SCREENS` is sent as and what the encoder sees."""
    head = ["family", "engine"]
    for w, h in SCREENS:
        head += [f"{w}×{h} sent", f"{w}×{h} seen"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows():
        sizing = get_format(row.output_format).image_sizing
        cells = [row.family, row.engine]
        for w, h in SCREENS:
            sent = sizing.size_for(w, h)
            cells += [f"{sent[0]}×{sent[1]}", _cell(row.engine_sizes(*sent))]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(markdown())
