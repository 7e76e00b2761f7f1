"""Screen recording with PyAV: H.264 video of a monitor plus microphone audio, in Matroska segments.

Each segment (~``segment_seconds``) is its own ``.mkv`` file, closed before the next one opens; the open
one reaches the disk cluster by cluster (at most 1 s each), so it can be read while it is written and a
``kill -9`` loses at most its last second. Video is libx264 ``ultrafast``/``zerolatency`` with a GOP of at
most 2 s, scaled to fit 1920×1080; frame PTS come from capture timestamps and audio PTS from the
microphone's ADC times, both on the monotonic clock, relative to the segment's start. Audio is taken
before the frames that may roll a segment over, so no sample is lost between segments (a segment's audio
may run up to one poll past its last frame; the next one's starts where that left off). ``index.json`` lists
the closed segments with their start times and the dropped-frame count; it is rewritten atomically after
every segment. The directory is private (0700). A full disk or an unwritable directory raises
:class:`RecordingError`; what was written stays, and the index says so.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from omnidesk.agent.errors import RecordingError
from omnidesk.agent.ports import CancelToken, Frame
from omnidesk.agent.private_files import private_dir, write_private
from omnidesk.runtime.audio import SoundDeviceMicrophone
from omnidesk.runtime.capture import CaptureStream

__all__ = ["Progress", "RecordingIndex", "SegmentInfo", "SegmentedRecorder", "fit_video_size", "record"]

log = logging.getLogger(__name__)

# How long a recording waits for the microphone's first audio before it starts without it.
_FIRST_AUDIO_WAIT = 2.0

MAX_WIDTH, MAX_HEIGHT = 1920, 1080
AUDIO_RATE = 16000
_MS = Fraction(1, 1000)
# FFmpeg's matroska muxer keeps a cluster (5 s by default) in memory and its I/O layer buffers 32 KiB.
_LIVE_MUXER_OPTIONS = {"cluster_time_limit": "1000", "flush_packets": "1"}


def fit_video_size(width: int, height: int) -> tuple[int, int]:
    """The largest even size with the monitor's aspect that fits 1920×1080 (never upscaled)."""
    scale = min(1.0, MAX_WIDTH / width, MAX_HEIGHT / height)
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


@dataclass
class SegmentInfo:
    file: str
    start: float  # seconds since the recording started
    wall_start: float
    duration: float = 0.0
    frames: int = 0
    audio_seconds: float = 0.0


@dataclass
class RecordingIndex:
    monitor: dict[str, Any]
    fps: float
    width: int
    height: int
    audio: bool
    started_at: float  # wall clock
    segments: list[SegmentInfo] = field(default_factory=list)
    dropped_frames: int = 0
    complete: bool = False
    error: str = ""


class _Segment:
    """One open Matroska file with its video (and audio) stream."""

    def __init__(self, container: Any, *, fps: float, size: tuple[int, int], audio: bool, start: float) -> None:
        self.container = container
        self.start = start
        gop = max(1, min(round(2 * fps), 250))
        video = container.add_stream(
            "libx264",
            rate=max(1, round(fps)),
            options={"preset": "ultrafast", "tune": "zerolatency", "g": str(gop), "bf": "0"},
        )
        video.width, video.height = size
        video.pix_fmt = "yuv420p"
        video.codec_context.time_base = _MS
        self.video = video
        self.audio = container.add_stream("libopus", rate=AUDIO_RATE, layout="mono") if audio else None
        self.frames = 0
        self.audio_samples = 0
        self.audio_end = 0  # audio PTS just after the last sample written
        self.last_pts = -1

    def add_frame(self, frame: Frame) -> bool:
        import av

        pts = round((frame.timestamp - self.start) * 1000)
        if pts <= self.last_pts:
            return False  # two frames in one millisecond (or out of order): keep the first
        video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame.pixels), format="bgra")
        video_frame.pts = pts
        video_frame.time_base = _MS
        for packet in self.video.encode(video_frame):
            self.container.mux(packet)
        self.last_pts = pts
        self.frames += 1
        return True

    def add_audio(self, samples: npt.NDArray[np.float32], start: float) -> None:
        import av

        if self.audio is None or samples.size == 0:
            return
        pts = round((start - self.start) * AUDIO_RATE)
        if pts < 0:
            samples = samples[-pts:]
            pts = 0
            if samples.size == 0:
                return
        # A block overlapping the last one: the microphone's clock estimate moved back (it keeps the smallest
        # PortAudio-to-monotonic gap seen, which shrinks on a loaded machine), not its samples. They are
        # contiguous, so the block follows the last one (the encoder and muxer refuse time going back;
        # cutting the overlap would cut the speech).
        pts = max(pts, self.audio_end)
        audio_frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples, dtype=np.float32)[None, :], format="flt", layout="mono"
        )
        audio_frame.sample_rate = AUDIO_RATE
        audio_frame.pts = pts
        audio_frame.time_base = Fraction(1, AUDIO_RATE)
        for packet in self.audio.encode(audio_frame):
            self.container.mux(packet)
        self.audio_samples += samples.size
        self.audio_end = pts + samples.size

    def close(self) -> None:
        try:
            for packet in self.video.encode():
                self.container.mux(packet)
            if self.audio is not None:
                for packet in self.audio.encode():
                    self.container.mux(packet)
        finally:
            self.container.close()


