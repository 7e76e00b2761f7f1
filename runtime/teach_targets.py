"""Replay targets and review thumbnails cut from a teach recording's frames.

A click taught by showing it is replayed where its target is *now* (``agent/replay.py``): a patch of the
recorded frame just before the press, found again on the live screen. The patch is cut from the frame as
the recorder stored it (the monitor scaled to fit 1920×1080), so its ``image_size`` is that frame's longer
side — the size the replay letterboxes the live monitor into before it searches. A patch is only worth
keeping if it can be found again: it starts small around the point and grows until it has features and
is found once, and only once, on the frame it was cut from (the same matcher as the replay); a point
where no size passes keeps its largest patch and says why, so the review can show it and the replay hands
over to the model there.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np
import numpy.typing as npt

from omnidesk.agent.errors import ActionError
from omnidesk.agent.geometry import Rect
from omnidesk.runtime.template_locator import find_patch

__all__ = [
    "RADII",
    "CutTarget",
    "DecodedFrameLike",
    "cut_target",
    "frames_before",
    "thumbnail_around",
    "thumbnail_of",
    "to_frame",
]

log = logging.getLogger(__name__)

Pixels = npt.NDArray[np.uint8]
RADII = (24, 32, 48, 64, 96, 128)
"""Half-sides tried for a target patch, smallest first (frame pixels)."""
THUMB_WIDTH, THUMB_HEIGHT = 320, 200
FRAME_MARGIN = 0.015
"""A frame counts as "before" an event when it was captured at least this long before it (seconds): the
press itself may already show in a frame grabbed as it happened."""


class DecodedFrameLike(Protocol):
    """A decoded recording frame: its time on the recording's clock, its pixels on demand."""

    @property
    def time(self) -> float: ...

    def bgra(self) -> Pixels: ...


@dataclass(frozen=True, slots=True)
class CutTarget:
    """A patch (RGB) around a point of a frame, the point inside it, and why it may not be found again
    ("" when it was found once, and only there, on its own frame)."""

    patch: Pixels
    anchor: tuple[float, float]
    problem: str = ""


def frames_before(frames: Iterable[DecodedFrameLike], times: Sequence[float]) -> list[Pixels | None]:
    """For each time, the RGB pixels of the last frame captured at least :data:`FRAME_MARGIN` before it
    (None when the recording had no frame yet). ``frames`` come in time order; only the chosen ones are
    converted."""
    order = sorted(range(len(times)), key=lambda i: times[i])
    chosen: list[Pixels | None] = [None] * len(times)
    previous: DecodedFrameLike | None = None
    converted: dict[int, Pixels] = {}
    position = 0

    def take(frame: DecodedFrameLike | None, index: int) -> None:
        if frame is None:
            return
        key = id(frame)
        if key not in converted:
            converted.clear()  # frames come in order: an older one is never needed again
            converted[key] = np.ascontiguousarray(frame.bgra()[:, :, 2::-1])
        chosen[index] = converted[key]

    for frame in frames:
        while position < len(order) and frame.time > times[order[position]] - FRAME_MARGIN:
            take(previous, order[position])
            position += 1
        if position == len(order):
            break
        previous = frame
    while position < len(order):
        take(previous, order[position])
        position += 1
    return chosen


def to_frame(x: float, y: float, monitor: Rect, width: int, height: int) -> tuple[float, float] | None:
    """A virtual-desktop point in the pixels of a recorded frame of ``monitor`` (``width``×``height``), or
    None when the point is not on that monitor."""
    if not monitor.contains(int(x), int(y)):
        return None
    return (x - monitor.x) * width / monitor.width, (y - monitor.y) * height / monitor.height


def _cut(rgb: Pixels, x: float, y: float, radius: int) -> tuple[Pixels, int, int]:
    h, w = rgb.shape[:2]
    x0, y0 = max(0, int(x) - radius), max(0, int(y) - radius)
    x1, y1 = min(w, int(x) + radius), min(h, int(y) + radius)
    return np.ascontiguousarray(rgb[y0:y1, x0:x1]), x0, y0


def cut_target(rgb: Pixels, x: float, y: float, *, min_score: float = 0.8) -> CutTarget:
    """The smallest patch around ``(x, y)`` (frame pixels) that the replay's matcher finds once, and only
    where it was cut, on ``rgb`` itself (see the module doc)."""
    problem = ""
    patch, x0, y0 = _cut(rgb, x, y, RADII[0])
    for radius in RADII:
        patch, x0, y0 = _cut(rgb, x, y, radius)
        if min(patch.shape[:2]) < 8:
            problem = "the point is at the very edge of the recorded screen"
            continue
        try:
            bx, by, _ = find_patch(rgb, patch, min_score=min_score)
        except ActionError as exc:
            problem = str(exc)
            continue
        if (round(bx), round(by)) != (x0, y0):
            problem = "what is around the point looks the same elsewhere on the screen"
            continue
        return CutTarget(patch, (x - x0, y - y0))
    log.info("no distinctive target around a taught point: %s", problem)
    return CutTarget(patch, (x - x0, y - y0), problem)


def _fit(pixels: Pixels, width: int, height: int) -> Pixels:
    h, w = pixels.shape[:2]
    scale = min(1.0, width / max(1, w), height / max(1, h))
    if scale >= 1.0:
        return np.ascontiguousarray(pixels)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.ascontiguousarray(cv2.resize(pixels, size, interpolation=cv2.INTER_AREA))


def thumbnail_around(rgb: Pixels, x: float, y: float, *, second: tuple[float, float] | None = None) -> Pixels:
    """A :data:`THUMB_WIDTH`×:data:`THUMB_HEIGHT` view around a point (and a drag's second point, when both
    fit), with a ring where the action lands."""
    h, w = rgb.shape[:2]
    points = [(x, y)] + ([second] if second is not None else [])
    cx = sum(p[0] for p in points) / len(points)
    cy = sum(p[1] for p in points) / len(points)
    span_w = max(THUMB_WIDTH, int(max(abs(p[0] - cx) for p in points) * 2 + 80))
    span_h = max(THUMB_HEIGHT, int(max(abs(p[1] - cy) for p in points) * 2 + 80))
    x0 = int(min(max(0, cx - span_w / 2), max(0, w - span_w)))
    y0 = int(min(max(0, cy - span_h / 2), max(0, h - span_h)))
    view = np.array(rgb[y0 : y0 + span_h, x0 : x0 + span_w], dtype=np.uint8, copy=True)
    for px, py in points:
        cv2.circle(view, (round(px - x0), round(py - y0)), 14, (255, 0, 255), 3, lineType=cv2.LINE_AA)
    if second is not None:
        start = (round(x - x0), round(y - y0))
        end = (round(second[0] - x0), round(second[1] - y0))
        cv2.arrowedLine(view, start, end, (255, 0, 255), 2, line_type=cv2.LINE_AA)
    return _fit(view, THUMB_WIDTH, THUMB_HEIGHT)


def thumbnail_of(rgb: Pixels, box: Rect | None) -> Pixels:
    """A view of ``box`` (frame pixels; the whole frame when None or off it), shrunk to fit a thumbnail."""
    h, w = rgb.shape[:2]
    inside = box.intersect(Rect(0, 0, w, h)) if box is not None else None
    region = inside if inside is not None and inside.width >= 16 and inside.height >= 16 else Rect(0, 0, w, h)
    view = rgb[region.y : region.bottom, region.x : region.right]
    return _fit(view, THUMB_WIDTH, THUMB_HEIGHT)
