"""Spare keys: characters the keymap lacks are put on unused keycodes before typing, and some stay free."""

from __future__ import annotations

import pytest

from omnidesk.runtime.keymap import SpareKeys, keysym_for


def test_keysyms_are_xs_for_latin1_and_unicode() -> None:
    assert [keysym_for(c) for c in "a ß東\n"] == [0x61, 0x20, 0xDF, 0x0100_6771, None]


def _keymap() -> tuple[set[int], int]:
    from Xlib.display import Display

    display = Display()
    try:
        first = display.display.info.min_keycode
        keymap = display.get_keyboard_mapping(first, display.display.info.max_keycode - first + 1)
    finally:
        display.close()
    present = {ks for syms in keymap for ks in list(syms)[:2] if ks}
    free = sum(1 for syms in keymap if not any(syms))
    return present, free


@pytest.mark.desktop
def test_missing_characters_are_mapped_and_some_keycodes_stay_free(x_display: object) -> None:
    _, free_before = _keymap()
    keys = SpareKeys()
    keys.ensure("Grüße <ok> 東京")
    present, _ = _keymap()
    assert {keysym_for(c) for c in "üß東京"} <= present
    many = "".join(chr(0x4E00 + i) for i in range(400))  # more than there are unused keycodes
    keys.ensure(many)
    present, free_after = _keymap()
    assert free_after >= 4  # xdotool can still remap what did not fit
    keys.ensure("東京")  # our own keycodes are reused for what is needed now
    present, _ = _keymap()
    assert {keysym_for(c) for c in "東京"} <= present
    keys.release()  # and given back: the keymap is as it was
    present, free_end = _keymap()
    assert keysym_for("東") not in present and free_end == free_before
