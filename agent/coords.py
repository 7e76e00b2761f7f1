"""The one coordinate path: model space → the step's overview image → monitor pixels → virtual desktop.

Every point the model names refers to the *overview* of the step (the first image it was sent). The
path undoes, in order, the model's convention (fractions, thousandths, pixels of the model's resized
image), then the overview's resize/letterbox/crop (:class:`ImageTransform`), then the monitor's place in
the X virtual desktop. A point in the letterbox bars, off the image or off the monitor is a
:class:`CoordinateError` — never a click somewhere else.

Each name says its direction: ``model_point_to_image`` / ``_to_monitor`` / ``_to_desktop`` walk the path
from a model's point, :func:`action_to_desktop` maps every point of an action, :func:`point_to_image` puts a
point of any space on the overview (for drawing), :func:`desktop_to_model_point` goes back. The single
steps are methods of the geometry: ``ImageTransform.image_to_monitor`` / ``monitor_to_image`` /
``image_to_desktop`` / ``desktop_to_image`` and ``MonitorInfo.monitor_to_desktop``.

Where the engine letterboxes what it is sent (libmtmd's fixed canvas), a model may name points of that whole
canvas rather than of the picture on it (its :data:`~omnidesk.agent.canvas.PointingReference`);
:func:`action_to_desktop` given the engine's ``canvas`` view first moves such points onto the sent image.

Monitor ``scale`` (HiDPI) needs no step of its own: frames are grabbed in device pixels and the input
device takes device pixels, so the overview's transform already carries it.
"""

from __future__ import annotations

import math

from omnidesk.agent.actions import Action, Click, CoordinateSpace, Drag, Move, Point, Scroll
from omnidesk.agent.canvas import CanvasView, PointingReference, canvas_point_to_image
from omnidesk.agent.errors import CoordinateError
from omnidesk.agent.geometry import ImageTransform

__all__ = [
    "action_to_desktop",
    "desktop_to_model_point",
    "model_point_to_desktop",
    "model_point_to_image",
    "model_point_to_monitor",
    "point_to_image",
    "resolve_pointer",
]


def _model_size(transform: ImageTransform, model_size: tuple[int, int] | None) -> tuple[int, int]:
    return model_size or (transform.image_width, transform.image_height)


def model_point_to_image(
    point: Point, transform: ImageTransform, *, model_size: tuple[int, int] | None = None
) -> tuple[float, float]:
    """A point in a model's space, in continuous pixels of the overview image.

    ``model_size`` is the size of the image as the model's own preprocessor resized it (e.g. Qwen2.5-VL
    rounds to multiples of 28); ``image_pixels`` points are relative to it. Defaults to the overview's size.

    Raises:
        CoordinateError: not a finite point of a model space, or outside the image.
    """
    if not (math.isfinite(point.x) and math.isfinite(point.y)):
        raise CoordinateError(f"point ({point.x}, {point.y}) is not finite")
    width, height = transform.image_width, transform.image_height
    if point.space == "fraction":
        x, y, limit_x, limit_y = point.x * width, point.y * height, 1.0, 1.0
        raw_x, raw_y = point.x, point.y
    elif point.space == "thousandths":
        x, y = point.x / 1000 * width, point.y / 1000 * height
        raw_x, raw_y, limit_x, limit_y = point.x, point.y, 1000.0, 1000.0
    elif point.space == "image_pixels":
        model_w, model_h = _model_size(transform, model_size)
        x, y = point.x * width / model_w, point.y * height / model_h
        raw_x, raw_y, limit_x, limit_y = point.x, point.y, float(model_w), float(model_h)
    else:
        raise CoordinateError(f"a {point.space} point is not in a model's space")
    if not (0 <= raw_x <= limit_x and 0 <= raw_y <= limit_y):
        raise CoordinateError(
            f"point ({raw_x:g}, {raw_y:g}) is outside the {point.space} range of the screenshot; "
            "the model pointed off the image"
        )
    # The far edge (1.0, 1000, width) belongs to the last pixel, not beyond it.
    return min(x, math.nextafter(width, 0)), min(y, math.nextafter(height, 0))


def model_point_to_monitor(
    point: Point, transform: ImageTransform, *, model_size: tuple[int, int] | None = None
) -> tuple[float, float]:
    """A point in a model's space (or already in ``monitor`` space), in pixels of the captured monitor.

    Letterbox bars are rejected.
    """
    if point.space == "monitor":
        return point.x, point.y
    return transform.image_to_monitor(*model_point_to_image(point, transform, model_size=model_size))


