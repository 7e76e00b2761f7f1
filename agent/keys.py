"""Key names across conventions, normalised to one canonical set.

Models write keys the way their training data did: pyautogui (``ctrl``, ``enter``, ``pgdn``), xdotool /
X keysyms (``Control_L``, ``Return``, ``Page_Down``), or prose (``Ctrl``, ``cmd``, ``return``). The
input device and the safety policy only ever see the canonical names below (pyautogui's, lowercase).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["MODIFIERS", "KeyNameError", "is_known_key", "normalize_combo", "normalize_key", "to_xdotool"]

MODIFIERS = frozenset({"ctrl", "alt", "shift", "super"})

_NAMED = frozenset(
    {
        "enter", "esc", "tab", "backspace", "delete", "space", "insert", "home", "end", "pageup",
        "pagedown", "up", "down", "left", "right", "capslock", "numlock", "scrolllock", "printscreen",
        "pause", "menu", "volumeup", "volumedown", "volumemute", "playpause", "nexttrack", "prevtrack",
    }
    | {f"f{i}" for i in range(1, 25)}
    | MODIFIERS
)  # fmt: skip

_ALIASES: dict[str, str] = {
    "control": "ctrl", "ctl": "ctrl", "controll": "ctrl", "lctrl": "ctrl", "rctrl": "ctrl",
    "ctrlleft": "ctrl", "ctrlright": "ctrl", "controlleft": "ctrl", "controlright": "ctrl",
    "altleft": "alt", "altright": "alt", "option": "alt", "opt": "alt", "lalt": "alt", "ralt": "alt",
    "altgr": "alt", "meta": "alt",
    "shiftleft": "shift", "shiftright": "shift", "lshift": "shift", "rshift": "shift",
    "win": "super", "winleft": "super", "winright": "super", "windows": "super", "cmd": "super",
    "command": "super", "superl": "super", "superr": "super", "gui": "super", "os": "super",
    "return": "enter", "ret": "enter", "kpenter": "enter", "\n": "enter", "\r": "enter",
    "escape": "esc", "del": "delete", "bksp": "backspace", "backspc": "backspace", "bs": "backspace",
    "spacebar": "space", " ": "space", "\t": "tab",
    "pgup": "pageup", "prior": "pageup", "pgdn": "pagedown", "next": "pagedown", "pagedn": "pagedown",
    "arrowup": "up", "arrowdown": "down", "arrowleft": "left", "arrowright": "right",
    "uparrow": "up", "downarrow": "down", "leftarrow": "left", "rightarrow": "right",
    "ins": "insert", "prtsc": "printscreen", "prtscr": "printscreen", "print": "printscreen",
    "prntscrn": "printscreen", "apps": "menu", "capital": "capslock", "caps": "capslock",
    "audioraisevolume": "volumeup", "audiolowervolume": "volumedown", "audiomute": "volumemute",
    "audioplay": "playpause",
}  # fmt: skip

_SYMBOLS: dict[str, str] = {
    "plus": "+", "minus": "-", "equal": "=", "comma": ",", "period": ".", "slash": "/",
    "backslash": "\\", "semicolon": ";", "apostrophe": "'", "grave": "`", "bracketleft": "[",
    "bracketright": "]", "underscore": "_", "asterisk": "*", "exclam": "!", "at": "@",
    "numbersign": "#", "dollar": "$", "percent": "%", "asciicircum": "^", "ampersand": "&",
    "parenleft": "(", "parenright": ")", "colon": ":", "quotedbl": '"', "less": "<", "greater": ">",
    "question": "?", "bar": "|", "braceleft": "{", "braceright": "}", "asciitilde": "~",
}  # fmt: skip

_XDOTOOL: dict[str, str] = {
    "ctrl": "ctrl", "alt": "alt", "shift": "shift", "super": "super", "enter": "Return",
    "esc": "Escape", "tab": "Tab", "backspace": "BackSpace", "delete": "Delete", "space": "space",
    "insert": "Insert", "home": "Home", "end": "End", "pageup": "Prior", "pagedown": "Next",
    "up": "Up", "down": "Down", "left": "Left", "right": "Right", "capslock": "Caps_Lock",
    "numlock": "Num_Lock", "scrolllock": "Scroll_Lock", "printscreen": "Print", "pause": "Pause",
    "menu": "Menu", "volumeup": "XF86AudioRaiseVolume", "volumedown": "XF86AudioLowerVolume",
    "volumemute": "XF86AudioMute", "playpause": "XF86AudioPlay", "nexttrack": "XF86AudioNext",
    "prevtrack": "XF86AudioPrev",
}  # fmt: skip
_XDOTOOL_SYMBOLS = {v: k for k, v in _SYMBOLS.items()}

_SPLIT = re.compile(r"\s*\+\s*(?=.)|\s+")


class KeyNameError(ValueError):
    """A key name that no convention knows."""


def normalize_key(name: str) -> str:
    """The canonical name of one key (``"Control_L"`` → ``"ctrl"``, ``"Return"`` → ``"enter"``).

    Raises:
        KeyNameError: unknown key name.
    """
    if len(name) == 1:
        if name in _ALIASES:
            return _ALIASES[name]
        return name.lower() if name.isalpha() else name
    key = name.strip().lower().replace("_", "").replace("-", "")
    if key.startswith("kp") and len(key) == 3 and key[2].isdigit():
        return key[2]
    if key.endswith(("l", "r")) and key[:-1] in {"control", "alt", "shift", "super", "meta", "hyper"}:
        key = key[:-1]
    if key in _NAMED:
        return key
    if key in _ALIASES:
        return _ALIASES[key]
    if key in _SYMBOLS:
        return _SYMBOLS[key]
    raise KeyNameError(f"unknown key name {name!r}")


def is_known_key(name: str) -> bool:
    try:
        normalize_key(name)
    except KeyNameError:
        return False
    return True


def normalize_combo(keys: str | Iterable[str]) -> tuple[str, ...]:
    """Normalise a key combination: ``"Ctrl+Shift+T"`` or ``["cmd", "w"]`` → ``("ctrl", "shift", "t")``.

    Modifiers come first in a fixed order (ctrl, alt, shift, super), duplicates are dropped.

    Raises:
        KeyNameError: an unknown key name or an empty combination.
    """
    if isinstance(keys, str):
        parts = [keys] if len(keys.strip()) <= 1 else [p for p in _SPLIT.split(keys.strip()) if p]
    else:
        parts = list(keys)
    names: list[str] = []
    for part in parts:
        key = normalize_key(part)
        if key not in names:
            names.append(key)
    if not names:
        raise KeyNameError("empty key combination")
    order = ["ctrl", "alt", "shift", "super"]
    mods = [k for k in order if k in names]
    return (*mods, *(k for k in names if k not in MODIFIERS))


def to_xdotool(key: str) -> str:
    """The X keysym xdotool understands for a canonical key name."""
    if key in _XDOTOOL:
        return _XDOTOOL[key]
    if key in _XDOTOOL_SYMBOLS:
        return _XDOTOOL_SYMBOLS[key]
    return key
