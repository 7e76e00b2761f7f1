"""Which windows a rule names: the one matcher behind the screen mask, the keyboard deny-list, terminal
recognition and secret bindings.

A pattern is a regular expression, matched case-insensitively against the window's title and against
*each* WM_CLASS part (instance and class) separately. It has to match a word-bounded span: the
characters just before and after the match must not be letters or digits. So ``KeePassXC`` names
``("keepassxc", "KeePassXC")`` and the title ``Passwords - KeePassXC``, ``chrome`` names
``google-chrome``, but ``pass`` does not name ``Passport photo`` and ``KeePass`` does not name
``KeePassXC`` (list both, as the defaults do). The same rule decides what the screen mask blacks out
and where the keyboard may not go, so a window is never hidden from the model yet typed into, or the
other way round.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from omnidesk.agent.errors import ConfigError
from omnidesk.agent.ports import WindowInfo

__all__ = ["TERMINAL_CLASSES", "WindowMatcher", "compile_window_pattern", "window_label"]

TERMINAL_CLASSES: tuple[str, ...] = (
    r"u?xterm",
    r"gnome-terminal(-server)?",
    r"org\.gnome\.(Console|Ptyxis|Terminal)",
    r"kgx",
    r"ptyxis",
    r"konsole",
    r"org\.kde\.konsole",
    r"yakuake",
    r"xfce4-terminal",
    r"mate-terminal",
    r"lxterminal",
    r"qterminal",
    r"terminology",
    r"alacritty",
    r"kitty",
    r"terminator",
    r"tilix",
    r"com\.gexperts\.Tilix",
    r"u?rxvt(-unicode)?",
    r"urxvt",
    r"st(-256color)?",
    r"wezterm(-gui)?",
    r"org\.wezfurlong\.wezterm",
    r"foot(client)?",
    r"sakura",
    r"guake",
    r"tilda",
    r"cool-retro-term",
    r"eterm",
    r"aterm",
    r"contour",
    r"rio",
    r"ghostty",
    r"com\.mitchellh\.ghostty",
    r"blackbox",
    r"com\.raggesilver\.BlackBox",
    r"deepin-terminal",
    r"io\.elementary\.terminal",
    r"cosmic-term",
    r"hyper",
    r"tabby",
    r"dev\.warp\.Warp",
    r"warp",
    r"x-terminal-emulator",
)
"""WM_CLASS parts of terminal emulators: typing or Enter there runs commands (``SafetyConfig.terminal_windows``
adds more)."""

_BEFORE, _AFTER = r"(?<![^\W_])(?:", r")(?![^\W_])"


def compile_window_pattern(pattern: str, what: str) -> re.Pattern[str]:
    """``pattern`` as the matcher uses it (word-bounded, case-insensitive).

    Raises:
        ConfigError: not a valid regular expression (``what`` names the setting).
    """
    try:
        return re.compile(_BEFORE + pattern + _AFTER, re.IGNORECASE)
    except re.error as exc:
        raise ConfigError(f"the {what} pattern {pattern!r} is not a valid regular expression: {exc}") from exc


def window_label(window: WindowInfo) -> str:
    """``'Title' (class instance/Class)`` — how a window is named to the person and in refusals."""
    parts = "/".join(window.wm_class) or "none"
    return f"{window.title!r} (class {parts})"


@dataclass(frozen=True, slots=True)
class _Compiled:
    source: str
    pattern: re.Pattern[str]


class WindowMatcher:
    """Patterns matched against title and WM_CLASS parts (see the module doc), plus Omnidesk's own windows.

    Raises:
        ConfigError: a pattern is not a valid regular expression.
    """

    def __init__(self, patterns: Iterable[str], *, own_pids: Collection[int] = (), what: str = "window") -> None:
        self._patterns = tuple(_Compiled(p, compile_window_pattern(p, what)) for p in patterns)
        self._own_pids = frozenset(own_pids)

    @property
    def patterns(self) -> tuple[str, ...]:
        return tuple(p.source for p in self._patterns)

    def match(self, window: WindowInfo) -> str | None:
        """Why ``window`` is named (the pattern, or ``Omnidesk's own window``), or ``None``."""
        if window.pid is not None and window.pid in self._own_pids:
            return "Omnidesk's own window"
        for compiled in self._patterns:
            if compiled.pattern.search(window.title) or any(compiled.pattern.search(p) for p in window.wm_class):
                return compiled.source
        return None

    def matches(self, window: WindowInfo) -> bool:
        return self.match(window) is not None

    def matches_class(self, window: WindowInfo) -> bool:
        """Whether a pattern names one of the window's WM_CLASS parts (the title is not looked at)."""
        return any(c.pattern.search(p) for c in self._patterns for p in window.wm_class)

    def matches_title(self, window: WindowInfo) -> bool:
        """Whether a pattern names the window's title (WM_CLASS is not looked at)."""
        return any(c.pattern.search(window.title) for c in self._patterns)