def model_point_to_desktop(
    point: Point, transform: ImageTransform, *, model_size: tuple[int, int] | None = None
) -> tuple[int, int]:
    """A point in a model's space (or already ``monitor``/``desktop``), in virtual-desktop device pixels —
    what the input device takes.

    Raises:
        CoordinateError: the point is off the image, in the letterbox, or off the monitor.
    """
    if point.space == "desktop":
        geometry = transform.monitor.geometry
        if not geometry.contains(point.x, point.y):
            raise CoordinateError(f"desktop point ({point.x:g}, {point.y:g}) is not on monitor {geometry}")
        return int(point.x), int(point.y)
    return transform.monitor.monitor_to_desktop(*model_point_to_monitor(point, transform, model_size=model_size))


def point_to_image(
    point: Point, transform: ImageTransform, *, model_size: tuple[int, int] | None = None
) -> tuple[float, float]:
    """A point in any space, in pixels of the overview image: where to draw it (the preview, bundles).

    Raises:
        CoordinateError: a model-space point off the image (desktop and monitor points are not checked).
    """
    if point.space == "desktop":
        return transform.desktop_to_image(point.x, point.y)
    if point.space == "monitor":
        return transform.monitor_to_image(point.x, point.y)
    return model_point_to_image(point, transform, model_size=model_size)


def desktop_to_model_point(
    x: float,
    y: float,
    transform: ImageTransform,
    space: CoordinateSpace,
    *,
    model_size: tuple[int, int] | None = None,
) -> Point:
    """The inverse path: a virtual-desktop point as a model of ``space`` would name it (unchecked)."""
    geometry = transform.monitor.geometry
    mx, my = x - geometry.x, y - geometry.y
    if space == "desktop":
        return Point(x=x, y=y, space=space)
    if space == "monitor":
        return Point(x=mx, y=my, space=space)
    ix, iy = transform.monitor_to_image(mx, my)
    if space == "fraction":
        return Point(x=ix / transform.image_width, y=iy / transform.image_height, space=space)
    if space == "thousandths":
        return Point(x=ix / transform.image_width * 1000, y=iy / transform.image_height * 1000, space=space)
    model_w, model_h = _model_size(transform, model_size)
    return Point(x=ix * model_w / transform.image_width, y=iy * model_h / transform.image_height, space=space)


def action_to_desktop(
    action: Action,
    transform: ImageTransform,
    *,
    model_size: tuple[int, int] | None = None,
    canvas: CanvasView | None = None,
    reference: PointingReference = "content",
) -> Action:
    """The same action with every point in ``desktop`` space (actions without points unchanged).

    ``canvas`` is what the engine made of the sent image; with ``reference`` ``"canvas"`` a letterboxed
    canvas's points are first moved onto the sent picture (:func:`~omnidesk.agent.canvas.canvas_point_to_image`).
    A model answering in pixels names pixels of the image its encoder saw, so with a ``canvas`` its
    ``image_pixels`` are relative to the canvas's size (libmtmd may shrink what it is sent, e.g. a 4K
    screenshot for Qwen2.5-VL at its default 4096 tokens).

    Raises:
        CoordinateError: a point cannot be mapped (one in the canvas's padding included).
    """

    size = (canvas.width, canvas.height) if canvas is not None else model_size

    def desktop(point: Point) -> Point:
        if canvas is not None:
            point = canvas_point_to_image(point, canvas, reference)
        x, y = model_point_to_desktop(point, transform, model_size=size)
        return Point(x=x, y=y, space="desktop")

    match action:
        case Click(point=p) | Move(point=p):
            return action.model_copy(update={"point": desktop(p)})
        case Drag(start=s, end=e):
            return action.model_copy(update={"start": desktop(s), "end": desktop(e)})
        case Scroll(point=p) if p is not None:
            return action.model_copy(update={"point": desktop(p)})
    return action


def resolve_pointer(action: Action, pointer: tuple[int, int]) -> Action:
    """The action with each ``pointer`` point replaced by the pointer's ``desktop`` position (see
    :data:`~omnidesk.agent.actions.CoordinateSpace`); other actions unchanged."""
    here = Point(x=pointer[0], y=pointer[1], space="desktop")
    match action:
        case Click(point=p) | Move(point=p) if p.space == "pointer":
            return action.model_copy(update={"point": here})
        case Drag(start=s, end=e) if "pointer" in {s.space, e.space}:
            return action.model_copy(
                update={"start": here if s.space == "pointer" else s, "end": here if e.space == "pointer" else e}
            )
        case Scroll(point=p) if p is not None and p.space == "pointer":
            return action.model_copy(update={"point": here})
    return action
