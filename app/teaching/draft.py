"""The draft of a taught automation: the demonstration's steps with their targets and thumbnails.

Every click, drag or scroll gets a target patch per point, cut from the recorded frame just before its
press (``runtime/teach_targets.py``), so the replay finds it after windows moved; every step gets a
thumbnail for the review. A step whose target cannot be cut — a point off the recorded monitor, before the
first frame, or on a spot that looks the same elsewhere — says so in ``problem``: the review shows it, and
the replay hands over to the model there. The draft is what the person edits in the review (rename, delete
steps, edit the description, mark a typed text as a secret); nothing of it is on disk until it is saved.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from omnidesk.agent.actions import Action, TypeText
from omnidesk.agent.demonstration import TaughtStep, demonstration_steps
from omnidesk.agent.describe import describe_action
from omnidesk.agent.geometry import MonitorInfo, Rect
from omnidesk.agent.ports import WindowInfo
from omnidesk.agent.trajectory import PngEncoder
from omnidesk.app.teaching.session import Demonstration
from omnidesk.runtime.teach_targets import (
    DecodedFrameLike,
    Pixels,
    cut_target,
    frames_before,
    thumbnail_around,
    thumbnail_of,
    to_frame,
)

__all__ = ["DraftStep", "TargetCut", "TeachDraft", "build_draft", "recorded_frames"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TargetCut:
    """A target patch as the replay bundle stores it: PNG bytes, the point in it, the size of the frame it
    was cut from (``agent/replay.py``), and why it may not be found ("" when it is distinctive)."""

    png: bytes
    anchor: tuple[float, float]
    image_size: int
    problem: str = ""


@dataclass
class DraftStep:
    """One step of the draft (editable in the review): the action, its time on the recording's clock, the
    window it went to, its targets and thumbnail, why it may not replay, the model's words for it, and the
    secret name its typed text is stored under once marked (``secret_alone``: the secret may only be typed
    on its own, as into a password field)."""

    action: Action
    at: float
    window: WindowInfo | None
    targets: list[TargetCut]
    thumbnail: bytes
    problem: str = ""
    label: str = ""
    secret: str = ""
    secret_alone: bool = True

    @property
    def summary(self) -> str:
        """A log-safe line for the step (typed text by its length; a secret by its name)."""
        if self.secret:
            return f"type secret {self.secret!r}"
        return describe_action(self.action)

    @property
    def typed_text(self) -> str | None:
        return self.action.text if isinstance(self.action, TypeText) else None


@dataclass
class TeachDraft:
    """A taught automation before it is saved (see the module doc)."""

    name: str
    recording: Path
    monitor: MonitorInfo
    steps: list[DraftStep]
    description: str = ""
    model_steps: list[str] = field(default_factory=list)
    description_problem: str = ""  # why the model wrote no description ("" when it did, or was not asked)
    notes: list[str] = field(default_factory=list)
    wall_start: float = 0.0
    audio: bool = False


def recorded_frames(folder: Path) -> Iterator[DecodedFrameLike]:
    """The recording's frames in time order, decoded with PyAV (the recording reader of ``ask --recording``)."""
    from omnidesk.runtime.recording_reader import iter_frames, open_recording

    recording = open_recording(folder)
    yield from iter_frames(recording, recording.range())


def _window_box(window: WindowInfo | None, monitor: Rect, width: int, height: int) -> Rect | None:
    if window is None:
        return None
    g = window.geometry
    sx, sy = width / monitor.width, height / monitor.height
    return Rect(round((g.x - monitor.x) * sx), round((g.y - monitor.y) * sy), round(g.width * sx), round(g.height * sy))


def _draft_step(step: TaughtStep, rgb: Pixels | None, monitor: Rect, encoder: PngEncoder) -> DraftStep:
    if rgb is None:
        problem = "it happened before the recording's first frame, so there is no picture of its target"
        return DraftStep(step.action, step.at, step.window, [], b"", problem if step.points else "")
    height, width = rgb.shape[:2]
    side = max(width, height)
    targets: list[TargetCut] = []
    problems: list[str] = []
    placed = [to_frame(x, y, monitor, width, height) for x, y in step.points]
    for where in placed:
        if where is None:
            problems.append("it is off the recorded monitor; teach on the monitor where it happens")
            continue
        cut = cut_target(rgb, *where)
        targets.append(TargetCut(encoder.encode_png(cut.patch), cut.anchor, side, cut.problem))
        if cut.problem:
            problems.append(f"its target may not be found again ({cut.problem})")
    if placed and placed[0] is not None:
        second = placed[1] if len(placed) > 1 else None
        thumb = thumbnail_around(rgb, *placed[0], second=second)
    else:
        thumb = thumbnail_of(rgb, _window_box(step.window, monitor, width, height))
    return DraftStep(step.action, step.at, step.window, targets, encoder.encode_png(thumb), "; ".join(problems))


def build_draft(
    demo: Demonstration,
    name: str,
    *,
    encoder: PngEncoder,
    stop_combos: Sequence[Sequence[str]] = (),
    frames: Iterable[DecodedFrameLike] | None = None,
) -> TeachDraft:
    """The draft of ``demo``: its steps (see :func:`demonstration_steps`) with targets and thumbnails.

    ``frames`` are the recording's decoded frames (default: read from ``demo.folder``).

    Raises:
        RecordingReadError: the recording cannot be read back.
    """
    steps = demonstration_steps(demo.events, stop_combos=stop_combos)
    source = frames if frames is not None else recorded_frames(demo.folder)
    try:
        pixels = frames_before(source, [s.at for s in steps]) if steps else []
    finally:
        close = getattr(source, "close", None)
        if callable(close):
            close()  # the reader stops early: close its container (and decoder threads) here, not in the GC
    geometry = demo.monitor.geometry
    drafted = [_draft_step(step, rgb, geometry, encoder) for step, rgb in zip(steps, pixels, strict=True)]
    notes = []
    stats = demo.stats
    if stats.denied:
        notes.append(f"{stats.denied} input events in deny-listed windows were not recorded")
    if stats.unknown:
        notes.append(f"{stats.unknown} input events went to a window that could not be told and were left out")
    if demo.early:
        notes.append(f"{demo.early} input events before the recording started were left out")
    if not demo.index.audio:
        notes.append("no narration was recorded (no microphone)")
    log.info(
        "teach: draft of %r with %d steps (%d with a problem)",
        name,
        len(drafted),
        sum(bool(s.problem) for s in drafted),
    )
    return TeachDraft(
        name, demo.folder, demo.monitor, drafted, notes=notes, wall_start=demo.index.started_at, audio=demo.index.audio
    )
