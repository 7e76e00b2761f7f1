"""EVS on a scripted desktop session rendered with numpy/cv2, against exact ground truth.

The session is a desktop with an editor (typing, a blinking caret), a menu, a dialog, a scrolling list
and a spinner. Every scripted change declares the rectangle it repaints; ground truth for a frame is the
exact pixel difference to the previous frame inside those rectangles, with the caret's own pixels
labelled not-content. EVS's decisions are scored against that, never against its own difference.
``ScriptedSession`` is also what bench/bench_perception.py measures tokens on.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from omnidesk.agent.geometry import Rect
from omnidesk.runtime.config import EvsConfig
from omnidesk.runtime.evs import EvsCore, PatchGrid, SettleTracker, merge_boxes

Pixels = npt.NDArray[np.uint8]
WIDTH, HEIGHT = 1920, 1080
FONT = cv2.FONT_HERSHEY_SIMPLEX
EDITOR = Rect(80, 120, 900, 600)
LINE_HEIGHT = 26
MENU = Rect(1100, 132, 220, 180)
DIALOG = Rect(660, 380, 600, 260)
LIST = Rect(1100, 400, 300, 390)
SPINNER = Rect(1500, 200, 48, 48)
BUTTON = Rect(1500, 900, 160, 44)


@dataclass
class _State:
    lines: list[str] = field(default_factory=lambda: ["Dear team,", ""])
    menu_open: bool = False
    dialog_open: bool = False
    list_offset: int = 0
    spinner: float | None = None
    hover: bool = False


@dataclass(frozen=True)
class SessionFrame:
    """One rendered frame, the content rectangles repainted since the previous one, and the caret."""

    index: int
    timestamp: float
    pixels: Pixels
    repaints: tuple[Rect, ...]
    caret: Rect | None


def _text(img: Pixels, text: str, x: int, y: int, color: tuple[int, int, int], scale: float = 0.6) -> None:
    cv2.putText(img, text, (x, y), FONT, scale, (*color, 255), 1, cv2.LINE_AA)


class ScriptedSession:
    """A desktop session driven by a script of ``(time, action, argument)`` steps.

    Actions: ``type`` (text, typed at ``chars_per_second``), ``enter``, ``menu`` (open/close), ``dialog``
    (open/close), ``scroll`` (rows), ``spinner`` (start/stop), ``hover`` (on/off).
    """

    def __init__(
        self,
        script: Sequence[tuple[float, str, object]],
        *,
        fps: float,
        duration: float,
        chars_per_second: float = 8.0,
        blink_period: float = 0.53,
    ) -> None:
        self.script = sorted(script, key=lambda s: s[0])
        self.fps = fps
        self.duration = duration
        self.cps = chars_per_second
        self.blink = blink_period

    # --- drawing -------------------------------------------------------------------------------------

    def _caret_rect(self, state: _State) -> Rect:
        line = len(state.lines) - 1
        (w, _), _ = cv2.getTextSize(state.lines[-1], FONT, 0.6, 1)
        x = EDITOR.x + 20 + w + 2
        y = EDITOR.y + 50 + line * LINE_HEIGHT - 17
        return Rect(x, y, 1, 22)

    def _line_rect(self, line: int) -> Rect:
        return Rect(EDITOR.x + 1, EDITOR.y + 50 + line * LINE_HEIGHT - 20, EDITOR.width - 2, LINE_HEIGHT)

    def render(self, state: _State, caret_on: bool) -> Pixels:
        img = np.empty((HEIGHT, WIDTH, 4), np.uint8)
        img[:] = (94, 64, 48, 255)  # desktop
        img[HEIGHT - 40 :] = (40, 40, 40, 255)  # taskbar
        _text(img, "Activities   Files   Terminal", 12, HEIGHT - 14, (230, 230, 230))
        # editor window
        e = EDITOR
        img[e.y - 30 : e.y, e.x : e.right] = (80, 60, 60, 255)
        _text(img, "notes.txt - Editor", e.x + 10, e.y - 9, (240, 240, 240))
        img[e.y : e.bottom, e.x : e.right] = (255, 255, 255, 255)
        for i, line in enumerate(state.lines):
            _text(img, line, e.x + 20, e.y + 50 + i * LINE_HEIGHT, (20, 20, 20))
        if caret_on:
            c = self._caret_rect(state)
            img[c.y : c.bottom, c.x : c.right] = (0, 0, 0, 255)
        # app window with a menu bar, list, spinner and a button
        img[100:1000, 1080:1880] = (60, 60, 60, 255)
        img[100:132, 1080:1880] = (70, 70, 90, 255)
        for k, name in enumerate(("File", "Edit", "View", "Help")):
            _text(img, name, 1100 + 70 * k, 122, (230, 230, 230))
        lst = LIST
        img[lst.y : lst.bottom, lst.x : lst.right] = (235, 235, 235, 255)
        for row in range(13):
            n = row + state.list_offset
            _text(img, f"Item {n:03d}  report-{n * 7 % 97}.pdf", lst.x + 10, lst.y + 24 + row * 30, (30, 30, 30), 0.5)
        b = BUTTON
        img[b.y : b.bottom, b.x : b.right] = (40, 160, 40, 255) if not state.hover else (60, 200, 60, 255)
        _text(img, "Submit", b.x + 40, b.y + 29, (255, 255, 255))
        if state.spinner is not None:
            s = SPINNER
            center = (s.x + s.width // 2, s.y + s.height // 2)
            start = int(state.spinner) % 360
            cv2.ellipse(img, center, (18, 18), 0, start, start + 270, (240, 200, 80, 255), 4, cv2.LINE_AA)
        if state.menu_open:
            m = MENU
            img[m.y : m.bottom, m.x : m.right] = (250, 250, 250, 255)
            cv2.rectangle(img, (m.x, m.y), (m.right - 1, m.bottom - 1), (120, 120, 120, 255), 1)
            for k, item in enumerate(("New", "Open...", "Save", "Save As...", "Quit")):
                _text(img, item, m.x + 14, m.y + 28 + 34 * k, (20, 20, 20), 0.55)
        if state.dialog_open:
            d = DIALOG
            img[d.y : d.bottom, d.x : d.right] = (210, 210, 210, 255)
            img[d.y : d.y + 30, d.x : d.right] = (120, 80, 80, 255)
            _text(img, "Save changes?", d.x + 12, d.y + 21, (255, 255, 255))
            _text(img, "Your document has unsaved changes.", d.x + 30, d.y + 90, (20, 20, 20))
            img[d.bottom - 60 : d.bottom - 20, d.right - 150 : d.right - 30] = (200, 120, 40, 255)
            _text(img, "Save", d.right - 115, d.bottom - 33, (255, 255, 255))
        return img

    # --- the script ----------------------------------------------------------------------------------

    def _pending_chars(self, start: float, text: str, t0: float, t1: float) -> str:
        """Characters of a ``type`` step typed in ``(t0, t1]``."""
        n0 = 0 if t0 < start else min(len(text), int((t0 - start) * self.cps) + 1)
        n1 = 0 if t1 < start else min(len(text), int((t1 - start) * self.cps) + 1)
        return text[n0:n1]

    def _apply(self, state: _State, t0: float, t1: float, repaints: list[Rect]) -> None:
        for start, action, arg in self.script:
            if action == "type":
                chars = self._pending_chars(start, str(arg), t0, t1)
                if chars:
                    state.lines[-1] += chars
                    repaints.append(self._line_rect(len(state.lines) - 1))
                continue
            if not t0 < start <= t1:
                continue
            if action == "enter":
                state.lines.append("")
                repaints.append(self._line_rect(len(state.lines) - 2))
                repaints.append(self._line_rect(len(state.lines) - 1))
            elif action == "menu":
                state.menu_open = arg == "open"
                repaints.append(MENU)
            elif action == "dialog":
                state.dialog_open = arg == "open"
                repaints.append(DIALOG)
            elif action == "scroll":
                state.list_offset += int(str(arg))
                repaints.append(LIST)
            elif action == "spinner":
                state.spinner = 0.0 if arg == "start" else None
                repaints.append(SPINNER)
            elif action == "hover":
                state.hover = arg == "on"
                repaints.append(BUTTON)
        if state.spinner is not None and t1 > t0:
            state.spinner += 360.0 * (t1 - t0) * 0.8
            repaints.append(SPINNER)

    def frames(self) -> Iterator[SessionFrame]:
        state = _State()
        n = int(self.duration * self.fps)
        t_prev = -1.0
        for i in range(n):
            t = i / self.fps
            repaints: list[Rect] = []
            self._apply(state, t_prev, t, repaints)
            caret_on = int(t / self.blink) % 2 == 0
            pixels = self.render(state, caret_on)
            yield SessionFrame(i, t, pixels, tuple(repaints), self._caret_rect(state))
            t_prev = t


REALISTIC_CPS = 60.0  # the agent types through xdotool/pynput, not at human speed


def realistic_script(duration: float = 60.0) -> list[tuple[float, str, object]]:
    """An agent-paced session: an action, a second or two of reaction, then seconds of thinking.

    Play it with ``chars_per_second=REALISTIC_CPS``.
    """
    script: list[tuple[float, str, object]] = [
        (1.0, "type", "Thanks for the update on the release."),
        (6.5, "enter", None),
        (7.0, "type", "I will review it today."),
        (12.0, "menu", "open"),
        (15.5, "menu", "close"),
        (18.0, "hover", "on"),
        (18.6, "hover", "off"),
        (21.0, "scroll", 3),
        (25.0, "scroll", 5),
        (29.0, "spinner", "start"),
        (31.0, "spinner", "stop"),
        (33.0, "dialog", "open"),
        (37.5, "dialog", "close"),
        (41.0, "enter", None),
        (41.5, "type", "Best, Ana"),
        (48.0, "menu", "open"),
        (50.5, "menu", "close"),
        (54.0, "scroll", -2),
    ]
    return [s for s in script if s[0] < duration]


def ground_truth(prev: SessionFrame, cur: SessionFrame, grid: PatchGrid) -> npt.NDArray[np.bool_]:
    """Patches whose content changed: exact pixel difference inside the repaint rectangles, caret excluded."""
    diff = (prev.pixels[:, :, :3] != cur.pixels[:, :, :3]).any(axis=2)
    inside = np.zeros_like(diff)
    for r in cur.repaints:
        inside[r.y : r.bottom, r.x : r.right] = True
    content = diff & inside
    for caret in (prev.caret, cur.caret):
        if caret is not None:
            content[caret.y : caret.bottom, caret.x : caret.right] = False
    rows, cols = grid.shape
    p = grid.patch_px
    padded = np.zeros((rows * p, cols * p), dtype=np.bool_)
    padded[:HEIGHT, :WIDTH] = content
    return padded.reshape(rows, p, cols, p).any(axis=(1, 3))


@dataclass
class Score:
    true_changes: int = 0
    detected: int = 0
    static: int = 0  # patch-frames whose pixels never changed since the session began
    static_flagged: int = 0
    caret_only_flagged: int = 0

    @property
    def recall(self) -> float:
        return self.detected / self.true_changes if self.true_changes else 1.0


def score_session(session: ScriptedSession, config: EvsConfig, noise: float = 0.0) -> tuple[Score, list[bool]]:
    """Run EVS over the session; recall against ground truth, and patches flagged that never changed."""
    core = EvsCore(config)
    score = Score()
    keyframes: list[bool] = []
    rng = np.random.default_rng(7)
    prev: SessionFrame | None = None
    ever_changed: npt.NDArray[np.bool_] | None = None
    for frame in session.frames():
        pixels = frame.pixels
        if noise:
            jitter = rng.normal(0, noise, (*pixels.shape[:2], 1)).round().astype(np.int16)
            pixels = np.clip(pixels.astype(np.int16) + jitter, 0, 255).astype(np.uint8)
        decision = core.process(pixels, frame.timestamp)
        keyframes.append(decision.keyframe)
        grid = core.grid
        assert grid is not None
        if prev is not None:
            truth = ground_truth(prev, frame, grid)
            any_diff = _any_pixel_change(prev, frame, grid)
            ever_changed = any_diff if ever_changed is None else ever_changed | any_diff
            score.true_changes += int(truth.sum())
            score.detected += int((truth & decision.changed).sum())
            static = ~ever_changed
            score.static += int(static.sum())
            score.static_flagged += int((static & decision.changed).sum())
            score.caret_only_flagged += int((any_diff & ~truth & decision.changed).sum())
        prev = frame
    return score, keyframes


def _any_pixel_change(prev: SessionFrame, cur: SessionFrame, grid: PatchGrid) -> npt.NDArray[np.bool_]:
    diff = (prev.pixels[:, :, :3] != cur.pixels[:, :, :3]).any(axis=2)
    rows, cols = grid.shape
    p = grid.patch_px
    padded = np.zeros((rows * p, cols * p), dtype=np.bool_)
    padded[:HEIGHT, :WIDTH] = diff
    return padded.reshape(rows, p, cols, p).any(axis=(1, 3))


# --- tests ---------------------------------------------------------------------------------------------

BUSY_SCRIPT: list[tuple[float, str, object]] = [
    (0.3, "type", "The quick brown fox jumps over the lazy dog, 0123456789 times."),
    (3.0, "menu", "open"),
    (4.0, "menu", "close"),
    (4.5, "spinner", "start"),
    (6.5, "spinner", "stop"),
    (5.0, "scroll", 2),
    (7.0, "dialog", "open"),
    (8.0, "enter", None),
    (8.2, "type", "Signed: ijl|!.,;:'"),
    (9.0, "dialog", "close"),
    (9.5, "hover", "on"),
]


def test_changed_patch_recall_on_a_busy_scripted_session() -> None:
    session = ScriptedSession(BUSY_SCRIPT, fps=4, duration=11)
    score, _ = score_session(session, EvsConfig(keyframe_seconds=100))
    assert score.true_changes > 300
    assert score.recall >= 0.99, score
    assert score.static_flagged == 0, score  # untouched patches are always pruned


def test_recall_holds_with_capture_noise() -> None:
    session = ScriptedSession(BUSY_SCRIPT, fps=4, duration=11)
    score, _ = score_session(session, EvsConfig(keyframe_seconds=100), noise=1.0)
    # Noise hides a few antialiasing fringes of the spinner (a handful of pixels changing by ~20 grey).
    assert score.recall >= 0.985, score
    assert score.static_flagged <= score.static * 0.001, score


def test_blinking_caret_alone_is_not_content() -> None:
    # Nothing but the caret blinks for 5 s at 4 fps: about 20 blinks.
    session = ScriptedSession([], fps=4, duration=5)
    score, keyframes = score_session(session, EvsConfig(keyframe_seconds=100))
    assert score.true_changes == 0
    assert score.caret_only_flagged == 0, score
    assert keyframes == [True] + [False] * 19


def test_rate_mode_keeps_the_top_share_of_changed_patches() -> None:
    session = ScriptedSession(BUSY_SCRIPT, fps=4, duration=11)
    config = EvsConfig(keyframe_seconds=100, prune_rate=0.95)
    core = EvsCore(config)
    sizes = []
    for frame in session.frames():
        decision = core.process(frame.pixels, frame.timestamp)
        if not decision.keyframe:
            sizes.append(int(decision.changed.sum()))
    total = decision.changed.size
    assert max(sizes) <= math.ceil(0.05 * total)
    assert sum(sizes) > 0


def test_keyframe_rules() -> None:
    config = EvsConfig(keyframe_seconds=2.0, keyframe_change=0.5)
    core = EvsCore(config)
    still = np.full((240, 320, 4), 90, np.uint8)
    reasons = [core.process(still, t).reason for t in (0.0, 0.5, 1.0, 1.9, 2.0, 2.5)]
    assert reasons == ["start", "", "", "", "interval", ""]
    assert core.process(still, 2.6, force_keyframe=True).reason == "forced"
    changed = still.copy()
    changed[:, :200] = 200  # 62.5% of the patches
    decision = core.process(changed, 2.7)
    assert decision.keyframe and decision.reason == "change"
    assert decision.kept.all()
    small = changed.copy()
    small[:, :120] = 10  # 40%: crops, not a keyframe
    decision = core.process(small, 2.8)
    assert not decision.keyframe and 0.3 < decision.changed_fraction < 0.5
    # A different frame size (monitor switched) starts over.
    assert core.process(np.zeros((100, 100, 4), np.uint8), 2.9).reason == "start"


def test_kept_patches_become_the_reference_and_drift_accumulates() -> None:
    core = EvsCore(EvsConfig(keyframe_seconds=100, threshold=6.0, noise_floor=0, peak_threshold=255))
    frame = np.full((128, 128, 4), 100, np.uint8)
    core.process(frame, 0.0)
    drift = []
    for step in range(1, 10):
        frame = frame.copy()
        frame[:32, :32] = 100 + 2 * step  # +2 grey per frame: under the threshold each time
        drift.append(bool(core.process(frame, float(step)).changed[0, 0]))
    # Against the kept reference the change adds up: flagged at +6, then the reference moves.
    assert drift == [False, False, True, False, False, True, False, False, True]


def test_crops_are_merged_into_a_few_boxes() -> None:
    core = EvsCore(EvsConfig(keyframe_seconds=100, max_crops=2))
    frame = np.full((1080, 1920, 4), 30, np.uint8)
    core.process(frame, 0.0)
    changed = frame.copy()
    for x, y in ((100, 100), (140, 100), (1500, 900), (1000, 500), (1040, 540)):
        changed[y : y + 20, x : x + 20] = 220
    decision = core.process(changed, 1.0)
    assert len(decision.boxes) == 2
    for x, y in ((100, 100), (140, 100), (1500, 900), (1000, 500), (1040, 540)):
        assert any(b.contains(x, y) and b.contains(x + 19, y + 19) for b in decision.boxes)
    assert len(decision.change_boxes) == 3


def test_merge_boxes_groups_neighbours() -> None:
    grid = np.zeros((10, 10), np.bool_)
    grid[1, 1] = grid[1, 2] = grid[2, 3] = True  # one group (touching diagonally)
    grid[8, 8] = True
    assert merge_boxes(grid, 4) == [(1, 1, 3, 4), (8, 8, 9, 9)]
    assert merge_boxes(grid, 1) == [(1, 1, 9, 9)]
    assert merge_boxes(np.zeros((3, 3), np.bool_), 4) == []


def test_settle_tracker_reports_a_spinner_as_animating() -> None:
    session = ScriptedSession([(0.0, "spinner", "start")], fps=10, duration=3, blink_period=1000)
    grid = PatchGrid(WIDTH, HEIGHT, 32, 4)
    tracker = SettleTracker(grid, threshold=6.0, peak_threshold=1.0, noise_floor=3, window=1.0)
    for frame in session.frames():
        tracker.update(grid.downscale(frame.pixels), frame.timestamp)
    assert tracker.still_for() < 0.2
    assert tracker.still_apart_from_animation() >= 1.5
    boxes = tracker.animating_boxes()
    assert boxes and all(b.intersect(SPINNER) is not None for b in boxes)
    union = boxes[0]
    assert union.area <= 4 * 32 * 32 * 4


@pytest.mark.parametrize("fps", [2, 5])
def test_realistic_session_sends_few_images(fps: int) -> None:
    """Most frames of an agent-paced session are static: EVS sends a small share of the patches."""
    session = ScriptedSession(realistic_script(30.0), fps=fps, duration=30, chars_per_second=REALISTIC_CPS)
    core = EvsCore(EvsConfig())
    kept = [core.process(f.pixels, f.timestamp).kept_fraction for f in session.frames()]
    assert np.mean(kept) < 0.25


def test_merge_boxes_on_scattered_noise_covers_everything_in_few_boxes() -> None:
    rng = np.random.default_rng(3)
    grid = rng.random((34, 60)) < 0.3  # a video or heavy noise: hundreds of small components
    boxes = merge_boxes(grid, 4)
    assert 1 <= len(boxes) <= 4
    covered = np.zeros_like(grid)
    for r0, c0, r1, c1 in boxes:
        covered[r0:r1, c0:c1] = True
    assert covered[grid].all()
    for a in boxes:
        assert not any(b != a and b[0] <= a[0] and b[1] <= a[1] and a[2] <= b[2] and a[3] <= b[3] for b in boxes)
