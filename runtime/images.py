"""Model images from monitor frames: the whole screenshot at a model's sizing, letterboxed squares, crops.

Every image comes with the :class:`ImageTransform` that maps its pixels back to the monitor, so a point
the model names can be turned into a click. Coordinates are continuous: image pixel ``i`` covers
``[i, i + 1)``, and ``monitor = offset + image * scale`` — the same mapping ``cv2.resize`` uses for pixel
edges, so a mark in the image maps back onto the pixels it came from.

:func:`whole_image` is what the agent sends: the monitor's whole screenshot, natively or scaled as a whole
to the size the model's format asks for (:class:`~omnidesk.agent.formats.ImageSizing`) — a pure scale,
never padded. The square helpers (:func:`overview_image`, :func:`crop_image`) serve Omnidesk's own JSON
layout's detail crops and recorded target patches.
"""

from __future__ import annotations

import hashlib
import math

import cv2
import numpy as np
import numpy.typing as npt

from omnidesk.agent.formats import ImageSizing
from omnidesk.agent.geometry import ImageTransform, Rect
from omnidesk.agent.ports import Frame, ModelImage

__all__ = ["content_hash", "crop_image", "overview_image", "resized_image", "whole_image"]

Pixels = npt.NDArray[np.uint8]


def content_hash(pixels: Pixels) -> str:
    """A stable hash of an image's pixels (shape included) for the runtime's embedding cache."""
    data = np.ascontiguousarray(pixels)
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{data.shape}|{data.dtype.str}|".encode())
    digest.update(data.data)
    return digest.hexdigest()


def _bgra_to_rgb(pixels: Pixels) -> Pixels:
    return np.ascontiguousarray(pixels[:, :, 2::-1])


def _place(
    frame: Frame,
    region: Rect,
    *,
    origin_x: float,
    origin_y: float,
    scale: float,
    size: int,
) -> tuple[Pixels, ImageTransform]:
    """Resize ``region`` (monitor pixels, inside the frame) onto a black ``size``² canvas.

    The region lands where the square window ``origin + [0, size·scale)`` puts it; the per-axis scale is
    then adjusted so the whole region fills a whole number of image pixels exactly.
    """
    x0_img = max(0, round((region.x - origin_x) / scale))
    y0_img = max(0, round((region.y - origin_y) / scale))
    w_img = max(1, min(size - x0_img, round(region.width / scale)))
    h_img = max(1, min(size - y0_img, round(region.height / scale)))
    source = frame.pixels[region.y : region.bottom, region.x : region.right]
    if (w_img, h_img) == (region.width, region.height):
        resized = source
    else:
        shrinking = w_img < region.width and h_img < region.height
        interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
        resized = np.asarray(cv2.resize(source, (w_img, h_img), interpolation=interpolation), dtype=np.uint8)
    canvas = np.zeros((size, size, 3), dtype=np.uint8)
    canvas[y0_img : y0_img + h_img, x0_img : x0_img + w_img] = _bgra_to_rgb(resized)
    scale_x = region.width / w_img
    scale_y = region.height / h_img
    transform = ImageTransform(
        monitor=frame.monitor,
        image_width=size,
        image_height=size,
        content=Rect(x0_img, y0_img, w_img, h_img),
        scale_x=scale_x,
        scale_y=scale_y,
        offset_x=region.x - x0_img * scale_x,
        offset_y=region.y - y0_img * scale_y,
    )
    return canvas, transform


def whole_image(frame: Frame, sizing: ImageSizing) -> ModelImage:
    """The whole frame at ``sizing``'s size: the captured pixels (native), or all of them scaled as a whole.

    Shrinking uses area averaging (what a screenshot scaled down should look like), enlarging bilinear.
    """
    return resized_image(frame, *sizing.size_for(frame.width, frame.height))


