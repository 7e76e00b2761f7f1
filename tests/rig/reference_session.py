"""A scripted, narrated desktop session with known truth, recorded by the real recorder.

    session = ReferenceSession(display, pulse, target, calculator, workdir, seed=1)
    truth = session.run(seconds=60, fps=10)     # truth.folder: the recording; truth.events: what happened when

On the rig's display the Qt target app (large font, left) and galculator (right) are driven with xdotool
(XTest): text typed into the target app's text field, products clicked on galculator's keys, the target app's
dialog opened and closed, its window moved. espeak-ng narrates each event into the microphone as it starts.
``runtime.recording.record`` writes screen and microphone into MKV segments meanwhile.

Each event's finished state is confirmed on the screen before its time is logged: the application's own
report (the target app's ``text`` / ``dialog_shown`` / geometry reports, galculator's display read through
the accessibility bus) and then a pixel check — the region grabbed with mss shows as many glyphs as the text
has characters. ``shown`` is the time of that grab, ``gone`` the time just before the input that replaces the
state is sent, so ``[shown, gone)`` lies inside the time the state really was on the screen. The glyphs' height
on the screen is the event's text height, for the readability rule of the benches.
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import subprocess
import threading
import time
import wave
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from tests.rig import wait_until
from tests.rig.apps import RunningApp
from tests.rig.audio import PulseAudioRig
from tests.rig.target_client import TargetApp

__all__ = ["KINDS", "KnownEvent", "ReferenceSession", "SessionTruth", "Speech", "glyphs", "read_mono"]

KINDS = ("typing", "product", "dialog", "move")
WORDS = ("INVOICE", "REPORT", "BUDGET", "DRAFT", "REVIEW", "BACKUP", "UPLOAD", "LEDGER", "MEMO", "TOTAL")
FONT_PX = 40  # the target app's font: its capitals are about 29 px high, 10 px in a 672×384 model frame
TARGET_RECT = (0, 40, 1000, 1000)
CONFIRM_TIMEOUT = 20.0


@dataclass(frozen=True)
class Speech:
    """One narration: its words, its 16 kHz samples, when it was played (monotonic) and where in it the
    voice is (seconds from its start)."""

    text: str
    samples: np.ndarray = field(repr=False)
    played_at: float
    voiced: tuple[float, float]


@dataclass(frozen=True)
class KnownEvent:
    """One event on the monotonic clock (or, after ``SessionTruth.on_recording_clock``, the recording's)."""

    kind: str
    text: str
    start: float
    shown: float
    gone: float
    text_px: float
    speech: Speech | None = None
    region: tuple[int, int, int, int] = (0, 0, 0, 0)  # where its text is on the screen
    final: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.uint8), repr=False)  # its grey pixels
    before: np.ndarray | None = field(default=None, repr=False)  # the region just before the last input


@dataclass(frozen=True)
class SessionTruth:
    """The recording and what happened in it; ``origin`` is the monotonic time of the recording's 0."""

    folder: Path
    origin: float
    end: float
    events: tuple[KnownEvent, ...]

    def on_recording_clock(self) -> list[KnownEvent]:
        """The events with times in seconds from the recording's start (open ones end with it), each
        ``shown`` moved back to the first recorded frame whose pixels already show its finished text (the
        screen grab that confirmed it comes a poll later than the paint)."""
        from omnidesk.runtime.recording_reader import TimeRange, iter_frames, open_recording

        recording = open_recording(self.folder)
        out = []
        for e in self.events:
            speech = e.speech and replace(e.speech, played_at=e.speech.played_at - self.origin)
            start, shown = e.start - self.origin, e.shown - self.origin
            x, y, w, h = e.region
            for frame in iter_frames(recording, TimeRange(recording.start + start, recording.start + shown)):
                if shows(frame.grey[y : y + h, x : x + w], e.final, e.before):
                    shown = frame.time - recording.start
                    break
            gone = min(e.gone, self.end) - self.origin
            out.append(replace(e, start=start, shown=shown, gone=gone, speech=speech))
        return out