class SegmentedRecorder:
    """Writes frames and audio into closed-one-by-one MKV segments under ``out_dir``.

    Args:
        out_dir: created with mode 0700.
        monitor: a description of what is recorded (stored in the index).
        fps: nominal frame rate (GOP and the index); PTS come from the frames' timestamps.
        start: monotonic time the recording starts at (PTS 0); defaults to the first frame's time.
        open_container: opens a Matroska file for writing (tests pass failing ones).
    """

    def __init__(
        self,
        out_dir: Path,
        *,
        monitor: dict[str, Any],
        size: tuple[int, int],
        fps: float,
        audio: bool,
        segment_seconds: float = 10.0,
        start: float | None = None,
        open_container: Callable[[Path], Any] | None = None,
    ) -> None:
        self.out_dir = Path(out_dir)
        self._fps = fps
        self._size = fit_video_size(*size)
        self._audio = audio
        self._segment_seconds = segment_seconds
        self._start = start
        self._open = open_container or _open_matroska
        self._segment: _Segment | None = None
        self._info: SegmentInfo | None = None
        self._early: list[tuple[npt.NDArray[np.float32], float]] = []
        self.index = RecordingIndex(monitor, fps, *self._size, audio, time.time())
        try:
            private_dir(self.out_dir)
        except OSError as exc:
            raise RecordingError(
                f"cannot create the recording directory {self.out_dir}: {exc.strerror or exc}; "
                "choose a writable place with --out"
            ) from exc
        self._write_index()

    @property
    def segments(self) -> list[SegmentInfo]:
        return list(self.index.segments)

    @property
    def origin(self) -> float | None:
        """The monotonic time of the recording's time 0 (None before the first frame): anything else
        stamped on the monotonic clock (the person's input in teach mode) is placed on the recording's
        timeline by subtracting it."""
        return self._start

    def add_dropped(self, count: int) -> None:
        self.index.dropped_frames += count

    def _fail(self, exc: BaseException, what: str) -> RecordingError:
        segment, self._segment, self._info = self._segment, None, None
        if segment is not None:
            with contextlib.suppress(Exception):
                segment.container.close()
        self.index.error = f"{what}: {exc}"
        kept = ", ".join(s.file for s in self.index.segments) or "nothing"
        with contextlib.suppress(RecordingError):
            self._write_index()
        reason = "the disk is full" if getattr(exc, "errno", None) == 28 else str(exc)
        return RecordingError(
            f"recording stopped while {what} ({reason}); kept {kept} in {self.out_dir}. "
            "Free some space or choose another directory with --out"
        )

    def _begin_segment(self, at: float) -> None:
        if self._start is None:
            self._start = at
        n = len(self.index.segments)
        name = f"segment-{n:05d}.mkv"
        try:
            path = self.out_dir / name
            _create_private(path)  # FFmpeg opens it with the umask's mode otherwise
            container = self._open(path)
            self._segment = _Segment(container, fps=self._fps, size=self._size, audio=self._audio, start=at)
        except (OSError, ValueError) as exc:
            raise self._fail(exc, f"opening {name}") from exc
        self._info = SegmentInfo(name, at - self._start, time.time())
        early, self._early = self._early, []
        for samples, start in early:
            self.add_audio(samples, start)

    def _end_segment(self) -> None:
        segment, info = self._segment, self._info
        self._segment = self._info = None
        if segment is None or info is None:
            return
        try:
            segment.close()
        except (OSError, ValueError) as exc:
            raise self._fail(exc, f"closing {info.file}") from exc
        info.frames = segment.frames
        info.duration = max(segment.last_pts, 0) / 1000 + (1.0 / self._fps if segment.frames else 0.0)
        info.audio_seconds = segment.audio_samples / AUDIO_RATE
        self.index.segments.append(info)
        self._write_index()
        log.info("recording: closed %s (%d frames)", info.file, info.frames)

    def add_frame(self, frame: Frame) -> None:
        """Encode one frame; rolls over to a new segment every ``segment_seconds``."""
        segment = self._segment
        if segment is not None and frame.timestamp - segment.start >= self._segment_seconds:
            self._end_segment()
            segment = None
        if segment is None:
            self._begin_segment(frame.timestamp)
            segment = self._segment
        assert segment is not None
        try:
            if not segment.add_frame(frame):
                self.index.dropped_frames += 1
        except (OSError, ValueError) as exc:
            raise self._fail(exc, "writing video") from exc

    def add_audio(self, samples: npt.NDArray[np.float32], start: float) -> None:
        """Encode microphone samples whose first one was sampled at monotonic time ``start``."""
        if self._segment is None:
            if not self.index.segments and not self.index.error:
                # Before the first frame: kept (the last second) for the first segment, which opens at the
                # first frame's capture time and keeps what was heard from then on.
                self._early.append((samples, start))
                while self._early and start - self._early[0][1] > 1.0:
                    self._early.pop(0)
            return
        try:
            self._segment.add_audio(samples, start)
        except (OSError, ValueError) as exc:
            raise self._fail(exc, "writing audio") from exc

    def close(self) -> RecordingIndex:
        """Close the open segment and mark the recording complete."""
        self._end_segment()
        self.index.complete = not self.index.error
        self._write_index()
        return self.index

    def _write_index(self) -> None:
        path = self.out_dir / "index.json"
        data = asdict(self.index)
        try:
            write_private(path, json.dumps(data, indent=2).encode("utf-8"), durable=False)
        except OSError as exc:
            raise RecordingError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _create_private(path: Path) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


