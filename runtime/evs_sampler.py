"""The FrameSampler port over a live capture stream: EVS decisions turned into model images.

Each :meth:`EvsSampler.observe` looks at the newest captured frame: a keyframe becomes one overview — the
whole screenshot at the model format's sizing (``sizing``; without one, a letterboxed square) —, changes
between keyframes become full-resolution crops of the merged changed boxes, and a still screen sends
nothing. Images are made by :mod:`omnidesk.runtime.images` and labelled with their
capture time (seconds since the sampler started) and, for crops, their box on the monitor. The sampler
counts the tokens it actually hands out (images × tokens per image).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from omnidesk.agent.formats import ImageSizing
from omnidesk.agent.geometry import MonitorInfo, Rect
from omnidesk.agent.ports import CancelToken, Frame, ModelImage, Observation, SettleResult
from omnidesk.runtime.config import EvsConfig
from omnidesk.runtime.evs import DEFAULT_CELL, EvsCore, EvsDecision, PatchGrid, SettleTracker
from omnidesk.runtime.images import crop_image, overview_image, whole_image

__all__ = ["EvsSampler", "FrameSource", "SamplerStats", "pack_boxes"]

log = logging.getLogger(__name__)

# How often a settle wait looks at its cancel token (a stop must not sit out the wait).
_CANCEL_POLL = 0.05


def pack_boxes(boxes: Sequence[Rect], size: int) -> list[Rect]:
    """Merge boxes whose union still fits one ``size``×``size`` crop at native resolution.

    Each crop costs a whole image of tokens; two small changes that fit one crop together cost one image
    with no loss of detail. The pair with the smallest union is merged first.
    """
    packed = list(boxes)
    while len(packed) > 1:
        best: tuple[int, int, int] | None = None
        for i in range(len(packed)):
            for j in range(i + 1, len(packed)):
                union = _union(packed[i], packed[j])
                if union.width <= size and union.height <= size and (best is None or union.area < best[0]):
                    best = (union.area, i, j)
        if best is None:
            break
        _, i, j = best
        packed[i] = _union(packed[i], packed[j])
        del packed[j]
    return sorted(packed, key=lambda r: (r.y, r.x))


def _union(a: Rect, b: Rect) -> Rect:
    x0, y0 = min(a.x, b.x), min(a.y, b.y)
    return Rect(x0, y0, max(a.right, b.right) - x0, max(a.bottom, b.bottom) - y0)


class FrameSource(Protocol):
    """What the sampler needs of a capture stream (:class:`~omnidesk.runtime.capture.CaptureStream`)."""

    def latest(self) -> Frame | None: ...

    def wait_frame(self, after_seq: int = 0, timeout: float = 5.0) -> Frame: ...

    def poll_frame(self, after_seq: int, timeout: float) -> Frame | None: ...


@dataclass(frozen=True, slots=True)
class SamplerStats:
    observations: int
    keyframes: int
    images_sent: int
    tokens_sent: int
    #: what sending one overview per observation would have cost
    tokens_without_evs: int


class EvsSampler:
    """Efficient Video Sampling over a :class:`FrameSource` of one monitor.

    Args:
        source: the capture stream.
        config: EVS settings; ``enabled=False`` sends an overview at every observation (the baseline).
        image_size: the side of square images: detail crops, and overviews when there is no ``sizing``.
        tokens_per_image: what one image costs in the model's context.
        sizing: how the model's format sizes the whole screenshot (overviews then are never letterboxed).
        epoch: monotonic time that labels count from; defaults to now.
    """

    def __init__(
        self,
        source: FrameSource,
        config: EvsConfig,
        *,
        image_size: int,
        tokens_per_image: int,
        epoch: float | None = None,
        cell: int = DEFAULT_CELL,
        clock: Callable[[], float] = time.monotonic,
        sizing: ImageSizing | None = None,
    ) -> None:
        if image_size <= 0 or tokens_per_image < 0:
            raise ValueError("image_size must be positive and tokens_per_image not negative")
        self._source = source
        self._config = config
        self._core = EvsCore(config, cell=cell)
        self._image_size = image_size
        self._sizing = sizing
        self._tokens_per_image = tokens_per_image
        self._clock = clock
        self._epoch = clock() if epoch is None else epoch
        self._lock = threading.Lock()
        self._last_seq = -1
        self._last_change = math.nan
        self._observations = 0
        self._keyframes = 0
        self._images = 0

    @property
    def monitor(self) -> MonitorInfo:
        return self._source.wait_frame(0).monitor

    def stats(self) -> SamplerStats:
        with self._lock:
            return SamplerStats(
                self._observations,
                self._keyframes,
                self._images,
                self._images * self._tokens_per_image,
                self._observations * self._tokens_per_image,
            )

    def _seconds(self, timestamp: float) -> float:
        return timestamp - self._epoch

    def observe(self, *, force_keyframe: bool = False) -> Observation:
        """Images for the model since the last observation: a keyframe overview and/or changed crops."""
        frame = self._source.latest() or self._source.wait_frame(0)
        with self._lock:
            self._observations += 1
            if not self._config.enabled:
                return self._count(self._keyframe(frame, "EVS off"))
            decision = self._core.process(frame.pixels, frame.timestamp, force_keyframe=force_keyframe)
            self._last_seq = frame.seq
            if decision.keyframe:
                return self._count(self._keyframe(frame, f"keyframe ({decision.reason})", decision))
            return self._count(self._changes(frame, decision))

    def _count(self, observation: Observation) -> Observation:
        self._images += len(observation.images)
        self._keyframes += int(observation.keyframe)
        return observation

    def _overview(self, frame: Frame) -> ModelImage:
        if self._sizing is not None:
            return whole_image(frame, self._sizing)
        return overview_image(frame, self._image_size)

    def _keyframe(self, frame: Frame, note: str, decision: EvsDecision | None = None) -> Observation:
        image = self._overview(frame)
        label = f"Frame at {self._seconds(frame.timestamp):.2f} s"
        self._last_change = frame.timestamp
        return Observation(
            images=(dataclasses.replace(image, label=label),),
            timestamp=frame.timestamp,
            keyframe=True,
            changed_fraction=1.0 if decision is None else decision.changed_fraction,
            changed_boxes=() if decision is None else decision.change_boxes,
            notes=(note,),
        )

    def _changes(self, frame: Frame, decision: EvsDecision) -> Observation:
        at = self._seconds(frame.timestamp)
        images: list[ModelImage] = []
        if decision.boxes:
            for box in pack_boxes(decision.boxes, self._image_size):
                image = crop_image(frame, box, self._image_size)
                label = (
                    f"Changed region {box.x},{box.y},{box.width},{box.height} of monitor "
                    f"{frame.monitor.index} at {at:.2f} s"
                )
                images.append(dataclasses.replace(image, label=label))
        elif decision.kept.any():  # max_crops == 0: show the change in a whole-screen view
            image = self._overview(frame)
            images.append(dataclasses.replace(image, label=f"Frame at {at:.2f} s"))
        if images:
            self._last_change = frame.timestamp
            note = f"{len(images)} changed region(s), {decision.changed_fraction:.1%} of the screen"
        elif math.isnan(self._last_change):
            note = "no change"
        else:
            note = f"no change since {self._seconds(self._last_change):.2f} s"
        return Observation(
            images=tuple(images),
            timestamp=frame.timestamp,
            keyframe=False,
            changed_fraction=decision.changed_fraction,
            changed_boxes=decision.change_boxes,
            notes=(note,),
        )

    def wait_settled(
        self, *, still_for: float = 0.3, timeout: float = 3.0, cancel: CancelToken | None = None
    ) -> SettleResult:
        """Block until the screen has been still for ``still_for`` s, or only animations keep changing.

        Returns ``settled=True`` when everything was still; ``settled=False`` with ``animating_boxes``
        when only some regions kept changing for a while (a spinner, a video: waiting longer would not
        help), or at ``timeout``. A ``cancel`` ends the wait within :data:`_CANCEL_POLL` s (a stop request
        must not sit out the settle wait).
        """
        start = self._clock()
        deadline = start + timeout
        window = max(1.5, 2 * still_for)
        tracker: SettleTracker | None = None
        seq = 0
        while cancel is None or not cancel.cancelled:
            remaining = deadline - self._clock()
            frame = self._source.poll_frame(seq, min(max(remaining, 0.0), _CANCEL_POLL))
            if frame is None:
                if remaining <= 0:
                    break
                continue
            seq = frame.seq
            if tracker is None:
                grid = PatchGrid(frame.width, frame.height, self._config.patch_size, self._core.cell)
                tracker = SettleTracker(
                    grid,
                    threshold=self._config.threshold,
                    peak_threshold=self._config.peak_threshold,
                    noise_floor=self._config.noise_floor,
                    window=window,
                    since=start,
                )
            tracker.update(tracker.grid.downscale(frame.pixels), frame.timestamp)
            if tracker.still_for() >= still_for:
                return SettleResult(True, self._clock() - start)
            watched = tracker.last_seen - tracker.first_seen
            if watched >= window and tracker.animating().any() and tracker.still_apart_from_animation() >= still_for:
                return SettleResult(False, self._clock() - start, tracker.animating_boxes())
            if remaining <= 0:
                break
        boxes = tracker.animating_boxes() if tracker is not None else ()
        return SettleResult(False, self._clock() - start, boxes)
