"""The privacy mask fed by X events: an unchanged desktop reads nothing, and a denied window opened, moved,
raised or retitled is masked in the very next grabbed frame, with and without a window manager, with the
events read on the connection the frames are grabbed on (no round trip per frame) and on the watcher's own
connection (one round trip per frame, where mss does not grab over XCB).

The windows here are plain X windows whose background the X server paints the moment they are mapped
(no client repaint to wait for), in a colour nothing else on the rig shows, so "no pixel of that colour in
a masked frame" holds whatever the timing of the window manager, the server and the grab.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from omnidesk.agent.geometry import Rect
from omnidesk.runtime.capture import CaptureStream, MssScreen
from omnidesk.runtime.window_watch import WindowWatcher
from omnidesk.runtime.windows import WindowMask
from tests.rig import wait_until
from tests.rig.xserver import start_xvfb

pytestmark = pytest.mark.desktop

MAGENTA = 0xFF00FF
DENY = ["KeePassXC"]


def _magenta(pixels: np.ndarray) -> int:
    """Pixels of the test windows' colour (BGRA 255, 0, 255)."""
    return int(np.count_nonzero((pixels[:, :, 0] == 255) & (pixels[:, :, 1] == 0) & (pixels[:, :, 2] == 255)))


class Windows:
    """Plain X windows made on the test's own X connection."""

    def __init__(self) -> None:
        from Xlib.display import Display

        self.conn = Display()
        self.screen = self.conn.screen()
        self.made: list[Any] = []

    def open(self, title: str, rect: Rect, colour: int = MAGENTA) -> Any:
        window = self.screen.root.create_window(
            rect.x, rect.y, rect.width, rect.height, 0, self.screen.root_depth, background_pixel=colour
        )
        window.set_wm_name(title)
        window.set_wm_class("vault", "Vault")
        window.map()
        self.conn.flush()
        self.made.append(window)
        return window

    def close(self) -> None:
        for window in self.made:
            window.destroy()
        self.conn.close()


@pytest.fixture(params=["openbox", "no window manager"])
def desktop(request: pytest.FixtureRequest, x_display: object) -> Iterator[Windows]:
    if request.param == "openbox":
        request.getfixturevalue("window_manager")
    windows = Windows()
    try:
        yield windows
    finally:
        windows.close()


@pytest.fixture(params=["events where grabbed", "events on its own connection"])
def screens(request: pytest.FixtureRequest) -> Iterator[tuple[MssScreen, MssScreen, WindowWatcher]]:
    """A masked screen (the watcher behind it) and a bare one (ground truth: is the window shown?)."""
    watcher = WindowWatcher()
    masked, bare = MssScreen(mask=WindowMask(watcher, DENY)), MssScreen()
    if request.param == "events on its own connection":
        masked.grab(1)
        watcher.grabbing_on(None)  # as where mss has no XCB connection to read events on
    try:
        yield masked, bare, watcher
    finally:
        masked.close()
        bare.close()


def _shown(bare: MssScreen) -> bool:
    return _magenta(np.asarray(bare.grab(1).pixels)) > 0


def test_an_unchanged_desktop_reads_the_window_list_once(
    desktop: Windows, screens: tuple[MssScreen, MssScreen, WindowWatcher], request: pytest.FixtureRequest
) -> None:
    masked, bare, watcher = screens
    window = desktop.open("Notes", Rect(300, 200, 400, 300))
    wait_until(lambda: _shown(bare), 10, "the window to be shown")
    masked.grab(1)
    reads, trips = watcher.reads, watcher.round_trips
    for _ in range(30):
        masked.grab(1)
    assert watcher.reads == reads  # thirty frames, not one list read
    if request.node.callspec.params["screens"] == "events where grabbed":
        assert watcher.round_trips == trips  # the events came with the pixels: not one round trip either
    else:
        assert watcher.round_trips == trips + 30
    window.set_wm_name("Notes - changed")
    desktop.conn.sync()
    masked.grab(1)
    assert watcher.reads > reads  # a title change is an event, and the list is read again


