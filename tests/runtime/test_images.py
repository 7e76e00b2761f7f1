"""Model images: markers drawn on a frame map back onto the monitor through each image's transform."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omnidesk.agent.errors import CoordinateError
from omnidesk.agent.formats import ImageSizing
from omnidesk.agent.geometry import MonitorInfo, Rect
from omnidesk.agent.ports import Frame
from omnidesk.runtime.images import content_hash, crop_image, overview_image, whole_image


def _frame(width: int, height: int, *, x: int = 0, y: int = 0) -> Frame:
    pixels = np.full((height, width, 4), 40, dtype=np.uint8)
    monitor = MonitorInfo(index=1, name="DUMMY0", geometry=Rect(x, y, width, height))
    return Frame(pixels=pixels, timestamp=1.0, monitor=monitor)


def _mark(frame: Frame, cx: int, cy: int, radius: int) -> None:
    # Pure red in BGRA.
    frame.pixels[cy - radius : cy + radius, cx - radius : cx + radius] = (0, 0, 255, 255)


def _find_red(pixels: np.ndarray) -> tuple[float, float]:
    red = pixels[:, :, 0].astype(int) - pixels[:, :, 1].astype(int)
    weights = np.clip(red, 0, None).astype(float)
    assert weights.sum() > 0, "marker not visible in the model image"
    ys, xs = np.indices(weights.shape)
    # Continuous coordinates: pixel i covers [i, i + 1), its centre is i + 0.5.
    return (
        float((weights * (xs + 0.5)).sum() / weights.sum()),
        float((weights * (ys + 0.5)).sum() / weights.sum()),
    )


@pytest.mark.parametrize(("width", "height"), [(1920, 1080), (1280, 1024), (1080, 1920), (800, 800)])
def test_overview_marker_maps_back_within_one_image_pixel(width: int, height: int) -> None:
    frame = _frame(width, height)
    cx, cy = width * 2 // 3, height // 3
    _mark(frame, cx, cy, radius=40)
    image = overview_image(frame, 64)
    assert image.pixels.shape == (64, 64, 3)
    assert image.kind == "overview"
    ix, iy = _find_red(image.pixels)
    mx, my = image.transform.image_to_monitor(ix, iy)
    assert abs(mx - cx) <= image.transform.scale_x
    assert abs(my - cy) <= image.transform.scale_y
    # The letterbox covers the full frame with the content; padding is black and not clickable.
    assert image.transform.monitor_box == Rect(0, 0, width, height)
    if width > height:
        assert image.pixels[0, 32].tolist() == [0, 0, 0]
        with pytest.raises(CoordinateError):
            image.transform.image_to_monitor(32, 0.5)


def test_a_native_whole_image_is_the_frame_itself() -> None:
    frame = _frame(1920, 1080, x=1920)
    _mark(frame, 1500, 100, radius=5)
    image = whole_image(frame, ImageSizing.native())
    assert image.kind == "overview" and image.pixels.shape == (1080, 1920, 3)
    assert np.array_equal(image.pixels, frame.pixels[:, :, 2::-1])
    assert image.transform.content == Rect(0, 0, 1920, 1080) and image.transform.image_to_desktop(1500, 100) == (
        3420,
        100,
    )


@pytest.mark.parametrize(("width", "height"), [(1920, 1080), (3840, 2160), (1280, 1024), (1080, 1920)])
@pytest.mark.parametrize("factor", [28, 32])
def test_a_smart_resized_whole_image_is_a_pure_scale(width: int, height: int, factor: int) -> None:
    frame = _frame(width, height)
    cx, cy = width // 4, height * 3 // 4
    _mark(frame, cx, cy, radius=40)
    sizing = ImageSizing.smart(factor=factor, min_pixels=3136, max_pixels=1_003_520)
    image = whole_image(frame, sizing)
    h, w = image.pixels.shape[:2]
    assert (w, h) == sizing.size_for(width, height) and w % factor == 0 and h % factor == 0
    # every pixel is screen: no bars, the corners are the frame's grey and clickable
    assert image.pixels[0, 0].tolist() == [40, 40, 40] and image.pixels[-1, -1].tolist() == [40, 40, 40]
    assert image.transform.monitor_box == Rect(0, 0, width, height)
    ix, iy = _find_red(image.pixels)
    mx, my = image.transform.image_to_monitor(ix, iy)
    assert abs(mx - cx) <= image.transform.scale_x and abs(my - cy) <= image.transform.scale_y


def test_native_crop_marker_maps_back_within_one_monitor_pixel() -> None:
    frame = _frame(1920, 1080, x=1920)
    _mark(frame, 1500, 700, radius=3)
    image = crop_image(frame, Rect(1480, 680, 40, 40), 64)
    assert image.kind == "crop"
    # The box is smaller than the image: native resolution, never upscaled.
    assert image.transform.scale_x == pytest.approx(1.0)
    assert image.transform.scale_y == pytest.approx(1.0)
    ix, iy = _find_red(image.pixels)
    mx, my = image.transform.image_to_monitor(ix, iy)
    assert abs(mx - 1500) <= 1 and abs(my - 700) <= 1
    # And into the virtual desktop (monitor right of the first one).
    dx, dy = image.transform.image_to_desktop(ix, iy)
    assert abs(dx - (1920 + 1500)) <= 1 and abs(dy - 700) <= 1


def test_large_crop_is_shrunk_just_enough_to_fit() -> None:
    frame = _frame(1920, 1080)
    _mark(frame, 400, 500, radius=6)
    box = Rect(200, 300, 512, 300)
    image = crop_image(frame, box, 128)
    assert image.transform.scale_x == pytest.approx(4.0, rel=0.02)
    ix, iy = _find_red(image.pixels)
    mx, my = image.transform.image_to_monitor(ix, iy)
    assert abs(mx - 400) <= 1 and abs(my - 500) <= 1
    shown = image.transform.monitor_box
    assert shown.intersect(box) == box  # the whole box is visible


def test_crop_at_the_frame_edge_stays_inside_the_frame() -> None:
    frame = _frame(1920, 1080)
    _mark(frame, 1915, 1075, radius=2)
    image = crop_image(frame, Rect(1900, 1060, 20, 20), 64)
    box = image.transform.monitor_box
    assert box.right <= 1920 and box.bottom <= 1080
    ix, iy = _find_red(image.pixels)
    mx, my = image.transform.image_to_monitor(ix, iy)
    assert abs(mx - 1915) <= 1 and abs(my - 1075) <= 1


def test_crop_outside_the_frame_is_rejected() -> None:
    with pytest.raises(ValueError, match="outside"):
        crop_image(_frame(100, 100), Rect(200, 200, 10, 10), 32)


def test_content_hash_tells_pixels_apart() -> None:
    a = np.zeros((4, 4, 3), dtype=np.uint8)
    b = a.copy()
    b[1, 1, 0] = 1
    assert content_hash(a) == content_hash(a.copy())
    assert content_hash(a) != content_hash(b)
    assert content_hash(a) != content_hash(a.reshape(2, 8, 3))
    frame = _frame(640, 480)
    assert overview_image(frame, 32).content_hash == content_hash(overview_image(frame, 32).pixels)


@settings(max_examples=60, deadline=None)
@given(
    width=st.integers(16, 3000),
    height=st.integers(16, 3000),
    size=st.sampled_from([32, 64, 512]),
    fx=st.floats(0, 0.999),
    fy=st.floats(0, 0.999),
    crop=st.booleans(),
)
def test_monitor_to_image_inverts_image_to_monitor(
    width: int, height: int, size: int, fx: float, fy: float, crop: bool
) -> None:
    frame = _frame(width, height)
    if crop:
        box = Rect(int(fx * width * 0.5), int(fy * height * 0.5), max(1, width // 3), max(1, height // 4))
        image = crop_image(frame, box, size)
    else:
        image = overview_image(frame, size)
    t = image.transform
    content = t.content
    x = content.x + fx * content.width
    y = content.y + fy * content.height
    mx, my = t.image_to_monitor(x, y)
    assert 0 <= mx <= width and 0 <= my <= height
    back = t.monitor_to_image(mx, my)
    assert back[0] == pytest.approx(x, abs=1e-6)
    assert back[1] == pytest.approx(y, abs=1e-6)
