"""ImageCanvas: libmtmd's sizing arithmetic, and a model's point moved from the canvas it saw onto the picture."""

from __future__ import annotations

import pytest

from omnidesk.agent.actions import Point
from omnidesk.agent.canvas import ImageCanvas, canvas_point_to_image
from omnidesk.agent.errors import CoordinateError
from omnidesk.agent.geometry import Rect

NEMOTRON = ImageCanvas("nemotron_v2_vl", "fixed", 16, 2, side=512)
QWEN3 = ImageCanvas("qwen3vl_merger", "dynamic", 16, 2, min_pixels=8 * 1024, max_pixels=4096 * 1024)


def test_a_whole_1080p_screenshot_on_nemotrons_canvas() -> None:
    view = NEMOTRON.view(1920, 1080)
    assert (view.width, view.height, view.tokens) == (512, 512, 256)
    assert view.content == Rect(0, 112, 512, 288) and view.letterboxed


def test_canvas_points_land_on_the_picture() -> None:
    view = NEMOTRON.view(1920, 1080)
    centre = canvas_point_to_image(Point(x=0.5, y=0.5, space="fraction"), view, "canvas")
    assert (centre.x, centre.y) == (0.5, 0.5)
    top = canvas_point_to_image(Point(x=0.25, y=112 / 512, space="fraction"), view, "canvas")
    assert (top.x, top.y) == (0.25, 0.0)
    bottom = canvas_point_to_image(Point(x=1000, y=1000 * 400 / 512, space="thousandths"), view, "canvas")
    assert bottom.space == "thousandths" and bottom.x == 1000 and bottom.y == pytest.approx(1000)
    pixels = canvas_point_to_image(Point(x=256, y=256, space="image_pixels"), view, "canvas")
    assert (pixels.x, pixels.y) == (256, 256)
    with pytest.raises(CoordinateError, match="padding"):
        canvas_point_to_image(Point(x=0.5, y=0.1, space="fraction"), view, "canvas")


def test_content_reference_and_unletterboxed_views_leave_points_alone() -> None:
    point = Point(x=0.5, y=0.1, space="fraction")
    assert canvas_point_to_image(point, NEMOTRON.view(1920, 1080), "content") is point
    assert canvas_point_to_image(point, QWEN3.view(2560, 1440), "canvas") is point  # nothing to undo
    monitor = Point(x=10, y=10, space="monitor")
    assert canvas_point_to_image(monitor, NEMOTRON.view(1920, 1080), "canvas") is monitor


def test_a_bad_size_is_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        QWEN3.view(0, 10)