def _changed(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.count_nonzero(np.abs(a.astype(np.int16) - b.astype(np.int16)) > 64))


def _grey(bgra: np.ndarray) -> np.ndarray:
    luma = np.ascontiguousarray(bgra[:, :, :3]) @ np.array([0.114, 0.587, 0.299])  # BGR to BT.601 luma
    return np.asarray(luma.round(), dtype=np.uint8)


def shows(grey: np.ndarray, final: np.ndarray, before: np.ndarray | None = None) -> bool:
    """Does a region (grey, e.g. a decoded video frame's luma) show the finished state grabbed in ``final``?
    Few pixels differ from it by more than a quarter of the range: under a fifth of the text's ink (video
    coding blurs edges by less; another text, or none, differs by its strokes), and fewer than from
    ``before``, the state just before the last input (a text short of its last character differs by one
    glyph only)."""
    ink = int(np.count_nonzero(final < 100))
    changed = _changed(grey, final)
    return ink > 0 and changed < ink // 5 and (before is None or changed < _changed(grey, before))


def read_mono(path: Path) -> np.ndarray:
    """A 16-bit mono WAV as float32 in [-1, 1]."""
    with wave.open(str(path), "rb") as wav:
        data = wav.readframes(wav.getnframes())
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0


def _voiced(samples: np.ndarray, rate: int = 16000) -> tuple[float, float]:
    """First and last 10 ms frame whose RMS is above a tenth of the loudest one."""
    frames = samples[: len(samples) // 160 * 160].reshape(-1, 160)
    rms = np.sqrt((frames**2).mean(axis=1))
    loud = np.flatnonzero(rms > 0.1 * rms.max())
    return float(loud[0] * 160 / rate), float((loud[-1] + 1) * 160 / rate)


Glyph = tuple[int, int, int]  # x, width, height


@dataclass(frozen=True)
class Confirmed:
    at: float
    text_px: float
    region: tuple[int, int, int, int]
    final: np.ndarray
    before: np.ndarray | None


def glyphs(bgra: np.ndarray) -> list[Glyph]:
    """(x, width, height) of each dark glyph in a region (BGRA or grey; dark text on a light background), left to
    right; a thin text caret and specks are left out. Neighbouring letters may merge into one."""
    import cv2

    gray = bgra if bgra.ndim == 2 else cv2.cvtColor(np.ascontiguousarray(bgra), cv2.COLOR_BGRA2GRAY)
    mask = (gray < 100).astype(np.uint8)
    _, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    found = [(int(x), int(w), int(h)) for x, _y, w, h, area in stats[1:] if h >= 4 and w >= 3 and area >= 8]
    return sorted(found)


def layout(found: list[Glyph]) -> tuple[int, int, int]:
    """What tells two texts apart cheaply: the glyph count and the ink's left and right edges."""
    if not found:
        return 0, 0, 0
    return len(found), found[0][0], max(x + w for x, w, _ in found)


class _Recorder:
    """``runtime.recording.record`` (screen + microphone) in a thread until ``stop``."""

    def __init__(self, folder: Path, display: str, fps: float) -> None:
        from omnidesk.agent.ports import CancelToken
        from omnidesk.runtime.audio import SoundDeviceMicrophone
        from omnidesk.runtime.capture import CaptureStream, MssScreen
        from omnidesk.runtime.config import AudioConfig, RecordingConfig
        from omnidesk.runtime.recording import SegmentedRecorder, record

        self.cancel = CancelToken()
        import mss

        with mss.MSS(display=display) as grab:
            size = (grab.monitors[1]["width"], grab.monitors[1]["height"])
        self.stream = CaptureStream(MssScreen(display=display), monitor=1, fps=fps, buffer_frames=max(8, int(fps)))
        self.stream.start()
        self.microphone = SoundDeviceMicrophone(AudioConfig())
        self.microphone.start()
        self.recorder = SegmentedRecorder(
            folder,
            monitor={"index": 1, "name": "rig"},
            size=size,
            fps=fps,
            audio=True,
            segment_seconds=RecordingConfig().segment_seconds,
        )
        self.error: BaseException | None = None

        def run() -> None:
            try:
                record(self.stream, self.recorder, seconds=None, stop=self.cancel, microphone=self.microphone)
            except BaseException as exc:  # noqa: BLE001 - reported by stop()
                self.error = exc

        self.thread = threading.Thread(target=run, name="reference-recorder", daemon=True)
        self.thread.start()
        wait_until(lambda: self.recorder.origin is not None or self.error, 30, "the recording's first frame")

    def stop(self) -> None:
        self.cancel.cancel()
        self.thread.join(60)
        self.microphone.close()
        self.stream.stop()
        if self.error is not None:
            raise RuntimeError(f"the recorder failed: {self.error}") from self.error


class ReferenceSession:
    """Drives the scripted session (see the module doc) on ``display``."""

    def __init__(
        self,
        display: str,
        pulse: PulseAudioRig,
        target: TargetApp,
        calculator: RunningApp,
        workdir: Path,
        *,
        seed: int = 1,
    ) -> None:
        import mss

        self.display, self.pulse, self.target, self.calculator = display, pulse, target, calculator
        self.workdir = workdir
        self.rng = random.Random(seed)
        self._grab = mss.MSS(display=display)
        self._env = {"DISPLAY": display, "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        self._keys = self._calculator_keys()
        self._target_window = self._window_of(target.process.pid)
        self._open: dict[str, int] = {}  # kind -> index of the event whose state is on the screen
        self._events: list[dict[str, Any]] = []
        self._playing: Any = None
        self._moved = False

    # -- input and checks -------------------------------------------------------------------------------------

    def _xdotool(self, *args: str) -> None:
        subprocess.run(["xdotool", *args], env=self._env, check=True, timeout=30)

    def _click(self, x: int, y: int) -> None:
        self._xdotool("mousemove", "--sync", str(x), str(y), "click", "1")

    def _window_of(self, pid: int) -> int:
        from omnidesk.runtime.windows import X11WindowInspector

        inspector = X11WindowInspector(self.display)
        try:
            return next(w.window_id for w in inspector.windows() if w.pid == pid)
        finally:
            inspector.close()

    def _calculator_keys(self) -> dict[str, tuple[int, int]]:
        keys: dict[str, tuple[int, int]] = {}
        display: tuple[int, int, int, int] | None = None

        def walk(element: Any) -> None:
            nonlocal display
            if element.box is not None and element.role == "toggle_button":
                keys[element.name] = (element.box.x + element.box.width // 2, element.box.y + element.box.height // 2)
            if element.box is not None and element.role == "text" and display is None:
                display = (element.box.x, element.box.y, element.box.width, element.box.height)
            for child in element.children:
                walk(child)

        for window in self.calculator.tree().windows:
            walk(window)
        if display is None or not {"*", "=", *"0123456789"} <= keys.keys():
            raise RuntimeError(f"galculator's keys or display not found on the accessibility bus: {sorted(keys)}")
        self._display_rect = display
        return keys

    def _calculator_text(self) -> str:
        def find(element: Any) -> str | None:
            if element.role == "text" and element.text is not None:
                return str(element.text)
            for child in element.children:
                found = find(child)
                if found is not None:
                    return found
            return None

        for window in self.calculator.tree(text=True).windows:
            found = find(window)
            if found is not None:
                return found.strip()
        return ""

    def _look(self, rect: tuple[int, int, int, int]) -> tuple[float, np.ndarray, list[Glyph]]:
        at = time.monotonic()
        x, y, w, h = rect
        shot = np.asarray(self._grab.grab({"left": x, "top": y, "width": w, "height": h}))
        return at, shot, glyphs(shot)

    def _confirm(self, rect: tuple[int, int, int, int], before: np.ndarray | None, least: int) -> Confirmed:
        """Grab ``rect`` until its glyphs (at least ``least``) are laid out otherwise than in ``before`` (the
        grab just before the last input; None: nothing there to tell apart): the finished state is on the
        screen. Returns that grab's time, the glyphs' median height, and both grabs in grey."""
        earlier = layout(glyphs(before)) if before is not None else (-1, -1, -1)
        last: list[Any] = [None, []]

        def check() -> Confirmed | None:
            at, last[0], last[1] = self._look(rect)
            if len(last[1]) < least or layout(last[1]) == earlier:
                return None
            height = float(np.median([g[2] for g in last[1]]))
            return Confirmed(at, height, rect, _grey(last[0]), None if before is None else _grey(before))

        try:
            return wait_until(check, CONFIRM_TIMEOUT, f"a new text on the screen in {rect}")
        except TimeoutError as exc:
            import cv2

            cv2.imwrite(str(self.workdir / "unconfirmed.png"), last[0])
            raise TimeoutError(
                f"{exc}; glyphs {last[1]} (before: {earlier}); {self.workdir / 'unconfirmed.png'}"
            ) from exc

    def _settled(self, rect: tuple[int, int, int, int]) -> tuple[int, int, int] | None:
        """The glyph layout in ``rect`` once two grabs agree on it (None until then)."""
        first = layout(self._look(rect)[2])
        time.sleep(0.05)
        second = layout(self._look(rect)[2])
        return first if first == second and first[0] else None

    # -- events -------------------------------------------------------------------------------------------------

    def _say(self, text: str) -> Speech:
        """Narrate ``text`` (after the last narration ended), numbered so no two narrations sound alike."""
        if self._playing is not None:
            self._playing.wait()
        text = f"step {len(self._events) + 1}, {text}"
        wav = self.pulse.speak(text, self.workdir / f"speech-{len(self._events)}.wav")
        samples = read_mono(wav)
        played_at = time.monotonic()
        self._playing = self.pulse.play_async(wav)
        return Speech(text, samples, played_at, _voiced(samples))

    def _replace(self, kind: str, at: float) -> None:
        index = self._open.pop(kind, None)
        if index is not None:
            self._events[index]["gone"] = at

    def _typing(self) -> tuple[str, Speech, float, Confirmed]:
        word, number = self.rng.choice(WORDS), self.rng.randint(10, 99)
        text = f"{word} {number}"
        speech = self._say(f"typing {word.lower()} {number}")
        rect = self.target.refresh()["widgets"]["text_field"]
        self.target.clear()
        start = time.monotonic()
        self._replace("typing", start)
        self._click(rect[0] + rect[2] // 2, rect[1] + rect[3] // 2)
        self._xdotool("key", "ctrl+a")
        self._xdotool("type", "--delay", "12", "--", text[:-1])
        self.target.wait_for({"type": "text", "widget": "text_field", "text": text[:-1]}, CONFIRM_TIMEOUT)
        # The text but its last character, once painted: the finished text is told apart from it.
        wait_until(lambda: self._settled(tuple(rect)), CONFIRM_TIMEOUT, "the typed text to settle")
        before = self._look(tuple(rect))[1]
        self._xdotool("type", "--", text[-1])
        self.target.wait_for({"type": "text", "widget": "text_field", "text": text}, CONFIRM_TIMEOUT)
        return text, speech, start, self._confirm(tuple(rect), before, 2)

    def _product(self) -> tuple[str, Speech, float, Confirmed]:
        a, b = self.rng.randint(4, 9), self.rng.randint(4, 9)
        text = str(a * b)
        speech = self._say(f"calculator, {a} times {b}")
        start = time.monotonic()
        self._replace("product", start)
        for key in (str(a), "*", str(b)):
            self._click(*self._keys[key])
        wait_until(lambda: self._calculator_text() == str(b), CONFIRM_TIMEOUT, f"galculator to show {b}", 0.05)
        wait_until(lambda: self._settled(self._display_rect), CONFIRM_TIMEOUT, "galculator's display")
        before = self._look(self._display_rect)[1]
        self._click(*self._keys["="])
        wait_until(lambda: self._calculator_text() == text, CONFIRM_TIMEOUT, f"galculator to show {text}", 0.05)
        return text, speech, start, self._confirm(self._display_rect, before, 1)

    def _dialog(self) -> tuple[str, Speech, float, Confirmed]:
        speech = self._say("opening the dialog")
        self.target.clear()
        start = time.monotonic()
        self._click(*self.target.widget_center("dialog_button"))
        shown = self.target.wait_for({"type": "dialog_shown"}, CONFIRM_TIMEOUT)
        rect = shown["widgets"]["dialog_ok"]
        field_rect = shown["widgets"]["text_field"]
        if rect[1] < field_rect[1] + field_rect[3]:
            raise RuntimeError("the dialog covers the text field: the typing events' truth would be wrong")
        # It is painted whole when first exposed (the app reports it then): no partial state to tell apart.
        return "Dialog OK", speech, start, self._confirm(tuple(rect), None, 3)

    def _close_dialog(self) -> None:
        self.target.clear()
        self._replace("dialog", time.monotonic())
        x, y, w, h = self.target.geometry["widgets"]["dialog_ok"]
        self._click(x + w // 2, y + h // 2)
        self.target.wait_for({"type": "dialog_closed"}, CONFIRM_TIMEOUT)

    def _move(self) -> tuple[str, Speech, float, Confirmed]:
        speech = self._say("moving the window")
        self._moved = not self._moved
        x = TARGET_RECT[0] + (80 if self._moved else 0)
        ok_x, ok_y, ok_w, ok_h = self.target.refresh()["widgets"]["ok_button"]
        rect = (ok_x + (80 if self._moved else -80), ok_y, ok_w, ok_h)
        before = self._look(rect)[1]
        start = time.monotonic()
        self._replace("move", start)
        self._xdotool("windowmove", str(self._target_window), str(x), str(TARGET_RECT[1]))

        def moved() -> bool:
            return bool(self.target.refresh()["widgets"]["ok_button"][0] == rect[0])

        wait_until(moved, CONFIRM_TIMEOUT, "the target app to report its move", 0.05)
        if abs(self.target.geometry["window"][0] - x) > 40:
            raise RuntimeError(f"the target window is at {self.target.geometry['window']}, not near x={x}")
        return "OK", speech, start, self._confirm(rect, before, 2)

    def run(self, seconds: float, fps: float = 10.0, pace: tuple[float, float] = (2.0, 6.0)) -> SessionTruth:
        """Record for about ``seconds`` while events follow each other ``pace`` s apart (a random pause
        after each is confirmed); returns the truth."""
        recorder = _Recorder(self.workdir / "recording", self.display, fps)
        try:
            time.sleep(1.0)  # a quiet start: the first frames show the desktop before any event
            started = time.monotonic()
            step = 0
            while time.monotonic() - started < seconds - 3.0:
                if recorder.error is not None:
                    break
                kind = KINDS[step % len(KINDS)]
                step += 1
                text, speech, start, seen = getattr(self, f"_{kind}")()
                self._open[kind] = len(self._events)
                self._events.append(
                    dict(kind=kind, text=text, start=start, shown=seen.at, gone=math.inf, text_px=seen.text_px,
                         speech=speech, region=seen.region, final=seen.final, before=seen.before)
                )  # fmt: skip
                if kind == "dialog":
                    time.sleep(self.rng.uniform(1.5, 3.0))  # a person reading it
                    self._close_dialog()
                time.sleep(self.rng.uniform(*pace))  # the pace of a person
            if self._playing is not None:
                self._playing.wait()
            time.sleep(1.0)
        finally:
            with contextlib.suppress(Exception):
                self._grab.close()
            recorder.stop()
        origin = recorder.recorder.origin
        assert origin is not None
        end = time.monotonic()
        return SessionTruth(recorder.recorder.out_dir, origin, end, tuple(KnownEvent(**e) for e in self._events))
