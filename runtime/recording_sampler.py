"""EVS over a recording: the moments worth showing the model, with their times and pictures.

Frames are analysed at ``analysis_fps`` (every frame is decoded — H.264 needs it — but only these are
compared). :class:`~omnidesk.runtime.evs.EvsCore` says, patch by patch, what differs from what the model
last saw. Changes come in *activities* (a window opening, someone typing); an activity ends at the first
analysed frame in which nothing changed, and that frame — the screen at rest, the change complete and
readable — becomes a ``settled`` moment. An activity that goes on (a video, a long scroll) also gives a
``progress`` moment every ``max_span`` seconds. The first frame of the range is the ``start`` moment. A
screen that does not change gives nothing after it.

Each moment carries the frame as the model will get it (``frame_image``) and, when ``crop_size`` is set, the
regions that changed during its activity cut out at native resolution (at most ``max_crops``, packed so that
changes close together share one crop). ``score`` (the changed share of the screen) ranks moments when a
token budget cannot hold them all; ``start`` and ``settled`` moments are ``primary``.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

from omnidesk.agent.geometry import MonitorInfo, Rect
from omnidesk.agent.ports import CancelToken, Frame, ModelImage
from omnidesk.runtime.config import EvsConfig
from omnidesk.runtime.evs import EvsCore
from omnidesk.runtime.evs_sampler import pack_boxes
from omnidesk.runtime.images import crop_image
from omnidesk.runtime.recording_reader import DecodedFrame, Recording, TimeRange, iter_frames

__all__ = ["Moment", "MomentKind", "ScanStats", "for_decoded_video", "scan_moments"]

log = logging.getLogger(__name__)

MomentKind = Literal["start", "settled", "progress"]

# The recorder's x264 (ultrafast, CRF 23) keeps refining a still screen's text edges for a few frames after
# a change: up to ~5 grey levels frame to frame, more against an older reference. EVS on captured pixels
# counts a cell changing by 1 over a floor of 3 (lossless input); on decoded video that flags still text.
_VIDEO_NOISE_FLOOR = 8
_VIDEO_PEAK_THRESHOLD = 4.0


def for_decoded_video(config: EvsConfig) -> EvsConfig:
    """``config`` with the noise floor and peak threshold raised to what decoded H.264 needs."""
    return config.model_copy(
        update={
            "noise_floor": max(config.noise_floor, _VIDEO_NOISE_FLOOR),
            "peak_threshold": max(config.peak_threshold, _VIDEO_PEAK_THRESHOLD),
        }
    )


@dataclass(frozen=True, slots=True)
class Moment:
    """One picked frame of a recording: ``time`` on the recording's clock, ``frame`` as the model gets it,
    ``crops`` (native-resolution views of what changed, if asked for) and ``boxes`` (where it changed, in
    frame pixels)."""

    time: float
    kind: MomentKind
    score: float
    frame: ModelImage
    crops: tuple[ModelImage, ...] = ()
    boxes: tuple[Rect, ...] = ()

    @property
    def primary(self) -> bool:
        return self.kind != "progress"

    @property
    def images(self) -> tuple[ModelImage, ...]:
        return (self.frame, *self.crops)


@dataclass(slots=True)
class ScanStats:
    """What a scan looked at (for progress and the bench)."""

    analysed: int = 0
    position: float = 0.0
    moments: int = 0


@dataclass(slots=True)
class _Activity:
    began: float
    last_change: float
    last_emit: float
    score: float
    boxes: list[Rect]


def _as_frame(decoded: DecodedFrame) -> Frame:
    monitor = MonitorInfo(0, decoded.source.path.name, Rect(0, 0, decoded.width, decoded.height))
    return Frame(decoded.bgra(), decoded.time, monitor)


def scan_moments(
    recording: Recording,
    time_range: TimeRange,
    *,
    config: EvsConfig,
    frame_image: Callable[[Frame], ModelImage],
    crop_size: int | None = None,
    analysis_fps: float = 4.0,
    max_span: float = 8.0,
    stats: ScanStats | None = None,
    cancel: CancelToken | None = None,
) -> Iterator[Moment]:
    """The moments of ``time_range`` in time order (see the module doc); ``stats`` is updated as it goes.

    ``config`` is used as given; pass :func:`for_decoded_video` of the person's EVS settings for recordings.
    """
    if analysis_fps <= 0 or max_span <= 0:
        raise ValueError("analysis_fps and max_span must be positive")
    stats = stats if stats is not None else ScanStats()
    core = EvsCore(config)
    activity: _Activity | None = None
    max_crops = max(1, config.max_crops)

    def moment(decoded: DecodedFrame, kind: MomentKind, score: float, boxes: list[Rect]) -> Moment:
        frame = _as_frame(decoded)
        crops: tuple[ModelImage, ...] = ()
        packed = pack_boxes(boxes, crop_size) if crop_size else list(boxes)
        if crop_size and boxes and kind != "start":
            packed = _at_most(packed, max_crops)
            crops = tuple(crop_image(frame, box, crop_size) for box in packed)
        image = dataclasses.replace(frame_image(frame), timestamp=decoded.time)
        stats.moments += 1
        return Moment(
            decoded.time,
            kind,
            score,
            image,
            tuple(dataclasses.replace(c, timestamp=decoded.time) for c in crops),
            tuple(packed),
        )

    for decoded in iter_frames(recording, time_range, min_interval=1.0 / analysis_fps, cancel=cancel):
        stats.analysed += 1
        stats.position = decoded.time
        decision = core.process(decoded.grey, decoded.time)
        if decision.reason == "start":
            yield moment(decoded, "start", math.inf, [])
            continue
        if decision.keyframe and decision.reason == "interval" and decision.changed_fraction == 0.0:
            continue  # nothing new: a still screen is not shown again
        changed = decision.changed_fraction > 0.0
        if changed:
            boxes = list(decision.change_boxes)
            if activity is None:
                activity = _Activity(decoded.time, decoded.time, decoded.time, 0.0, [])
            activity.last_change = decoded.time
            activity.score += decision.changed_fraction
            activity.boxes = _merge(activity.boxes + boxes, max_crops * 4)
            if decoded.time - activity.last_emit >= max_span:
                yield moment(decoded, "progress", activity.score, activity.boxes)
                activity.last_emit = decoded.time
            continue
        if activity is not None:
            yield moment(decoded, "settled", activity.score, activity.boxes)
            activity = None


def _merge(boxes: list[Rect], limit: int) -> list[Rect]:
    """Overlapping or touching boxes become one; past ``limit`` boxes the closest pair is joined."""
    out: list[Rect] = []
    for box in boxes:
        grown = box
        while (near := next((i for i, o in enumerate(out) if _touch(grown, o)), None)) is not None:
            grown = _union(grown, out.pop(near))
        out.append(grown)
    return _at_most(out, limit)


def _at_most(boxes: list[Rect], limit: int) -> list[Rect]:
    boxes = list(boxes)
    while len(boxes) > limit:
        best: tuple[int, int, int] | None = None
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                cost = _union(boxes[i], boxes[j]).area - boxes[i].area - boxes[j].area
                if best is None or cost < best[0]:
                    best = (cost, i, j)
        assert best is not None
        _, i, j = best
        boxes[i] = _union(boxes[i], boxes[j])
        del boxes[j]
    return boxes


def _touch(a: Rect, b: Rect) -> bool:
    return a.x <= b.right and b.x <= a.right and a.y <= b.bottom and b.y <= a.bottom


def _union(a: Rect, b: Rect) -> Rect:
    x0, y0 = min(a.x, b.x), min(a.y, b.y)
    return Rect(x0, y0, max(a.right, b.right) - x0, max(a.bottom, b.bottom) - y0)
