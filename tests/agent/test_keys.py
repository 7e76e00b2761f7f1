"""Key names from every convention normalise to one canonical set (and to xdotool keysyms)."""

from __future__ import annotations

import pytest

from omnidesk.agent.keys import KeyNameError, normalize_combo, normalize_key, to_xdotool


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("Ctrl", "ctrl"),
        ("Control_L", "ctrl"),
        ("ctrlleft", "ctrl"),
        ("cmd", "super"),
        ("Super_L", "super"),
        ("win", "super"),
        ("Return", "enter"),
        ("return", "enter"),
        ("Escape", "esc"),
        ("Page_Down", "pagedown"),
        ("pgdn", "pagedown"),
        ("Prior", "pageup"),
        ("BackSpace", "backspace"),
        ("del", "delete"),
        ("F5", "f5"),
        ("A", "a"),
        ("plus", "+"),
        ("KP_7", "7"),
        ("Alt_R", "alt"),
        ("ArrowUp", "up"),
    ],
)
def test_normalize_key(name: str, canonical: str) -> None:
    assert normalize_key(name) == canonical


@pytest.mark.parametrize(
    ("combo", "expected"),
    [
        ("Ctrl+Shift+T", ("ctrl", "shift", "t")),
        ("shift+ctrl+t", ("ctrl", "shift", "t")),
        ("ctrl c", ("ctrl", "c")),
        (["cmd", "W"], ("super", "w")),
        ("ctrl++", ("ctrl", "+")),
        ("+", ("+",)),
        (["ctrl", "Control_L", "a"], ("ctrl", "a")),
    ],
)
def test_normalize_combo(combo: str | list[str], expected: tuple[str, ...]) -> None:
    assert normalize_combo(combo) == expected


@pytest.mark.parametrize("bad", ["hyperdrive", "", "ctrl+warp"])
def test_unknown_keys(bad: str) -> None:
    with pytest.raises(KeyNameError):
        normalize_combo(bad)


def test_xdotool_names() -> None:
    assert [to_xdotool(k) for k in ("enter", "pagedown", "+", "a", "ctrl", "esc")] == [
        "Return",
        "Next",
        "plus",
        "a",
        "ctrl",
        "Escape",
    ]