def resized_image(frame: Frame, target_w: int, target_h: int) -> ModelImage:
    """The whole frame scaled to ``target_w``×``target_h`` (a recording's frames at a video frame size)."""
    width, height = frame.width, frame.height
    if (target_w, target_h) == (width, height):
        pixels = _bgra_to_rgb(frame.pixels)
    else:
        shrinking = target_w <= width and target_h <= height
        interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
        resized = np.asarray(cv2.resize(frame.pixels, (target_w, target_h), interpolation=interpolation), np.uint8)
        pixels = _bgra_to_rgb(resized)
    pixels.setflags(write=False)
    transform = ImageTransform(
        monitor=frame.monitor,
        image_width=target_w,
        image_height=target_h,
        content=Rect(0, 0, target_w, target_h),
        scale_x=width / target_w,
        scale_y=height / target_h,
        offset_x=0.0,
        offset_y=0.0,
    )
    return ModelImage(
        pixels=pixels,
        transform=transform,
        kind="overview",
        timestamp=frame.timestamp,
        label=f"Screenshot of monitor {frame.monitor.index} ({width}x{height})",
        content_hash=content_hash(pixels),
    )


def overview_image(frame: Frame, size: int) -> ModelImage:
    """The whole frame letterboxed (centred, black bars) into a ``size``×``size`` image."""
    if size <= 0:
        raise ValueError(f"image size must be positive, got {size}")
    width, height = frame.width, frame.height
    scale = max(width, height) / size
    origin_x = -(size * scale - width) / 2
    origin_y = -(size * scale - height) / 2
    pixels, transform = _place(
        frame, Rect(0, 0, width, height), origin_x=origin_x, origin_y=origin_y, scale=scale, size=size
    )
    pixels.setflags(write=False)
    return ModelImage(
        pixels=pixels,
        transform=transform,
        kind="overview",
        timestamp=frame.timestamp,
        label=f"Screenshot of monitor {frame.monitor.index} ({width}x{height})",
        content_hash=content_hash(pixels),
    )


def crop_image(frame: Frame, box: Rect, size: int) -> ModelImage:
    """A square ``size``×``size`` view of ``box`` (monitor pixels) at the finest scale that fits it.

    A box smaller than ``size`` is shown at native resolution with its surroundings (never upscaled); a
    larger one is shrunk just enough to fit. The square is kept inside the frame where possible; what
    falls outside the frame is black padding outside the transform's ``content``.
    """
    if size <= 0:
        raise ValueError(f"image size must be positive, got {size}")
    frame_rect = Rect(0, 0, frame.width, frame.height)
    inside = box.intersect(frame_rect)
    if inside is None:
        raise ValueError(f"crop box {box} lies outside the {frame.width}x{frame.height} frame")
    scale = max(1.0, max(inside.width, inside.height) / size)
    side = size * scale
    # Whole-pixel origins keep a native-resolution crop an exact copy of the monitor's pixels.
    origin_x = float(round(_clamp_origin(inside.x + inside.width / 2 - side / 2, side, frame.width)))
    origin_y = float(round(_clamp_origin(inside.y + inside.height / 2 - side / 2, side, frame.height)))
    window = Rect(math.floor(origin_x), math.floor(origin_y), math.ceil(side) + 1, math.ceil(side) + 1)
    region = window.intersect(frame_rect)
    assert region is not None  # the window contains ``inside``
    region = _fit_region(region, origin_x, origin_y, side)
    pixels, transform = _place(frame, region, origin_x=origin_x, origin_y=origin_y, scale=scale, size=size)
    pixels.setflags(write=False)
    return ModelImage(
        pixels=pixels,
        transform=transform,
        kind="crop",
        timestamp=frame.timestamp,
        label=f"Detail of monitor {frame.monitor.index} at x={box.x} y={box.y} ({box.width}x{box.height})",
        content_hash=content_hash(pixels),
    )


def _clamp_origin(origin: float, side: float, extent: int) -> float:
    """Shift a window of length ``side`` to stay inside ``[0, extent)``; centre it when it cannot."""
    if side >= extent:
        return -(side - extent) / 2
    return min(max(origin, 0.0), extent - side)


def _fit_region(region: Rect, origin_x: float, origin_y: float, side: float) -> Rect:
    """Trim ``region`` to whole pixels inside the square window ``origin + [0, side)``."""
    x0 = max(region.x, math.ceil(origin_x))
    y0 = max(region.y, math.ceil(origin_y))
    x1 = min(region.right, math.floor(origin_x + side))
    y1 = min(region.bottom, math.floor(origin_y + side))
    return Rect(x0, y0, max(1, x1 - x0), max(1, y1 - y0))