def _open_matroska(path: Path) -> Any:
    """A Matroska muxer whose data reaches the file within about a second: clusters of at most 1 s, each
    packet flushed. The open segment is then readable while it is written (a "what just happened" question
    reads it) and a ``kill -9`` loses at most the last second of it."""
    import av

    return av.open(str(path), "w", format="matroska", options=_LIVE_MUXER_OPTIONS)


@dataclass(frozen=True, slots=True)
class Progress:
    elapsed: float
    frames: int
    segments: int
    dropped: int
    audio_level: float


def record(
    stream: CaptureStream,
    recorder: SegmentedRecorder,
    *,
    seconds: float | None,
    stop: CancelToken,
    microphone: SoundDeviceMicrophone | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> RecordingIndex:
    """Feed a running capture stream (and microphone) into ``recorder`` until ``seconds`` or ``stop``.

    The open segment is closed and the index written however the loop ends (an error, Ctrl-C).
    """
    last_ts, last_seq = -math.inf, 0
    audio_seq = microphone.last_seq if microphone is not None else 0
    if microphone is not None:
        # Both streams start together: frames captured before the first sound the microphone delivers
        # are left out, so the first segment's audio covers all of its video (the microphone opens
        # after the capture thread has already taken a few frames).
        first = microphone.blocks_after(audio_seq, _FIRST_AUDIO_WAIT)
        if first:
            last_ts = first[0].start
            latest = stream.latest()
            if latest is not None and latest.timestamp <= last_ts:
                last_seq = latest.seq
    # ``seconds`` counts from here, when screen and microphone both record (the microphone can take a
    # second or two to deliver its first sound).
    started = time.monotonic()
    frames = 0
    try:
        while not stop.cancelled and (seconds is None or time.monotonic() - started < seconds):
            if stream.poll_frame(last_seq, 0.1) is None:
                continue
            # Audio first: what was heard before a frame that rolls over to a new segment belongs to the
            # open one (the new segment would cut it off as earlier than its start).
            if microphone is not None:
                for block in microphone.blocks_after(audio_seq, 0.0):
                    recorder.add_audio(block.samples, block.start)
                    audio_seq = block.seq
            for frame in stream.frames_since(last_ts):
                recorder.add_frame(frame)
                last_ts, last_seq = frame.timestamp, frame.seq
                frames += 1
            if on_progress is not None:
                level = microphone.level() if microphone is not None else 0.0
                on_progress(
                    Progress(time.monotonic() - started, frames, len(recorder.segments), stream.stats().dropped, level)
                )
    finally:
        recorder.add_dropped(stream.stats().dropped)
        index = recorder.close()
    return index
