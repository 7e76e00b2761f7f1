"""An mmproj's image sizing rule, read from its GGUF header, and what libmtmd needs to apply it.

The rule itself (:class:`~omnidesk.agent.canvas.ImageCanvas`) is what llama.cpp's ``tools/mtmd/clip.cpp``
derives from the same keys: ``nemotron_v2_vl`` resizes onto a fixed ``clip.vision.image_size`` canvas;
the Qwen mergers smart-resize to multiples of patch × merge between 8 and 4096 tokens. For Qwen,
``clip.vision.image_size`` is a placeholder (560 / 768) that nothing sizes by.

Newer llama.cpp builds (the server the tests run, b11549) also honour the optional
``clip.vision.image_min_pixels`` / ``image_max_pixels`` keys of a Qwen mmproj; the build bundled with
llama-cpp-python 0.3.36 ignores them. :func:`mtmd_token_limits` turns the keys into libmtmd's
``image_min_tokens`` / ``image_max_tokens`` so the in-process engine sizes such images as the server does.
"""

from __future__ import annotations

import logging

from omnidesk.agent.canvas import ImageCanvas
from omnidesk.runtime.llama.gguf_file import GGUFFile

__all__ = ["DYNAMIC_PROJECTORS", "QWEN_TOKEN_LIMITS", "image_canvas", "mtmd_token_limits"]

log = logging.getLogger(__name__)

DYNAMIC_PROJECTORS = ("qwen2vl_merger", "qwen2.5vl_merger", "qwen3vl_merger")
_FIXED_PROJECTORS = ("nemotron_v2_vl",)
# libmtmd's own limits for the Qwen mergers (clip.cpp: set_limit_image_tokens(8, 4096)).
_QWEN_MIN_TOKENS, _QWEN_MAX_TOKENS = 8, 4096
QWEN_TOKEN_LIMITS = (_QWEN_MIN_TOKENS, _QWEN_MAX_TOKENS)
"""libmtmd's default image token limits for the Qwen mergers (``--image-min-tokens`` / ``--image-max-tokens``)."""


def _projector(header: GGUFFile) -> str | None:
    return header.get_str("clip.vision.projector_type") or header.get_str("clip.projector_type")


def _merge(header: GGUFFile, projector: str) -> int:
    if projector in _FIXED_PROJECTORS:
        return header.get_int("clip.vision.projector.scale_factor") or 1
    return header.get_int("clip.vision.spatial_merge_size") or 2


def image_canvas(
    header: GGUFFile, *, min_tokens: int | None = None, max_tokens: int | None = None
) -> ImageCanvas | None:
    """The sizing rule of a vision mmproj (``None``: no vision, or a projector Omnidesk does not model).

    ``min_tokens``/``max_tokens`` are the engine's own overrides (llama-server's ``--image-min-tokens``),
    which take precedence over the file's keys as in llama.cpp.
    """
    if header.get_bool("clip.has_vision_encoder") is False:
        return None
    projector = _projector(header)
    patch = header.get_int("clip.vision.patch_size") or 0
    if projector is None or patch <= 0:
        return None
    merge = _merge(header, projector)
    if projector in _FIXED_PROJECTORS:
        side = header.get_int("clip.vision.image_size") or 0
        return ImageCanvas(projector, "fixed", patch, merge, side=side) if side > 0 else None
    if projector not in DYNAMIC_PROJECTORS:
        return None
    area = (patch * merge) ** 2
    min_pixels = (min_tokens or _QWEN_MIN_TOKENS) * area
    max_pixels = (max_tokens or _QWEN_MAX_TOKENS) * area
    if not min_tokens:
        min_pixels = header.get_int("clip.vision.image_min_pixels") or min_pixels
    if not max_tokens:
        max_pixels = header.get_int("clip.vision.image_max_pixels") or max_pixels
    return ImageCanvas(projector, "dynamic", patch, merge, min_pixels=min_pixels, max_pixels=max_pixels)


def mtmd_token_limits(header: GGUFFile) -> tuple[int, int]:
    """``(image_min_tokens, image_max_tokens)`` for ``mtmd_context_params`` (-1: libmtmd's default).

    Non-zero only for a Qwen mmproj that carries the optional pixel keys; a key that is not a whole
    number of tokens cannot be passed exactly and is rounded (with a warning).
    """
    canvas = image_canvas(header)
    if canvas is None or canvas.kind != "dynamic":
        return -1, -1
    area = canvas.factor**2
    limits = []
    for key in ("clip.vision.image_min_pixels", "clip.vision.image_max_pixels"):
        pixels = header.get_int(key)
        if not pixels:
            limits.append(-1)
            continue
        tokens = max(1, round(pixels / area))
        if tokens * area != pixels:
            log.warning(
                "%s = %d is not a whole number of %dx%d-pixel tokens; using %d tokens (images may be sized "
                "slightly differently from llama.cpp's server)",
                key,
                pixels,
                canvas.factor,
                canvas.factor,
                tokens,
            )
        limits.append(tokens)
    return limits[0], limits[1]
