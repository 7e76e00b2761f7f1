"""What the preview draws for a step, in pixels of the step's overview image (no Qt here).

The overview is the image every point of the model refers to; EVS crops, changed regions and the
planned action are all mapped into it, so the preview only has to scale one picture.
"""

from __future__ import annotations

from dataclasses import dataclass

from omnidesk.agent.actions import Click, Drag, Hotkey, Move, Point, Scroll, TypeText
from omnidesk.agent.coords import point_to_image
from omnidesk.agent.errors import CoordinateError
from omnidesk.agent.geometry import ImageTransform, Rect
from omnidesk.agent.ports import ModelImage, Step

__all__ = ["Box", "Overlay", "build_overlay"]


@dataclass(frozen=True, slots=True)
class Box:
    """A rectangle in overview-image pixels, with what it is."""

    x: float
    y: float
    width: float
    height: float
    kind: str  # "crop" (an EVS crop sent to the model) or "changed" (a changed region)


@dataclass(frozen=True, slots=True)
class Overlay:
    """The picture and the marks to draw on it."""

    image: ModelImage | None
    boxes: tuple[Box, ...] = ()
    point: tuple[float, float] | None = None
    path: tuple[tuple[float, float], tuple[float, float]] | None = None
    label: str = ""
    status: str = ""


def _point(point: Point, transform: ImageTransform) -> tuple[float, float] | None:
    """Where a point of any space is drawn; None for a model point off the image (the step says why)."""
    try:
        return point_to_image(point, transform)
    except CoordinateError:
        return None


def _rect_to_image(rect: Rect, transform: ImageTransform, kind: str) -> Box:
    x0, y0 = transform.monitor_to_image(rect.x, rect.y)
    x1, y1 = transform.monitor_to_image(rect.right, rect.bottom)
    return Box(x0, y0, x1 - x0, y1 - y0, kind)


def _overview(step: Step) -> ModelImage | None:
    if step.observation is None:
        return None
    for image in step.observation.images:
        if image.kind == "overview":
            return image
    return None


def _label(step: Step) -> str:
    action = step.action
    if isinstance(action, TypeText):
        text = action.text if len(action.text) <= 60 else action.text[:57] + "…"
        return f"⌨ “{text}”"
    if isinstance(action, Hotkey):
        return "⌨ " + "+".join(action.keys)
    if isinstance(action, Scroll):
        return f"scroll dx={action.dx} dy={action.dy}"
    return ""


def build_overlay(step: Step, image: ModelImage | None = None) -> Overlay:
    """The overlay of ``step`` on its own overview, or on ``image`` (the latest overview) if it has none."""
    overview = _overview(step) or image
    if overview is None:
        return Overlay(None, label=_label(step), status=step.status)
    transform = overview.transform
    boxes: list[Box] = []
    if step.observation is not None:
        boxes += [_rect_to_image(r, transform, "changed") for r in step.observation.changed_boxes]
        boxes += [
            _rect_to_image(i.transform.monitor_box, transform, "crop")
            for i in step.observation.images
            if i.kind == "crop"
        ]
    action = step.action
    point: tuple[float, float] | None = None
    path = None
    if isinstance(action, Drag):
        start, end = _point(action.start, transform), _point(action.end, transform)
        path = (start, end) if start is not None and end is not None else None
    elif step.target is not None:
        point = _point(Point(x=step.target[0], y=step.target[1], space="desktop"), transform)
    elif isinstance(action, Click | Move | Scroll) and action.point is not None:
        point = _point(action.point, transform)
    return Overlay(overview, tuple(boxes), point, path, _label(step), step.status)
