"""EVS on the real rig: real captures of the Qt target app while it is typed into, its menu opens, its caret
blinks and a spinner window animates next to it.

Ground truth: the exact pixel difference between consecutive captured frames inside the rectangles the
script repaints (text field, menu bar, menu popup, spinner). A change of the text field while no text
event came from the app is the caret blinking, labelled not-content.
"""

from __future__ import annotations

import math
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from omnidesk.agent.geometry import Rect
from omnidesk.runtime.capture import CaptureStream, MssScreen
from omnidesk.runtime.config import EvsConfig
from omnidesk.runtime.evs import EvsCore, PatchGrid
from omnidesk.runtime.evs_sampler import EvsSampler
from tests.rig.target_client import TargetApp

pytestmark = pytest.mark.desktop

Launcher = Callable[..., TargetApp]
SPINNER = Rect(1200, 300, 64, 64)


class XSpinner:
    """An override-redirect X window drawing a turning wedge every 50 ms from its own thread."""

    def __init__(self, rect: Rect) -> None:
        from Xlib import X, display

        self.rect = rect
        self._conn = display.Display()
        screen = self._conn.screen()
        self._window = screen.root.create_window(
            rect.x,
            rect.y,
            rect.width,
            rect.height,
            0,
            screen.root_depth,
            X.InputOutput,
            X.CopyFromParent,
            background_pixel=0x303030,
            override_redirect=True,
        )
        self._bg = self._window.create_gc(foreground=0x303030)
        self._fg = self._window.create_gc(foreground=0xF0C040)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> XSpinner:
        self._window.map()
        self._conn.sync()
        self._thread.start()
        return self

    def _run(self) -> None:
        angle = 0
        w, h = self.rect.width, self.rect.height
        while not self._stop.wait(0.05):
            self._window.fill_rectangle(self._bg, 0, 0, w, h)
            self._window.fill_arc(self._fg, 4, 4, w - 8, h - 8, angle * 64, 90 * 64)
            self._conn.sync()
            angle = (angle + 30) % 360

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2)
        self._window.unmap()
        self._window.destroy()
        self._conn.sync()
        self._conn.close()


def _xdotool(*args: str) -> None:
    subprocess.run(["xdotool", *args], check=True, timeout=30)


def _patches(mask: npt.NDArray[np.bool_], grid: PatchGrid) -> npt.NDArray[np.bool_]:
    rows, cols = grid.shape
    p = grid.patch_px
    padded = np.zeros((rows * p, cols * p), dtype=np.bool_)
    padded[: mask.shape[0], : mask.shape[1]] = mask
    return padded.reshape(rows, p, cols, p).any(axis=(1, 3))


def _one_column_changes(mask: npt.NDArray[np.bool_], grid: PatchGrid) -> npt.NDArray[np.bool_]:
    """The changes of ``mask`` in patches where every changed pixel lies in one pixel column."""
    out = np.zeros_like(mask)
    p = grid.patch_px
    for r, c in zip(*np.nonzero(_patches(mask, grid)), strict=True):
        part = mask[r * p : (r + 1) * p, c * p : (c + 1) * p]
        if np.count_nonzero(part.any(axis=0)) == 1:
            out[r * p : (r + 1) * p, c * p : (c + 1) * p] = part
    return out


def _rect_mask(rects: list[Rect], shape: tuple[int, int]) -> npt.NDArray[np.bool_]:
    mask = np.zeros(shape, dtype=np.bool_)
    for r in rects:
        mask[r.y : r.bottom, r.x : r.right] = True
    return mask


@dataclass
class Tally:
    true_changes: int = 0
    detected: int = 0
    outside_flagged: int = 0
    frames: int = 0
    caret_frames: int = 0
    caret_flagged: int = 0

    @property
    def recall(self) -> float:
        return self.detected / self.true_changes if self.true_changes else math.nan