def test_a_denied_window_is_masked_from_the_first_frame_it_shows_in(
    desktop: Windows, screens: tuple[MssScreen, MssScreen, WindowWatcher]
) -> None:
    masked, bare, _ = screens
    masked.grab(1)
    desktop.open("Passwords - KeePassXC", Rect(300, 200, 400, 300))
    frames = 0
    while not _shown(bare):  # grab as fast as possible while the window manager maps it
        assert _magenta(np.asarray(masked.grab(1).pixels)) == 0
        frames += 1
        assert frames < 2000, "the window never showed"
    for _ in range(5):
        assert _magenta(np.asarray(masked.grab(1).pixels)) == 0


def test_a_denied_window_moved_raised_or_resized_is_masked_in_the_next_frame(
    desktop: Windows, screens: tuple[MssScreen, MssScreen, WindowWatcher]
) -> None:
    masked, bare, _ = screens
    window = desktop.open("Passwords - KeePassXC", Rect(300, 200, 400, 300))
    other = desktop.open("Notes", Rect(1200, 600, 300, 200))
    other.change_attributes(background_pixel=0x00FF00)  # green: the other window is not what we look for
    other.clear_area()
    wait_until(lambda: _shown(bare), 10, "the window to be shown")
    rng = random.Random(7)
    for i in range(40):
        x, y = rng.randrange(0, 1500), rng.randrange(0, 800)
        if i % 4 == 3:
            window.configure(x=x, y=y, width=rng.randrange(100, 500), height=rng.randrange(100, 400))
        elif i % 4 == 2:
            window.configure(stack_mode=0)  # Above: raise it
        else:
            window.configure(x=x, y=y)
        desktop.conn.flush()
        frame = np.asarray(masked.grab(1).pixels)  # at once: the move may land before, during or after
        assert _magenta(frame) == 0, f"move {i}: denied pixels leaked"
    wait_until(lambda: _shown(bare), 10, "the window to be shown where it ended")


def test_a_window_retitled_to_a_denied_title_is_masked_in_the_next_frame(
    desktop: Windows, screens: tuple[MssScreen, MssScreen, WindowWatcher]
) -> None:
    masked, bare, _ = screens
    window = desktop.open("Notes", Rect(300, 200, 400, 300))
    wait_until(lambda: _magenta(np.asarray(masked.grab(1).pixels)) > 0, 10, "the allowed window in masked frames")
    window.set_wm_name("Vault - KeePassXC")
    desktop.conn.sync()  # the server has the new title: every frame from now on must hide the window
    assert _magenta(np.asarray(masked.grab(1).pixels)) == 0
    assert _shown(bare)


def test_a_capture_thread_masks_a_moving_denied_window_in_every_frame(desktop: Windows) -> None:
    """The capture thread grabs on its own mss connection: its watch reads the events there, apart from
    any other thread's, with no round trip per frame."""
    watcher = WindowWatcher()
    masked, bare = MssScreen(mask=WindowMask(watcher, DENY)), MssScreen()
    window = desktop.open("Passwords - KeePassXC", Rect(300, 200, 400, 300))
    rng = random.Random(11)
    frames = []
    try:
        wait_until(lambda: _shown(bare), 10, "the window to be shown")
        with CaptureStream(masked, fps=30, buffer_frames=256) as stream:
            seq = stream.wait_frame(0).seq
            for _ in range(20):
                window.configure(x=rng.randrange(0, 1500), y=rng.randrange(0, 800))
                desktop.conn.flush()
                seq = stream.wait_frame(seq).seq
            frames = stream.frames_since(-1.0)
    finally:
        masked.close()
        bare.close()
    assert len(frames) >= 20
    assert all(_magenta(np.asarray(f.pixels)) == 0 for f in frames)
    assert watcher.round_trips <= watcher.reads + 1  # selections before list reads, none per frame


