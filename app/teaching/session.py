"""Recording a demonstration: the screen and the microphone (the real recorder) and the person's input.

The recorder writes crash-safe MKV segments; the input recorder keeps the person's clicks and keys in
memory only (typed text is never written anywhere before the person saves), timed on the monotonic clock
the frames are stamped with and placed on the recording's timeline when it ends. Stopping: the stop token
(the window's button, Ctrl+C), or the teach hotkey, which the input recorder notices wherever it is
pressed. A ``kill -9`` leaves the closed segments playable and no automation.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from omnidesk.agent.demonstration import InputEvent
from omnidesk.agent.errors import NoMicrophoneError
from omnidesk.agent.geometry import MonitorInfo
from omnidesk.agent.keys import normalize_combo
from omnidesk.agent.ports import CancelToken
from omnidesk.app.settings import Settings
from omnidesk.runtime.input_recorder import InputStats
from omnidesk.runtime.recording import Progress, RecordingIndex

__all__ = ["Demonstration", "record_demonstration", "stop_combos", "teach_folder"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Demonstration:
    """What a teach session recorded: the recording folder and its index, the monitor, and the person's
    input events on the recording's clock (seconds since its first frame)."""

    folder: Path
    index: RecordingIndex
    monitor: MonitorInfo
    events: tuple[InputEvent, ...]
    stats: InputStats
    early: int = 0  # events before the recording's first frame (left out)


def teach_folder(recordings_dir: Path, name: str, now: float | None = None) -> Path:
    """``recordings/teach-20260514-101502-backup-the-notes`` (a counter is added if it exists)."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "task"
    folder = recordings_dir / f"teach-{stamp}-{slug}"
    n = 2
    while folder.exists():
        folder = recordings_dir / f"teach-{stamp}-{slug}-{n}"
        n += 1
    return folder


def stop_combos(settings: Settings) -> tuple[tuple[str, ...], ...]:
    """The key combinations that end a teach session: its hotkey, and Ctrl+C in the terminal it runs in."""
    return normalize_combo(settings.hotkeys.teach.split("+")), ("ctrl", "c")


def record_demonstration(
    settings: Settings,
    folder: Path,
    *,
    stop: CancelToken,
    monitor: int | str | None = None,
    audio: bool = True,
    seconds: float | None = None,
    on_started: Callable[[MonitorInfo, bool], None] | None = None,
    on_warning: Callable[[str], None] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> Demonstration:
    """Record until ``stop`` (or the teach hotkey, or ``seconds``), on the calling thread.

    ``on_started(monitor, audio)`` is called once the first frame is written (on the calling thread);
    ``on_warning`` says what is missing (no microphone: the recording is video only).

    Raises:
        InputRecordingError: the person's input cannot be recorded (no X RECORD extension).
        RecordingError: the recording cannot be written.
        CaptureError, NoDisplayError, WaylandSessionError: no screen to record.
    """
    from omnidesk.app.compose import build_capture, build_input_recorder, build_microphone
    from omnidesk.runtime.recording import SegmentedRecorder, record

    rate = settings.recording.fps
    capture = build_capture(settings, monitor=monitor, fps=rate, buffer_frames=max(8, int(rate)))
    closers: list[Callable[[], object]] = [capture.close]
    try:
        microphone = None
        if audio:
            microphone = build_microphone(settings)
            try:
                microphone.start()
                closers.append(microphone.close)
            except NoMicrophoneError as exc:
                microphone = None
                if on_warning is not None:
                    on_warning(f"{exc}; recording the screen without your narration")
        geometry = capture.monitor.geometry
        recorder = SegmentedRecorder(
            folder,
            monitor={
                "index": capture.monitor.index,
                "name": capture.monitor.name,
                "geometry": [geometry.x, geometry.y, geometry.width, geometry.height],
            },
            size=(geometry.width, geometry.height),
            fps=rate,
            audio=microphone is not None,
            segment_seconds=settings.recording.segment_seconds,
        )
        inputs = build_input_recorder(settings, stop_combo=stop_combos(settings)[0], on_stop=stop.cancel).start()
        closers.append(inputs.stop)
        announced = False

        def progress(state: Progress) -> None:
            nonlocal announced
            if not announced and state.frames and on_started is not None:
                announced = True  # the first frame is written: what the person does from now on has a picture
                on_started(capture.monitor, microphone is not None)
            if on_progress is not None:
                on_progress(state)

        index = record(
            capture.stream, recorder, seconds=seconds, stop=stop, microphone=microphone, on_progress=progress
        )
    finally:
        for close in reversed(closers):
            close()
    origin = recorder.origin
    events = inputs.events()
    kept = tuple(dataclasses.replace(e, at=e.at - origin) for e in events if origin is not None and e.at >= origin)
    early = len(events) - len(kept)
    log.info("teach: %d input events recorded in %s (%d before its first frame)", len(kept), folder, early)
    return Demonstration(folder, index, capture.monitor, kept, inputs.stats, early)
