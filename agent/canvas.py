"""How an engine's vision preprocessor sizes an image it is sent: the canvas the encoder really sees.

llama.cpp's libmtmd resizes every image itself before encoding it, by a rule that depends on the projector
(read from its mmproj):

* ``fixed`` (``nemotron_v2_vl``): onto one ``side``×``side`` canvas, aspect kept (bicubic), the rest black,
  the picture centred — a 1920×1080 screenshot becomes 512×288 of picture between two black bands;
* ``dynamic`` (``qwen2vl_merger``, ``qwen2.5vl_merger``, ``qwen3vl_merger``): to the nearest multiple of
  ``factor`` = patch × merge ("smart resize"), shrunk or grown to fit ``[min_pixels, max_pixels]``, aspect
  kept with black padding to the aligned size; an image already of such a size passes through unchanged.

:meth:`ImageCanvas.view` replicates libmtmd's arithmetic (float32, like its C++) so the agent knows what the
model saw and how many tokens each image costs, without loading anything. A point the model names may refer
to the whole canvas or to the picture on it (:data:`PointingReference`, a per-model fact measured by
``omnidesk calibrate --model``); :meth:`CanvasView.canvas_to_content` maps the one onto the other.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from omnidesk.agent.actions import Point
from omnidesk.agent.errors import CoordinateError
from omnidesk.agent.geometry import Rect

__all__ = ["CanvasView", "ImageCanvas", "PointingReference", "canvas_point_to_image"]

PointingReference = Literal["canvas", "content"]
"""What a model's points refer to when its engine letterboxes: the whole canvas or only the picture."""

_F32 = np.float32


def _round_half_away(x: np.float32) -> int:
    """C++ ``std::round`` (half away from zero) of a float32."""
    return math.floor(float(x) + 0.5) if x >= 0 else -math.floor(-float(x) + 0.5)


@dataclass(frozen=True, slots=True)
class CanvasView:
    """An image as the encoder sees it: the canvas size, where the sent picture lies on it, its tokens."""

    width: int
    height: int
    content: Rect
    tokens: int

    @property
    def letterboxed(self) -> bool:
        """Whether the canvas carries padding around the picture."""
        return self.content != Rect(0, 0, self.width, self.height)

    def canvas_to_content(self, x: float, y: float) -> tuple[float, float]:
        """A continuous canvas pixel in pixels of the picture on it (outside it when in the padding)."""
        c = self.content
        return x - c.x, y - c.y


@dataclass(frozen=True, slots=True)
class ImageCanvas:
    """One projector's sizing rule (see the module doc)."""

    projector: str
    kind: Literal["fixed", "dynamic"]
    patch: int
    merge: int
    side: int = 0
    min_pixels: int = 0
    max_pixels: int = 0

    @property
    def factor(self) -> int:
        """The alignment of a dynamic canvas: patch × merge (28 for Qwen2.5-VL, 32 for Qwen3-VL)."""
        return self.patch * self.merge

    def canvas_size(self, width: int, height: int) -> tuple[int, int]:
        """The canvas libmtmd makes of a ``width``×``height`` image."""
        if width <= 0 or height <= 0:
            raise ValueError(f"an image has a positive size, not {width}x{height}")
        if self.kind == "fixed":
            return self.side, self.side
        return _smart_size(width, height, self.factor, self.min_pixels, self.max_pixels)

    def view(self, width: int, height: int) -> CanvasView:
        """What the encoder sees of a ``width``×``height`` image, and what it costs in tokens."""
        canvas_w, canvas_h = self.canvas_size(width, height)
        content = _padded_box(width, height, canvas_w, canvas_h)
        if self.kind == "fixed":
            tokens = (self.side // self.patch // self.merge) ** 2
        else:
            tokens = (canvas_w // self.factor) * (canvas_h // self.factor)
        return CanvasView(canvas_w, canvas_h, content, tokens)


def _smart_size(width: int, height: int, factor: int, min_pixels: int, max_pixels: int) -> tuple[int, int]:
    """libmtmd's ``calc_size_preserved_ratio`` (``tools/mtmd``), float32 like the C++."""
    f = _F32(factor)

    def round_by(x: np.float32) -> int:
        return _round_half_away(_F32(x / f)) * factor

    def ceil_by(x: np.float32) -> int:
        return math.ceil(float(_F32(x / f))) * factor

    def floor_by(x: np.float32) -> int:
        return math.floor(float(_F32(x / f))) * factor

    w_bar = max(factor, round_by(_F32(width)))
    h_bar = max(factor, round_by(_F32(height)))
    if max_pixels > 0 and h_bar * w_bar > max_pixels:
        beta = _F32(np.sqrt(_F32(_F32(height) * _F32(width)) / _F32(max_pixels)))
        h_bar = max(factor, floor_by(_F32(_F32(height) / beta)))
        w_bar = max(factor, floor_by(_F32(_F32(width) / beta)))
    elif min_pixels > 0 and h_bar * w_bar < min_pixels:
        beta = _F32(np.sqrt(_F32(_F32(min_pixels) / _F32(_F32(height) * _F32(width)))))
        h_bar = ceil_by(_F32(_F32(height) * beta))
        w_bar = ceil_by(_F32(_F32(width) * beta))
    return w_bar, h_bar


def _padded_box(width: int, height: int, canvas_w: int, canvas_h: int) -> Rect:
    """Where libmtmd's aspect-keeping resize (``PAD_CEIL``) puts the picture on the canvas."""
    if (width, height) == (canvas_w, canvas_h):
        return Rect(0, 0, width, height)
    scale = min(_F32(_F32(canvas_w) / _F32(width)), _F32(_F32(canvas_h) / _F32(height)))
    new_w = min(math.ceil(float(_F32(_F32(width) * scale))), canvas_w)
    new_h = min(math.ceil(float(_F32(_F32(height) * scale))), canvas_h)
    return Rect((canvas_w - new_w) // 2, (canvas_h - new_h) // 2, new_w, new_h)


_RANGES = {"fraction": 1.0, "thousandths": 1000.0}


def canvas_point_to_image(point: Point, view: CanvasView, reference: PointingReference) -> Point:
    """A model's point as the same kind of point on the image that was *sent* (what the transform maps).

    With ``reference`` ``"content"`` (or no letterbox) the point already refers to the sent image. With
    ``"canvas"``, a fraction / thousandths point of the canvas the encoder saw is moved onto the picture
    on it; an ``image_pixels`` point is in canvas pixels and becomes pixels of the picture, scaled back to
    the canvas's size so the format's own ``image_pixels`` rule still applies.

    Raises:
        CoordinateError: the point lies in the canvas's padding (the model pointed at a black bar).
    """
    if reference == "content" or not view.letterboxed or point.space not in (*_RANGES, "image_pixels"):
        return point
    c = view.content
    if point.space == "image_pixels":
        x, y = point.x, point.y
    else:
        scale = _RANGES[point.space]
        x, y = point.x / scale * view.width, point.y / scale * view.height
    if not (c.x <= x <= c.right and c.y <= y <= c.bottom):
        raise CoordinateError(
            f"point ({point.x:g}, {point.y:g}) is in the padding around the screenshot the model saw; "
            "it pointed outside the screen"
        )
    fx, fy = (x - c.x) / c.width, (y - c.y) / c.height
    if point.space == "image_pixels":
        return Point(x=fx * view.width, y=fy * view.height, space="image_pixels")
    scale = _RANGES[point.space]
    return Point(x=fx * scale, y=fy * scale, space=point.space)
