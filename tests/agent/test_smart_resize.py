"""``smart_resize`` against the authors' own code (qwen-vl-utils 0.0.14, ui-tars 0.1.4) and published vectors."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omnidesk.agent.errors import ConfigError, ModelCapabilityError
from omnidesk.agent.smart_resize import (
    COOKBOOK_MAX_PIXELS,
    COOKBOOK_MIN_PIXELS,
    QWEN3_FACTOR,
    QWEN25_FACTOR,
    UITARS_MAX_PIXELS,
    UITARS_MIN_PIXELS,
    smart_resize,
)
from tests.oracles import SmartResize, qwen_vl_utils_smart_resize, ui_tars_smart_resize

QWEN = qwen_vl_utils_smart_resize()
UI_TARS = ui_tars_smart_resize()

# Screens people have (and a few odd or extreme ones), as width × height.
SCREENS = [
    (1920, 1080), (2560, 1440), (3840, 2160), (1280, 1024), (1366, 768), (1440, 900), (1280, 800),
    (1680, 1050), (1920, 1200), (2560, 1600), (3024, 1964), (5120, 2880), (7680, 4320), (1280, 720),
    (640, 480), (800, 600), (1024, 768), (3440, 1440), (5120, 1440), (1080, 1920), (1200, 1920),
    (3200, 1080), (1921, 1081), (1279, 1023), (1001, 999), (2879, 1799), (1366, 769), (333, 77),
    (20, 20), (1, 1), (5000, 28), (28, 5000), (4000, 20), (56, 56), (27, 29), (11200, 56),
]  # fmt: skip
# (factor, min_pixels, max_pixels): both cookbooks, UI-TARS, llama.cpp's default token caps, qwen-vl-utils'
# own defaults for factor 32.
SIZINGS = [
    (QWEN25_FACTOR, COOKBOOK_MIN_PIXELS, COOKBOOK_MAX_PIXELS),
    (QWEN3_FACTOR, COOKBOOK_MIN_PIXELS, COOKBOOK_MAX_PIXELS),
    (QWEN25_FACTOR, UITARS_MIN_PIXELS, UITARS_MAX_PIXELS),
    (QWEN25_FACTOR, 8 * 28 * 28, 4096 * 28 * 28),
    (QWEN3_FACTOR, 8 * 32 * 32, 4096 * 32 * 32),
    (QWEN3_FACTOR, 4 * 32 * 32, 16384 * 32 * 32),
]


def _oracle(function: SmartResize, height: int, width: int, factor: int, lo: int, hi: int) -> tuple[int, int] | str:
    try:
        return function(height, width, factor, lo, hi)
    except ValueError as exc:  # the references' only error: the aspect ratio
        assert "aspect ratio" in str(exc)
        return "ratio"


def _ours(height: int, width: int, factor: int, lo: int, hi: int) -> tuple[int, int] | str:
    try:
        return smart_resize(height, width, factor=factor, min_pixels=lo, max_pixels=hi)
    except ModelCapabilityError as exc:
        return "ratio" if "aspect ratio" in str(exc) else "empty"


@pytest.mark.parametrize("sizing", SIZINGS, ids=lambda s: f"f{s[0]}-{s[1]}-{s[2]}")
@pytest.mark.parametrize("function", [QWEN, UI_TARS], ids=["qwen-vl-utils", "ui-tars"])
def test_every_screen_agrees_with_the_authors_code(function: SmartResize, sizing: tuple[int, int, int]) -> None:
    factor, lo, hi = sizing
    for width, height in SCREENS:
        expected = _oracle(function, height, width, factor, lo, hi)
        if isinstance(expected, tuple) and 0 in expected:
            expected = "empty"  # the references return a 0-pixel side here; Omnidesk refuses it
        assert _ours(height, width, factor, lo, hi) == expected, (width, height)


@settings(max_examples=400, deadline=None)
@given(
    height=st.integers(1, 9000),
    width=st.integers(1, 9000),
    sizing=st.sampled_from(SIZINGS),
)
def test_any_size_agrees_with_qwen_vl_utils(height: int, width: int, sizing: tuple[int, int, int]) -> None:
    factor, lo, hi = sizing
    expected = _oracle(QWEN, height, width, factor, lo, hi)
    if isinstance(expected, tuple) and 0 in expected:
        expected = "empty"
    assert _ours(height, width, factor, lo, hi) == expected


# The vectors published with the formats (W×H in, W×H out): the Qwen2.5-VL cookbook's recorded resolution
# line (a 3456×2160 screenshot said "3444x2156"), its mobile cookbook (1080×2400 → "1092x2408"), UI-TARS's
# coordinate README (1920×1080 → 1932×1092), and ties that Python's round sends to the even multiple.
PUBLISHED = [
    ((3456, 2160), QWEN25_FACTOR, COOKBOOK_MIN_PIXELS, COOKBOOK_MAX_PIXELS, (3444, 2156)),
    ((1080, 2400), QWEN25_FACTOR, COOKBOOK_MIN_PIXELS, COOKBOOK_MAX_PIXELS, (1092, 2408)),
    ((1920, 1080), QWEN25_FACTOR, UITARS_MIN_PIXELS, UITARS_MAX_PIXELS, (1932, 1092)),
    ((1920, 1080), QWEN3_FACTOR, COOKBOOK_MIN_PIXELS, COOKBOOK_MAX_PIXELS, (1920, 1088)),
    ((3840, 2160), QWEN25_FACTOR, COOKBOOK_MIN_PIXELS, COOKBOOK_MAX_PIXELS, (3836, 2156)),
    ((3840, 2160), QWEN3_FACTOR, COOKBOOK_MIN_PIXELS, COOKBOOK_MAX_PIXELS, (3840, 2176)),
    ((1280, 720), QWEN3_FACTOR, COOKBOOK_MIN_PIXELS, COOKBOOK_MAX_PIXELS, (1280, 704)),  # 22.5 → 22
    ((1440, 1078), QWEN25_FACTOR, COOKBOOK_MIN_PIXELS, COOKBOOK_MAX_PIXELS, (1428, 1064)),  # 38.5 → 38
    ((1440, 1050), QWEN25_FACTOR, COOKBOOK_MIN_PIXELS, COOKBOOK_MAX_PIXELS, (1428, 1064)),  # 37.5 → 38
    ((5120, 2880), QWEN25_FACTOR, COOKBOOK_MIN_PIXELS, COOKBOOK_MAX_PIXELS, (4760, 2688)),  # over the cap
    ((20, 20), QWEN25_FACTOR, COOKBOOK_MIN_PIXELS, COOKBOOK_MAX_PIXELS, (56, 56)),  # under the floor
    ((224, 224), QWEN25_FACTOR, UITARS_MIN_PIXELS, UITARS_MAX_PIXELS, (280, 280)),
]


@pytest.mark.parametrize(("screen", "factor", "lo", "hi", "expected"), PUBLISHED)
def test_published_vectors(screen: tuple[int, int], factor: int, lo: int, hi: int, expected: tuple[int, int]) -> None:
    width, height = screen
    assert smart_resize(height, width, factor=factor, min_pixels=lo, max_pixels=hi)[::-1] == expected


def test_a_resized_image_is_a_fixed_point() -> None:
    """An image already at its smart size comes back unchanged: what lets the engine's resize be the identity."""
    for width, height in SCREENS[:20]:
        for factor, lo, hi in SIZINGS:
            once = smart_resize(height, width, factor=factor, min_pixels=lo, max_pixels=hi)
            assert smart_resize(*once, factor=factor, min_pixels=lo, max_pixels=hi) == once


def test_errors_say_what_is_wrong() -> None:
    with pytest.raises(ModelCapabilityError, match=r"aspect ratio of 250\.0"):
        smart_resize(10, 2500, factor=28, min_pixels=COOKBOOK_MIN_PIXELS, max_pixels=COOKBOOK_MAX_PIXELS)
    with pytest.raises(ModelCapabilityError, match="too thin"):
        smart_resize(10, 2000, factor=28, min_pixels=100, max_pixels=3136)
    assert QWEN(10, 2000, 28, 100, 3136) == (0, 784)  # what the reference returns there
    with pytest.raises(ConfigError, match="min_pixels"):
        smart_resize(1080, 1920, factor=28, min_pixels=10_000, max_pixels=9_999)
    with pytest.raises(ConfigError, match="factor"):
        smart_resize(1080, 1920, factor=0, min_pixels=1, max_pixels=2)
    with pytest.raises(ValueError, match="at least one pixel"):
        smart_resize(0, 1920, factor=28, min_pixels=1, max_pixels=2)


def test_the_oracle_leaves_no_fake_torch_behind() -> None:
    import sys

    assert "torch" not in sys.modules or hasattr(sys.modules["torch"], "__file__")
    assert "qwen_vl_utils.vision_process" not in sys.modules
