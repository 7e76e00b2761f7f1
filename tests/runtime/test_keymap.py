"""Spare keys: characters the keymap lacks are put on unused keycodes before typing, and some stay free."""

from __future__ import annotations

import time

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


def _wait_for_earlier_typing_to_give_its_keys_back() -> None:
    """Input devices of earlier tests give their spare keycodes back a while after they typed."""
    deadline = time.monotonic() + 30
    while {keysym_for(c) for c in "üß東京"} & _keymap()[0] and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.mark.desktop
def test_missing_characters_are_mapped_and_some_keycodes_stay_free(x_display: object) -> None:
    _wait_for_earlier_typing_to_give_its_keys_back()
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


@pytest.mark.desktop
def test_an_instance_does_not_give_back_keys_another_one_is_typing_with(x_display: object) -> None:
    """Two input devices in one process, one typing right after the other: the second finds ß already on
    the keyboard (the first one's keycode) and types on it, so the first must not unmap it meanwhile."""
    _wait_for_earlier_typing_to_give_its_keys_back()
    first, second = SpareKeys(), SpareKeys()
    first.ensure("ß")
    first.release_later(0.05)  # the first typing ended
    second.ensure("Grüße")  # the second starts before the first gives its keys back
    assert keysym_for("ß") in _keymap()[0]
    deadline = time.monotonic() + 0.5  # ten times the first one's delay: its timer has fired by then
    while time.monotonic() < deadline:
        assert keysym_for("ß") in _keymap()[0], "given back while another instance was typing with it"
        time.sleep(0.02)
    second.release_later(0.05)  # the second typing ended: now both give theirs back
    deadline = time.monotonic() + 30
    while {keysym_for("ß"), keysym_for("ü")} & _keymap()[0] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not {keysym_for("ß"), keysym_for("ü")} & _keymap()[0]
