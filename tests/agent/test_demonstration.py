"""A person's input events → the steps a replay does again."""

from __future__ import annotations

from omnidesk.agent.actions import Click, Drag, Hotkey, Point, Scroll, TypeText
from omnidesk.agent.demonstration import KeyInput, PointerInput, demonstration_steps
from omnidesk.agent.geometry import Rect
from omnidesk.agent.ports import WindowInfo

EDITOR = WindowInfo(1, "Editor", ("editor", "Editor"), Rect(0, 0, 800, 600))
BROWSER = WindowInfo(2, "Browser", ("firefox", "Firefox"), Rect(800, 0, 800, 600))


def click(at: float, x: int, y: int, button: str = "left", **kw: object) -> list[PointerInput]:
    return [PointerInput(at, True, button, x, y, EDITOR, **kw), PointerInput(at + 0.05, False, button, x, y)]  # type: ignore[arg-type]


def typed(at: float, text: str, window: WindowInfo = EDITOR) -> list[KeyInput]:
    shift = ("shift",)
    return [
        KeyInput(at + n / 100, True, c.lower(), c, shift if c.isupper() else (), window) for n, c in enumerate(text)
    ]


def key(at: float, name: str, *mods: str, window: WindowInfo = EDITOR) -> KeyInput:
    return KeyInput(at, True, name, "", mods, window)


def desktop(x: float, y: float) -> Point:
    return Point(x=x, y=y, space="desktop")


def test_clicks_double_and_triple_clicks_keep_their_press_time_and_window() -> None:
    events = [*click(1.0, 10, 10), *click(1.2, 11, 10), *click(1.35, 11, 11), *click(3.0, 10, 10)]
    events += [*click(5.0, 400, 300, "right", modifiers=("ctrl",))]
    steps = demonstration_steps(events)
    assert [s.action for s in steps] == [
        Click(point=desktop(10, 10), count=3),
        Click(point=desktop(10, 10)),
        Click(point=desktop(400, 300), button="right", modifiers=("ctrl",)),
    ]
    assert [s.at for s in steps] == [1.0, 3.0, 5.0]
    assert steps[0].window == EDITOR and steps[0].points == ((10, 10),)


def test_a_press_released_elsewhere_is_a_drag_and_wheel_clicks_merge() -> None:
    events = [
        PointerInput(1.0, True, "left", 10, 20, EDITOR),
        PointerInput(1.5, False, "left", 200, 220),
        *[PointerInput(2.0 + n * 0.1, True, "scroll_down", 300, 300, EDITOR) for n in range(3)],
        PointerInput(2.25, False, "scroll_down", 300, 300),
        PointerInput(5.0, True, "scroll_up", 300, 300, EDITOR),
        PointerInput(5.1, True, "scroll_right", 600, 300, EDITOR),
    ]
    steps = demonstration_steps(events)
    assert [s.action for s in steps] == [
        Drag(start=desktop(10, 20), end=desktop(200, 220)),
        Scroll(point=desktop(300, 300), dy=-3),
        Scroll(point=desktop(300, 300), dy=1),
        Scroll(point=desktop(600, 300), dx=1),
    ]
    assert steps[0].points == ((10, 20), (200, 220))


def test_typed_text_groups_by_window_and_backspace_edits_it() -> None:
    events = [
        *typed(1.0, "Hex"),
        key(1.1, "backspace"),  # a typo taken back
        *typed(1.3, "llo Wörld"),
        *typed(2.0, "q", BROWSER),
        key(3.0, "backspace", window=BROWSER),
        key(3.1, "backspace", window=BROWSER),  # nothing left to take back: the key itself
        key(3.2, "shift"),  # a modifier alone is no step
        key(3.3, "enter"),
        KeyInput(3.4, True, "s", "s", ("ctrl",), BROWSER),
        KeyInput(3.5, True, "t", "T", ("ctrl", "shift"), BROWSER),
        KeyInput(3.6, True, "keysym-0x1008ff99", "", (), BROWSER),  # a vendor key no convention names
    ]
    steps = demonstration_steps(events)
    assert [s.action for s in steps] == [
        TypeText(text="Hello Wörld"),
        Hotkey(keys=("backspace",)),
        Hotkey(keys=("enter",)),
        Hotkey(keys=("ctrl", "s")),
        Hotkey(keys=("ctrl", "shift", "t")),
    ]
    assert steps[0].window == EDITOR and steps[0].at == 1.0
    assert "Wörld" not in repr(steps) and "Wörld" not in repr(events)


def test_text_in_another_window_or_after_a_click_is_a_new_step() -> None:
    events = [*typed(1.0, "ab"), *typed(1.1, "cd", BROWSER), *click(2.0, 5, 5), *typed(2.5, "ef")]
    actions = [s.action for s in demonstration_steps(events)]
    assert actions == [TypeText(text="ab"), TypeText(text="cd"), Click(point=desktop(5, 5)), TypeText(text="ef")]


def test_the_stop_combination_is_left_out_only_at_the_end() -> None:
    stop = ("ctrl", "alt", "shift", "t")
    events = [key(1.0, "t", *stop[:3]), *typed(2.0, "x"), key(3.0, "c", "ctrl"), key(3.5, "t", "shift", "ctrl", "alt")]
    actions = [s.action for s in demonstration_steps(events, stop_combos=[stop, ("ctrl", "c")])]
    assert actions == [Hotkey(keys=stop), TypeText(text="x")]


def test_a_release_without_its_press_and_events_out_of_order() -> None:
    events = [PointerInput(0.5, False, "left", 1, 1), *reversed(click(1.0, 50, 60))]
    assert [s.action for s in demonstration_steps(events)] == [Click(point=desktop(50, 60))]


def test_very_long_text_is_split_at_the_actions_limit() -> None:
    steps = demonstration_steps(typed(0.0, "a" * 10_050))
    assert [len(s.action.text) for s in steps] == [10_000, 50]  # type: ignore[union-attr]