def _frame_rect(windows: Windows, window: Any) -> Rect:
    """Where ``window``'s top-level window (its frame under a window manager) is, asked of the X server."""
    root = windows.screen.root
    while (parent := window.query_tree().parent) != root:
        window = parent
    geom = window.get_geometry()
    border = int(geom.border_width)
    return Rect(int(geom.x), int(geom.y), int(geom.width) + 2 * border, int(geom.height) + 2 * border)


class _Settled:
    """A masked frame and a bare one of a still desktop, once the mask, too, is still: the masked frame the
    same as the one before (the frame right after a change may also hide where windows were a moment ago)."""

    def __init__(self, masked: MssScreen, bare: MssScreen) -> None:
        self.masked, self.bare = masked, bare
        self.last: np.ndarray | None = None

    def __call__(self) -> tuple[np.ndarray, np.ndarray] | None:
        before = np.asarray(self.bare.grab(1).pixels)
        frame = np.asarray(self.masked.grab(1).pixels)
        after = np.asarray(self.bare.grab(1).pixels)
        last, self.last = self.last, frame
        still = np.array_equal(before, after) and last is not None and np.array_equal(last, frame)
        return (frame, after) if still else None


def test_a_masked_frame_is_the_bare_grab_with_only_the_denied_window_black(
    desktop: Windows, screens: tuple[MssScreen, MssScreen, WindowWatcher]
) -> None:
    """Opened, then moved: the very next frame hides it, and once the desktop is still every pixel outside
    the denied window is the bare grab's, byte for byte (no stale rectangle where it was)."""
    masked, bare, _ = screens
    masked.grab(1)
    desktop.open("Wallpaper", Rect(0, 0, 1920, 1080), colour=0x336699)  # no black but the mask's
    window = desktop.open("Passwords - KeePassXC", Rect(200, 150, 400, 300))
    for target in (None, (700, 350)):
        if target is not None:
            window.configure(x=target[0], y=target[1])
            desktop.conn.flush()
        assert _magenta(np.asarray(masked.grab(1).pixels)) == 0  # the very next frame
        wait_until(lambda: _shown(bare), 10, "the window to be shown")
        if target is not None:
            wait_until(lambda: _frame_rect(desktop, window).x > 500, 10, "the window to move")
        frame, truth = wait_until(_Settled(masked, bare), 10, "a still desktop and mask")
        black = _frame_rect(desktop, window).intersect(Rect(0, 0, truth.shape[1], truth.shape[0]))
        assert black is not None
        inside = np.zeros(truth.shape[:2], bool)
        inside[black.y : black.bottom, black.x : black.right] = True
        wrong = np.argwhere((frame != truth).any(axis=2) & ~inside)
        assert len(wrong) == 0, (
            f"{target}: {len(wrong)} pixels outside {black} changed, {wrong.min(0)}..{wrong.max(0)} (y, x)"
        )
        assert not frame[inside][:, :3].any(), f"{target}: the denied window is not black"
        assert np.array_equal(frame[inside][:, 3], truth[inside][:, 3])  # alpha as grabbed


@pytest.mark.allow_log_errors
def test_the_whole_frame_is_black_once_the_watchers_connection_is_gone(tmp_path: Path) -> None:
    server = start_xvfb(tmp_path)
    watcher = WindowWatcher(server.display)
    mask = WindowMask(watcher, DENY)
    try:
        mask.prepare()
        pixels = np.full((60, 80, 4), 200, np.uint8)
        assert mask.apply(pixels, Rect(0, 0, 80, 60)) == 0  # a live desktop with nothing denied on it
        server.stop()
        assert mask.apply(pixels, Rect(0, 0, 80, 60)) == 60 * 80
        assert (pixels[:, :, :3] == 0).all() and (pixels[:, :, 3] == 200).all()
    finally:
        watcher.close()
        server.stop()
