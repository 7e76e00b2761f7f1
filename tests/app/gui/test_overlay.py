"""What the preview draws, in overview-image pixels, and the text of timeline rows (no Qt needed)."""

from __future__ import annotations

import pytest

from omnidesk.agent.actions import Click, Done, Drag, Hotkey, Point, Scroll, TypeText, Wait
from omnidesk.agent.describe import describe_action
from omnidesk.agent.geometry import Rect
from omnidesk.agent.ports import Step
from omnidesk.app.gui.describe import describe_step, describe_timings
from omnidesk.app.gui.overlay import build_overlay
from tests.app.gui.scripts import click_step, overview, step


def test_overlay_uses_the_mapped_target_and_maps_boxes() -> None:
    s = click_step(1, x=960, y=540, crops=[Rect(100, 200, 400, 300)])
    overlay = build_overlay(s)
    assert overlay.image is s.observation.images[0]  # type: ignore[union-attr]
    assert overlay.point == pytest.approx((480, 270))
    changed, crop = overlay.boxes
    assert (crop.kind, crop.x, crop.y, crop.width, crop.height) == ("crop", 50, 100, 200, 150)
    assert changed.kind == "changed" and changed.x == crop.x


def test_overlay_of_a_step_without_frames_reuses_the_latest_overview() -> None:
    latest = overview(7)
    bare = step(2, Scroll(point=Point(x=0.1, y=0.2, space="fraction"), dy=-3), with_image=False)
    overlay = build_overlay(bare, latest)
    assert overlay.image is latest
    assert overlay.point == pytest.approx((96, 108))
    assert overlay.label == "scroll dx=0 dy=-3"
    assert build_overlay(bare).image is None


def test_a_model_point_off_the_image_is_not_drawn() -> None:
    off = build_overlay(step(3, Click(point=Point(x=1.5, y=0.5, space="fraction"))))
    assert off.image is not None and off.point is None and off.path is None


def test_drag_draws_a_path_and_typing_a_label() -> None:
    drag = build_overlay(
        step(1, Drag(start=Point(x=0, y=0, space="desktop"), end=Point(x=1918, y=1078, space="desktop")))
    )
    assert drag.path is not None
    assert drag.path[0] == pytest.approx((0, 0)) and drag.path[1] == pytest.approx((959, 539))
    assert drag.point is None
    typed = build_overlay(step(2, TypeText(text="x" * 80)))
    assert typed.label.startswith("⌨ “xxx") and typed.label.endswith("…”") and len(typed.label) < 70


@pytest.mark.parametrize(
    ("action", "target", "text"),
    [
        (Click(point=Point(x=0.25, y=0.5, space="fraction"), count=2), None, "double click at (0.250, 0.500)"),
        (
            Click(point=Point(x=1, y=1, space="fraction"), button="right", modifiers=("ctrl",)),
            (10, 20),
            "ctrl right click at (10, 20)",
        ),
        (TypeText(text="hello\nworld"), None, "type 11 characters"),
        (TypeText(text="x"), None, "type 1 character"),
        (Hotkey(keys=("ctrl", "s")), None, "press ctrl+s"),
        (Scroll(dy=-5), None, "scroll down 5"),
        (Wait(seconds=1.5), None, "wait 1.5 s"),
        (Done(answer="42"), None, "done: 42"),
        (None, None, "no action"),
    ],
)
def test_describe_action(action: object, target: tuple[int, int] | None, text: str) -> None:
    assert describe_action(action, target) == text  # type: ignore[arg-type]


def test_describe_step_and_timings() -> None:
    s = Step(index=3, task="t", started_at=0, status="planned", actions=(Hotkey(keys=("enter",)),))
    assert describe_step(s) == "#3 press enter — planned (dry run)"
    assert describe_timings((("model", 1.5), ("act", 0.25))) == "1.75 s (model 1.50, act 0.25)"
    assert describe_timings((("total", 2.0),)) == "2.00 s"
    assert describe_timings(()) == ""
