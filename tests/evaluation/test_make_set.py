"""The set generator's choices, without a desktop: which elements become candidates (named once, enabled,
showing inside every ancestor, never a window control) and what each toolkit is told for a scale."""

from __future__ import annotations

from omnidesk.agent.geometry import Rect
from omnidesk.agent.ports import AccessibleApp, AccessibleElement, AccessibleTree
from tests.evaluation.make_grounding_set import _app_env, _candidates

ON = frozenset({"enabled", "showing"})


def _el(
    role: str, name: str, box: Rect | None, *children: AccessibleElement, states: frozenset[str] = ON
) -> AccessibleElement:
    return AccessibleElement(role, name, states, box, tuple(children))


def test_candidates_are_named_once_enabled_and_show() -> None:
    pane = _el(
        "scroll_pane",
        "",
        Rect(0, 100, 200, 100),
        _el("table_cell", "Inside", Rect(10, 110, 100, 20)),
        _el("table_cell", "Mostly", Rect(10, 185, 100, 20)),  # 15 of 20 rows show: kept, cut to what shows
        _el("table_cell", "Scrolled away", Rect(10, 300, 100, 20)),
    )
    window = _el(
        "frame",
        "App",
        Rect(0, 0, 400, 300),
        pane,
        _el("push_button", "OK", Rect(250, 10, 60, 30)),
        _el("push_button", "Twice", Rect(250, 50, 60, 30)),
        _el("push_button", "Twice", Rect(250, 90, 60, 30)),
        _el("push_button", "Close", Rect(370, 0, 30, 20)),
        _el("push_button", "Greyed", Rect(250, 130, 60, 30), states=frozenset({"showing"})),
        _el("push_button", "", Rect(250, 170, 60, 30)),
        _el("label", "Just text", Rect(250, 210, 60, 30)),
    )
    tree = AccessibleTree(AccessibleApp("app", 1, "gtk", "3", ":1.1"), (window,), 1.0, "window", True, True)
    found, clipped, ambiguous, disabled = _candidates(tree, Rect(0, 0, 1920, 1080))
    assert {(e.name, e.box) for e in found} == {
        ("Inside", Rect(10, 110, 100, 20)),
        ("Mostly", Rect(10, 185, 100, 15)),
        ("OK", Rect(250, 10, 60, 30)),
    }
    assert (clipped, ambiguous, disabled) == (1, 2, 1)


def test_scales_are_the_toolkits_own_and_gtk3_at_one_and_a_half_is_text_only() -> None:
    assert _app_env("gtk3", 2.0) == ({"GDK_SCALE": "2", "GDK_DPI_SCALE": "0.5"}, "2.0")
    assert _app_env("gtk3", 1.5) == ({}, "1.5 text")
    assert _app_env("qt5", 1.5)[0]["QT_SCALE_FACTOR_ROUNDING_POLICY"] == "PassThrough"
    assert _app_env("qt6", 1.5) == ({}, "1.5") and _app_env("qt6", 1.0) == ({}, "1.0")
