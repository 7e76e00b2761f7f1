"""Golden tests of the one coordinate path for every convention × scale × monitor layout.

Overview transforms are built here by plain arithmetic (a centred letterbox into a square), and one
end-to-end test uses the runtime's real ``overview_image``.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from omnidesk.agent.actions import Click, Drag, Point, Scroll, TypeText
from omnidesk.agent.coords import action_to_desktop, desktop_to_model_point, model_point_to_desktop, point_to_image
from omnidesk.agent.errors import CoordinateError
from omnidesk.agent.geometry import ImageTransform, MonitorInfo, Rect

SIZE = 512


def letterbox_transform(monitor: MonitorInfo, size: int = SIZE) -> ImageTransform:
    w, h = monitor.geometry.width, monitor.geometry.height
    scale = max(w, h) / size
    cw, ch = round(w / scale), round(h / scale)
    x0, y0 = (size - cw) // 2, (size - ch) // 2
    sx, sy = w / cw, h / ch
    return ImageTransform(monitor, size, size, Rect(x0, y0, cw, ch), sx, sy, -x0 * sx, -y0 * sy)


def mon(index: int, x: int, y: int, w: int, h: int, scale: float = 1.0) -> MonitorInfo:
    return MonitorInfo(index=index, name=f"DUMMY{index - 1}", geometry=Rect(x, y, w, h), scale=scale)


LAYOUTS = {
    "single-1080p": [mon(1, 0, 0, 1920, 1080)],
    "1080p+sxga": [mon(1, 0, 0, 1920, 1080), mon(2, 1920, 0, 1280, 1024)],
    "4k+1080p": [mon(1, 0, 0, 3840, 2160), mon(2, 3840, 0, 1920, 1080)],
}
SCALES = [1.0, 1.5, 2.0]
CONVENTIONS = ["fraction", "thousandths", "image_pixels"]


def model_answer(ix: float, iy: float, convention: str, size: int = SIZE) -> Point:
    """What a model that sees the target at image pixel (ix, iy) writes (rounded as models do)."""
    if convention == "fraction":
        return Point(x=round(ix / size, 3), y=round(iy / size, 3), space="fraction")
    if convention == "thousandths":
        return Point(x=round(ix / size * 1000), y=round(iy / size * 1000), space="thousandths")
    return Point(x=round(ix), y=round(iy), space="image_pixels")


def quantum(convention: str, transform: ImageTransform) -> float:
    """Largest monitor-pixel error the model's rounding can cause, plus one pixel of truncation."""
    step = {"fraction": SIZE / 1000, "thousandths": SIZE / 1000, "image_pixels": 1.0}[convention]
    return step / 2 * max(transform.scale_x, transform.scale_y) + 1


@pytest.mark.parametrize(("layout", "scale", "convention"), list(itertools.product(LAYOUTS, SCALES, CONVENTIONS)))
def test_golden_targets_land_on_their_widgets(layout: str, scale: float, convention: str) -> None:
    """A button at logical (lx, ly) of a window on each monitor (device px = logical × scale) is hit."""
    for base in LAYOUTS[layout]:
        monitor = MonitorInfo(base.index, base.name, base.geometry, scale=scale)
        transform = letterbox_transform(monitor)
        # targets near the middle and at both far corners of the monitor
        for lx, ly in [
            (300, 250),
            (15, 15),
            (monitor.geometry.width / scale - 16, monitor.geometry.height / scale - 16),
        ]:
            target_x = monitor.geometry.x + lx * scale
            target_y = monitor.geometry.y + ly * scale
            ix, iy = transform.monitor_to_image(target_x - monitor.geometry.x, target_y - monitor.geometry.y)
            point = model_answer(ix, iy, convention)
            dx, dy = model_point_to_desktop(point, transform)
            tolerance = quantum(convention, transform)
            assert abs(dx - target_x) <= tolerance and abs(dy - target_y) <= tolerance, (point, dx, dy)
            assert monitor.geometry.contains(dx, dy)
            # and a 30-logical-pixel button is never missed
            assert tolerance < 15 * scale


@pytest.mark.parametrize(
    ("monitor", "point", "expected"),
    [
        (mon(1, 0, 0, 1920, 1080), Point(x=0.5, y=0.5, space="fraction"), (960, 540)),
        (mon(1, 0, 0, 1920, 1080), Point(x=500, y=500, space="thousandths"), (960, 540)),
        (mon(1, 0, 0, 1920, 1080), Point(x=256, y=256, space="image_pixels"), (960, 540)),
        (mon(1, 0, 0, 1920, 1080), Point(x=0.0, y=112 / 512, space="fraction"), (0, 0)),
        (mon(1, 0, 0, 1920, 1080), Point(x=1.0, y=0.5, space="fraction"), (1919, 540)),
        (mon(2, 1920, 0, 1280, 1024), Point(x=0.5, y=0.5, space="fraction"), (2560, 512)),
        (mon(2, 3840, 0, 1920, 1080), Point(x=0.25, y=0.5, space="fraction"), (3840 + 480, 540)),
        (mon(1, 0, 0, 3840, 2160), Point(x=0.75, y=0.5, space="fraction"), (2880, 1080)),
        # negative origins (not on X11, but Windows/macOS layouts): unit goldens only
        (mon(2, -1280, -200, 1280, 1024), Point(x=0.5, y=0.5, space="fraction"), (-640, 312)),
        (mon(2, -1920, 0, 1920, 1080), Point(x=0, y=250, space="thousandths"), (-1920, 60)),
    ],
)
def test_unit_goldens(monitor: MonitorInfo, point: Point, expected: tuple[int, int]) -> None:
    assert model_point_to_desktop(point, letterbox_transform(monitor)) == expected


