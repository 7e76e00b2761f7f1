"""Qwen-VL's ``smart_resize``: the image size a Qwen-family vision encoder works at, as its authors compute it.

Qwen2.5-VL (and UI-TARS-1.5, built on it) cut images into 28-pixel cells (patch 14 × merge 2), Qwen3-VL
into 32-pixel cells (patch 16 × merge 2). Their preprocessors resize every image to the nearest size whose
sides are multiples of that factor and whose area lies within ``[min_pixels, max_pixels]``; Qwen2.5-VL and
UI-TARS answer in pixels of *that* image, so Omnidesk must know it exactly (and hands the engine an image
already that size, so the engine's own resize is the identity).

This is the published algorithm, operation for operation, so that the floating-point results agree:
qwen-vl-utils 0.0.14 ``vision_process.smart_resize`` (QwenLM/Qwen3-VL, ``qwen-vl-utils/src/qwen_vl_utils/
vision_process.py`` at ``0dcc180d854f4b132f8059b10bbf0b5fd5dae9ed``) and ui-tars 0.1.4
``action_parser.smart_resize`` (bytedance/UI-TARS, ``codes/ui_tars/action_parser.py`` at
``d9dedaf620a2f5776b26f944268f180ef08c6b82``), which are the same function with different defaults:

1. each side rounded to the nearest multiple of ``factor`` with Python's ``round`` (half to even: 22.5 → 22),
   at least ``factor``;
2. above ``max_pixels``: both sides scaled by ``sqrt(h·w / max_pixels)`` of the *original* size and
   floored to the factor; below ``min_pixels``: scaled by ``sqrt(min_pixels / (h·w))`` and ceiled.

Where the references would return a side of 0 (an image thinner than the limits allow) this raises instead:
an empty image cannot be sent. Tests check the function against both packages as oracles.
"""

from __future__ import annotations

import math

from omnidesk.agent.errors import ConfigError, ModelCapabilityError

__all__ = [
    "COOKBOOK_MAX_PIXELS",
    "COOKBOOK_MIN_PIXELS",
    "MAX_RATIO",
    "QWEN3_FACTOR",
    "QWEN25_FACTOR",
    "UITARS_MAX_PIXELS",
    "UITARS_MIN_PIXELS",
    "smart_resize",
]

QWEN25_FACTOR = 28
"""Qwen2.5-VL and UI-TARS-1.5: patch 14 × spatial merge 2."""
QWEN3_FACTOR = 32
"""Qwen3-VL: patch 16 × spatial merge 2."""
COOKBOOK_MIN_PIXELS = 3136
"""``min_pixels`` of both Qwen computer-use cookbooks (56²)."""
COOKBOOK_MAX_PIXELS = 12845056
"""``max_pixels`` of both Qwen computer-use cookbooks (16384 · 28²)."""
UITARS_MIN_PIXELS = 100 * 28 * 28
"""UI-TARS's ``MIN_PIXELS`` (``codes/ui_tars/action_parser.py``)."""
UITARS_MAX_PIXELS = 16384 * 28 * 28
"""UI-TARS's ``MAX_PIXELS``."""
MAX_RATIO = 200
"""The widest aspect ratio the encoders take (either way round)."""


def smart_resize(height: int, width: int, *, factor: int, min_pixels: int, max_pixels: int) -> tuple[int, int]:
    """The ``(height, width)`` a Qwen-family preprocessor resizes a ``height × width`` image to.

    Height first, as in the references, so calls read the same as theirs.

    Raises:
        ValueError: a side below 1 pixel (a caller's bug, not an input a user can make).
        ConfigError: ``factor`` below 1, or ``min_pixels`` above ``max_pixels`` (a profile's sizing).
        ModelCapabilityError: the image is wider or taller than 200:1, or so thin that a side would be
            empty — the model cannot take it; capture a single monitor instead of a strip.
    """
    if height < 1 or width < 1:
        raise ValueError(f"an image needs at least one pixel each way, got {width}x{height}")
    if factor < 1:
        raise ConfigError(f"the image sizing factor must be a positive integer, got {factor}")
    if min_pixels > max_pixels:
        raise ConfigError(
            f"the image sizing's min_pixels ({min_pixels}) is above its max_pixels ({max_pixels}); "
            "fix the model profile's image sizing"
        )
    ratio = max(height, width) / min(height, width)
    if ratio > MAX_RATIO:
        raise ModelCapabilityError(
            f"a {width}x{height} image has an aspect ratio of {ratio:.1f}, and Qwen-family models take at most "
            f"{MAX_RATIO}:1; capture a single monitor"
        )
    h_bar = max(factor, round(height / factor) * factor)
    w_bar = max(factor, round(width / factor) * factor)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = math.floor(height / beta / factor) * factor
        w_bar = math.floor(width / beta / factor) * factor
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    if h_bar < 1 or w_bar < 1:
        raise ModelCapabilityError(
            f"a {width}x{height} image is too thin to fit {max_pixels} pixels in {factor}-pixel cells "
            "(a side would be empty); capture a single monitor"
        )
    return h_bar, w_bar