def _open_menu(app: TargetApp) -> dict[str, object]:
    x, y, _, h = app.widget_rect("menu_bar")
    since = time.monotonic()
    _xdotool("mousemove", str(x + 15), str(y + h // 2), "click", "1")
    return app.wait_for(lambda e: e["type"] == "menu_shown" and float(e["t"]) > since, timeout=5)


class Watch:
    """What the observing loop has seen so far: the script waits on it instead of sleeping."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.frames = 0  # frames observed
        self.last_t = 0.0  # the capture time of the newest one
        self.blinks = 0  # frames whose text-field change has a one-pixel-column part: the caret

    def saw(self, t: float, blink: bool) -> None:
        with self._cond:
            self.frames += 1
            self.last_t = t
            self.blinks += blink
            self._cond.notify_all()

    def wait(self, what: str, done: Callable[[], bool], timeout: float = 10.0) -> None:
        with self._cond:
            if not self._cond.wait_for(done, timeout):
                raise TimeoutError(f"the captured frames never showed {what} within {timeout} s")

    def wait_frames(self, what: str, n: int) -> None:
        start = self.frames
        self.wait(what, lambda: self.frames >= start + n)

    def wait_blinks(self, what: str, n: int) -> None:
        start = self.blinks
        self.wait(what, lambda: self.blinks >= start + n)

    def wait_shown(self, what: str, event: dict[str, object]) -> None:
        """Until a frame captured after the app reported ``event`` has been observed."""
        self.wait(what, lambda: self.last_t > float(event["t"]))  # type: ignore[arg-type]


def _script(app: TargetApp, watch: Watch, done: threading.Event, errors: list[BaseException]) -> None:
    try:
        watch.wait_frames("the spinner alone", 5)  # the scenario: a second of nothing but the animation
        x, y = app.widget_center("text_field")
        _xdotool("mousemove", str(x), str(y), "click", "1")
        _xdotool("type", "--delay", "120", "Now press save")  # the scenario: a person's typing pace
        typed = app.wait_for(lambda e: e["type"] == "text" and e["text"] == "Now press save", timeout=10)
        watch.wait_shown("the typed text", typed)
        watch.wait_blinks("the caret blinking alone", 2)
        watch.wait_shown("the open menu", _open_menu(app))
        since = time.monotonic()
        _xdotool("key", "Escape")
        closed = app.wait_for(
            lambda e: e["type"] == "key_press" and e.get("widget") == "file_menu" and float(e["t"]) > since, timeout=5
        )
        watch.wait_shown("the menu closing", closed)
        watch.wait_frames("the spinner alone again", 5)  # the scenario: a second after the menu closed
    except BaseException as exc:  # noqa: BLE001 - raised again in the test thread
        errors.append(exc)
    finally:
        done.set()


def test_evs_recall_on_the_real_rig(x_display: object, window_manager: object, target_app: Launcher) -> None:
    app = target_app(x=100, y=100, width=800, height=600, title="EVS target")
    shown = _open_menu(app)  # learn where the popup goes, then close it
    _xdotool("key", "Escape")
    menu_rect = Rect(*shown["rect"])  # type: ignore[misc]
    repaints = [
        Rect(*app.widget_rect("text_field")),
        Rect(*app.widget_rect("menu_bar")),
        menu_rect,
        SPINNER,
    ]
    text_field = repaints[0]
    spinner = XSpinner(SPINNER).start()
    core = EvsCore(EvsConfig(keyframe_seconds=1000))
    tally = Tally()
    watch = Watch()
    done = threading.Event()
    errors: list[BaseException] = []
    field_mask: npt.NDArray[np.bool_] | None = None
    try:
        with CaptureStream(MssScreen(), monitor=1, fps=5, buffer_frames=4) as stream:
            prev = stream.wait_frame(0, timeout=5)
            core.process(prev.pixels, prev.timestamp)
            app.clear()
            actor = threading.Thread(target=_script, args=(app, watch, done, errors), daemon=True)
            actor.start()
            observed: list[tuple[float, float, npt.NDArray[np.bool_], npt.NDArray[np.bool_]]] = []
            while not done.is_set():
                cur = stream.wait_frame(prev.seq, timeout=5)
                decision = core.process(cur.pixels, cur.timestamp)
                diff = (prev.pixels[:, :, :3] != cur.pixels[:, :, :3]).any(axis=2)
                observed.append((prev.timestamp, cur.timestamp, diff, decision.changed))
                if field_mask is None:
                    field_mask = _rect_mask([text_field], diff.shape)
                assert core.grid is not None
                watch.saw(cur.timestamp, bool(_one_column_changes(diff & field_mask, core.grid).any()))
                prev = cur
            actor.join(5)
    finally:
        spinner.stop()
    if errors:
        raise errors[0]
    # Score once the app's reports have all arrived (they lag the pixels by a few milliseconds).
    grid = core.grid
    assert grid is not None
    events = app.events
    for t0, t1, diff, changed in observed:
        content = diff & _rect_mask(repaints, diff.shape)
        typed = any(e["type"] == "text" and t0 - 0.25 <= float(e["t"]) <= t1 for e in events)
        field = content & _rect_mask([text_field], diff.shape)
        # The caret: text-field changes (outside the menu, which opens over the field) while nothing was
        # typed, and changes one pixel column wide within a patch (Qt's caret is a 1-px line; "Now press
        # save" has no 1-px glyphs).
        blink = _one_column_changes(field, grid)
        if not typed:
            blink |= field & ~_rect_mask([menu_rect], diff.shape)
        if blink.any():
            content &= ~blink
            tally.caret_frames += int(not typed)
            # A caret next to a real change is sent with it; alone, it must not be.
            beside = cv2.dilate(_patches(content, grid).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
            tally.caret_flagged += int((_patches(blink, grid) & changed & ~beside).sum())
        truth = _patches(content, grid)
        grown = [Rect(max(r.x - 8, 0), max(r.y - 8, 0), r.width + 16, r.height + 16) for r in repaints]
        near = _patches(_rect_mask(grown, diff.shape), grid)
        tally.true_changes += int(truth.sum())
        tally.detected += int((truth & changed).sum())
        tally.outside_flagged += int((changed & ~near).sum())
        tally.frames += 1
    print(f"rig EVS: {tally}, recall {tally.recall:.4f}")
    assert tally.frames >= 20  # the script waits on 10 frames of the spinner alone, and types for about 9
    assert tally.caret_frames >= 2  # the caret really blinked while we watched
    assert tally.caret_flagged == 0, tally  # ... and EVS did not send it
    assert tally.true_changes >= 100
    assert tally.recall >= 0.99, tally
    assert tally.outside_flagged == 0, tally
    text_events = [e for e in app.events if e["type"] == "text"]
    assert text_events and text_events[-1]["text"] == "Now press save"


def test_settle_on_the_real_rig(x_display: object, target_app: Launcher) -> None:
    target_app(x=100, y=100, width=600, height=400, title="Settle target")
    with CaptureStream(MssScreen(), monitor=1, fps=10, buffer_frames=4) as stream:
        sampler = EvsSampler(stream, EvsConfig(), image_size=512, tokens_per_image=256)
        spinner = XSpinner(SPINNER).start()
        try:
            animated = sampler.wait_settled(still_for=0.3, timeout=8.0)
        finally:
            spinner.stop()
        still = sampler.wait_settled(still_for=0.3, timeout=8.0)
    print(f"animated: {animated}; still: {still}")
    assert not animated.settled
    assert animated.waited_seconds < 5.0
    assert animated.animating_boxes and all(b.intersect(SPINNER) for b in animated.animating_boxes)
    assert still.settled and still.waited_seconds <= 2.0