@pytest.mark.parametrize(
    "point",
    [
        Point(x=0.5, y=0.05, space="fraction"),  # in the top letterbox bar of a 16:9 screen
        Point(x=0.5, y=0.95, space="fraction"),  # bottom bar
        Point(x=500, y=50, space="thousandths"),
        Point(x=256, y=20, space="image_pixels"),
        Point(x=1.2, y=0.5, space="fraction"),
        Point(x=1001, y=500, space="thousandths"),
        Point(x=513, y=256, space="image_pixels"),
        Point(x=float("nan"), y=0.5, space="fraction"),
        Point(x=5000, y=500, space="desktop"),
    ],
)
def test_out_of_bounds_is_a_coordinate_error(point: Point) -> None:
    with pytest.raises(CoordinateError):
        model_point_to_desktop(point, letterbox_transform(mon(1, 0, 0, 1920, 1080)))


def test_model_resized_pixels() -> None:
    """Qwen2.5-VL sees our 512² overview as 504² (multiples of 28): its pixels are scaled back."""
    transform = letterbox_transform(mon(1, 0, 0, 1920, 1080))
    point = Point(x=252, y=252, space="image_pixels")
    assert model_point_to_desktop(point, transform, model_size=(504, 504)) == (960, 540)


@pytest.mark.parametrize("space", ["fraction", "thousandths", "image_pixels", "monitor", "desktop"])
def test_desktop_to_model_point_inverts(space: str) -> None:
    transform = letterbox_transform(mon(2, 1920, 0, 1280, 1024))
    point = desktop_to_model_point(2000.5, 700.5, transform, space)  # type: ignore[arg-type]
    assert model_point_to_desktop(point, transform) == (2000, 700)


def test_action_to_desktop_moves_every_point_to_desktop() -> None:
    transform = letterbox_transform(mon(1, 0, 0, 1920, 1080))
    f = Point(x=0.5, y=0.5, space="fraction")
    assert action_to_desktop(Click(point=f), transform) == Click(point=Point(x=960, y=540, space="desktop"))
    drag = action_to_desktop(Drag(start=f, end=Point(x=0.75, y=0.5, space="fraction")), transform)
    assert isinstance(drag, Drag) and (drag.start.x, drag.end.x) == (960, 1440)
    assert action_to_desktop(Scroll(dy=3), transform) == Scroll(dy=3)
    assert action_to_desktop(TypeText(text="x"), transform) == TypeText(text="x")
    with pytest.raises(CoordinateError):
        action_to_desktop(Click(point=Point(x=0.5, y=0.01, space="fraction")), transform)


def test_end_to_end_with_the_runtime_overview() -> None:
    """The real letterbox: find a red box in the overview pixels, name it, map it, land inside the box."""
    from omnidesk.agent.ports import Frame
    from omnidesk.runtime.images import overview_image

    for monitor in LAYOUTS["4k+1080p"] + LAYOUTS["1080p+sxga"]:
        box = Rect(monitor.geometry.width - 300, 40, 60, 24)
        pixels = np.zeros((monitor.geometry.height, monitor.geometry.width, 4), np.uint8)
        pixels[box.y : box.bottom, box.x : box.right] = (0, 0, 255, 255)
        image = overview_image(Frame(pixels, 0.0, monitor), SIZE)
        ys, xs = np.nonzero((image.pixels[:, :, 0] > 200) & (image.pixels[:, :, 2] < 50))
        for convention in CONVENTIONS:
            point = model_answer(xs.mean() + 0.5, ys.mean() + 0.5, convention)
            x, y = model_point_to_desktop(point, image.transform)
            assert box.translated(monitor.geometry.x, monitor.geometry.y).contains(x, y), (convention, x, y)


# A 1280×1024 monitor right of a 1920-wide one, letterboxed into a 1000×1000 image: content 1000×800
# starting at y=100, 1.28 monitor px per image px.
RIGHT_LETTERBOX = ImageTransform(mon(2, 1920, 0, 1280, 1024), 1000, 1000, Rect(0, 100, 1000, 800), 1.28, 1.28, 0, -128)


@pytest.mark.parametrize(
    ("point", "expected"),
    [
        (Point(x=0.5, y=0.25, space="fraction"), (500, 250)),
        (Point(x=500, y=250, space="thousandths"), (500, 250)),
        (Point(x=500, y=250, space="image_pixels"), (500, 250)),
        (Point(x=640, y=512, space="monitor"), (500, 500)),
        (Point(x=1920 + 640, y=512, space="desktop"), (500, 500)),
    ],
)
def test_point_to_image_puts_every_space_on_the_same_overview_pixel(point: Point, expected: tuple[int, int]) -> None:
    assert point_to_image(point, RIGHT_LETTERBOX) == pytest.approx(expected)


def test_point_to_image_rejects_a_model_point_off_the_image() -> None:
    with pytest.raises(CoordinateError, match="outside the fraction range"):
        point_to_image(Point(x=1.2, y=0.5, space="fraction"), RIGHT_LETTERBOX)
