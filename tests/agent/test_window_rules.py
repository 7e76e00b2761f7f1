"""The one window matcher: word-bounded, each WM_CLASS part on its own, the title, Omnidesk's own windows."""

from __future__ import annotations

import pytest

from omnidesk.agent.errors import ConfigError
from omnidesk.agent.geometry import Rect
from omnidesk.agent.ports import WindowInfo
from omnidesk.agent.window_rules import TERMINAL_CLASSES, WindowMatcher, window_label

R = Rect(0, 0, 10, 10)


def win(title: str, *wm_class: str, pid: int | None = None) -> WindowInfo:
    return WindowInfo(1, title, tuple(wm_class), R, pid)


@pytest.mark.parametrize(
    ("patterns", "window", "named"),
    [
        (["KeePassXC"], win("Vault", "keepassxc", "KeePassXC"), True),  # by class part, case-insensitive
        (["keepassxc"], win("Passwords - KeePassXC", "x", "X"), True),  # by a title word
        (["KeePass"], win("Vault", "keepassxc", "KeePassXC"), False),  # not a prefix of a word
        (["pass"], win("Passport photo", "eog", "Eog"), False),
        (["pass"], win("pass - the standard unix password manager", "qtpass", "QtPass"), True),
        (["chrome"], win("New Tab", "google-chrome", "Google-chrome"), True),
        (["Bitwarden|1Password"], win("1Password", "1password", "1Password"), True),
        (["a{2}"], win("aa", "x", "X"), True),  # braces in a pattern stay a quantifier
        (["firefox"], win("Mozilla Firefox", "Navigator", "firefox"), True),
        (["Navigator firefox"], win("x", "Navigator", "firefox"), False),  # the joined string is not a part
    ],
)
def test_matcher(patterns: list[str], window: WindowInfo, named: bool) -> None:
    assert WindowMatcher(patterns).matches(window) is named


def test_own_windows_are_named() -> None:
    matcher = WindowMatcher([], own_pids={42})
    assert matcher.match(win("Omnidesk", "omnidesk", "Omnidesk", pid=42)) == "Omnidesk's own window"
    assert not matcher.matches(win("Omnidesk", "omnidesk", "Omnidesk", pid=7))


@pytest.mark.parametrize(
    "wm_class",
    [("xterm", "XTerm"), ("gnome-terminal-server", "Gnome-terminal"), ("konsole", "konsole"),
     ("xfce4-terminal", "Xfce4-terminal"), ("Alacritty", "Alacritty"), ("kitty", "kitty"),
     ("terminator", "Terminator"), ("tilix", "Tilix"), ("urxvt", "URxvt"), ("st-256color", "st-256color"),
     ("org.wezfurlong.wezterm", "org.wezfurlong.wezterm"), ("foot", "foot"), ("kgx", "kgx")],
)  # fmt: skip
def test_terminal_classes(wm_class: tuple[str, str]) -> None:
    terminals = WindowMatcher(TERMINAL_CLASSES)
    assert terminals.matches_class(win("~", *wm_class))


@pytest.mark.parametrize(
    "wm_class", [("Navigator", "firefox"), ("gedit", "Gedit"), ("code", "Code"), ("steam", "Steam")]
)
def test_not_terminals(wm_class: tuple[str, str]) -> None:
    assert not WindowMatcher(TERMINAL_CLASSES).matches_class(win("Terminal tips", *wm_class))


def test_errors_and_labels() -> None:
    with pytest.raises(ConfigError, match="deny-list pattern"):
        WindowMatcher(["("], what="deny-list")
    with pytest.raises(TypeError, match="tuple"):
        WindowInfo(1, "x", "a b", R)  # type: ignore[arg-type]
    assert window_label(win("Vault", "keepassxc", "KeePassXC")) == "'Vault' (class keepassxc/KeePassXC)"
