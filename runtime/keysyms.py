"""X keysyms as Omnidesk's key names and as the characters they type.

A key press reaches the input recorder as a keycode and a modifier state; the keyboard map turns it into a
keysym, and this module turns the keysym into either a canonical key name (``agent/keys.py``: ``enter``,
``ctrl``, ``f5``) or the character it types. Characters come from libxkbcommon's
``xkb_keysym_to_utf32`` (the keysym → Unicode table every X and Wayland toolkit uses; the library is
installed with Qt's X11 platform plugin); without it, Latin-1 and Unicode keysyms (``0x01000000 + code
point``, what ``xdotool type`` and on-screen keyboards send) are still read, legacy ones (Cyrillic, Greek
layouts) are not.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
from typing import Any

__all__ = ["LEVEL3_KEYSYMS", "MODE_SWITCH", "keysym_char", "keysym_name", "modifier_name"]

log = logging.getLogger(__name__)

MODE_SWITCH = 0xFF7E
LEVEL3_KEYSYMS = frozenset({0xFE03, 0xFE11})  # ISO_Level3_Shift, ISO_Level5_Shift: AltGr-like level keys

_NAMES: dict[int, str] = {
    0xFF0D: "enter", 0xFF8D: "enter", 0xFF09: "tab", 0xFE20: "tab", 0xFF1B: "esc", 0xFF08: "backspace",
    0xFFFF: "delete", 0xFF9F: "delete", 0xFF50: "home", 0xFF95: "home", 0xFF57: "end", 0xFF9C: "end",
    0xFF51: "left", 0xFF96: "left", 0xFF52: "up", 0xFF97: "up", 0xFF53: "right", 0xFF98: "right",
    0xFF54: "down", 0xFF99: "down", 0xFF55: "pageup", 0xFF9A: "pageup", 0xFF56: "pagedown",
    0xFF9B: "pagedown", 0xFF63: "insert", 0xFF9E: "insert", 0xFF61: "printscreen", 0xFF13: "pause",
    0xFF67: "menu", 0xFFE5: "capslock", 0xFF7F: "numlock", 0xFF14: "scrolllock",
    0x1008FF13: "volumeup", 0x1008FF11: "volumedown", 0x1008FF12: "volumemute", 0x1008FF14: "playpause",
    0x1008FF17: "nexttrack", 0x1008FF16: "prevtrack",
} | {0xFFBE + n: f"f{n + 1}" for n in range(24)}  # fmt: skip

_MODIFIERS: dict[int, str] = {
    0xFFE1: "shift", 0xFFE2: "shift", 0xFFE3: "ctrl", 0xFFE4: "ctrl", 0xFFE9: "alt", 0xFFEA: "alt",
    0xFFE7: "alt", 0xFFE8: "alt", 0xFFEB: "super", 0xFFEC: "super", 0xFFED: "super", 0xFFEE: "super",
}  # fmt: skip


def modifier_name(keysym: int) -> str | None:
    """``ctrl``/``alt``/``shift``/``super`` for a modifier key's keysym (Meta counts as Alt, Hyper as
    Super); None for anything else (AltGr is a level key: it changes characters, not a hotkey)."""
    return _MODIFIERS.get(keysym)


def keysym_name(keysym: int) -> str | None:
    """The canonical name of a key that types no character (Enter, arrows, F-keys, modifiers), or None."""
    return _NAMES.get(keysym) or _MODIFIERS.get(keysym)


@functools.cache
def _xkb_to_utf32() -> Any:
    name = ctypes.util.find_library("xkbcommon") or "libxkbcommon.so.0"
    try:
        library = ctypes.CDLL(name)
    except OSError as exc:
        log.warning("libxkbcommon is not installed (%s): only Latin-1 and Unicode keysyms are read as text", exc)
        return None
    function = library.xkb_keysym_to_utf32
    function.argtypes = [ctypes.c_uint32]
    function.restype = ctypes.c_uint32
    return function


def keysym_char(keysym: int) -> str:
    """The character a keysym types ("" for none, and for control characters such as Return's CR)."""
    if keysym in _NAMES or keysym in _MODIFIERS or keysym <= 0:
        return ""
    convert = _xkb_to_utf32()
    if convert is not None:
        code = int(convert(keysym))
    elif 0x20 <= keysym <= 0xFF:
        code = keysym
    elif 0x01000000 <= keysym <= 0x0110FFFF:
        code = keysym - 0x01000000
    else:
        code = 0
    if code < 0x20 or 0x7F <= code < 0xA0 or code > 0x10FFFF or 0xD800 <= code < 0xE000:
        return ""
    return chr(code)
