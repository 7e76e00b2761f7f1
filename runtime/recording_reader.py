"""Reading recordings back with PyAV: ``omnidesk record``'s segment folders, one segment, or any MP4/MKV.

A recording folder is read as one timeline: ``index.json`` gives each closed segment's start on the
recording's clock; segments on disk that the index does not list yet are the open one of a recording that
is still going (or the one a ``kill -9`` cut off) — they are read as far as they were written, starting where
the segment before them ended. A single segment or any other video file is a timeline of its own, from 0.

Everything is opened read-only and nothing of a recording is ever written. What cannot be read becomes a
:class:`~omnidesk.agent.errors.RecordingReadError` that says what to do; what can be skipped (an empty or
cut-off segment among good ones) is skipped with a note in :attr:`Recording.notes`.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from omnidesk.agent.errors import RecordingReadError
from omnidesk.agent.ports import AudioClip, CancelToken

__all__ = [
    "AUDIO_RATE",
    "DecodedFrame",
    "Recording",
    "Source",
    "TimeRange",
    "format_time",
    "iter_frames",
    "newest_recording",
    "open_recording",
    "parse_time",
    "read_audio",
]

log = logging.getLogger(__name__)

AUDIO_RATE = 16000
_SEGMENT = re.compile(r"segment-(\d{5})\.mkv")
_VIDEO_SUFFIXES = (".mkv", ".mp4", ".webm", ".mov", ".m4v", ".avi")

Pixels = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class Source:
    """One video file on the recording's clock: it covers ``[start, start + duration)`` seconds.

    ``closed`` is False for a segment the index does not list (still being written, or cut off).
    ``zero`` is the file's own time of its first frame (subtracted from its timestamps).
    """

    path: Path
    start: float
    duration: float
    width: int
    height: int
    audio: bool
    closed: bool = True
    zero: float = 0.0

    @property
    def end(self) -> float:
        return self.start + self.duration


@dataclass(frozen=True, slots=True)
class TimeRange:
    """``[start, end)`` seconds on a recording's clock."""

    start: float
    end: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.start) and math.isfinite(self.end)) or self.end < self.start:
            raise ValueError(f"a time range needs start <= end, got {self.start}..{self.end}")

    @property
    def duration(self) -> float:
        return self.end - self.start

    def __str__(self) -> str:
        return f"{format_time(self.start)}–{format_time(self.end)}"


@dataclass(frozen=True, slots=True)
class Recording:
    """A readable timeline of one or more video files (see the module doc)."""

    path: Path
    sources: tuple[Source, ...]
    #: False while the recorder is still writing it (or after it was killed); None for a plain file.
    complete: bool | None = None
    notes: tuple[str, ...] = ()
    wall_start: float | None = None

    @property
    def start(self) -> float:
        return self.sources[0].start

    @property
    def end(self) -> float:
        return max(s.end for s in self.sources)

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def has_audio(self) -> bool:
        return any(s.audio for s in self.sources)

    @property
    def size(self) -> tuple[int, int]:
        """The first source's frame size (a recording has one size)."""
        return self.sources[0].width, self.sources[0].height

    def range(self, start: float | None = None, end: float | None = None, last: float | None = None) -> TimeRange:
        """The part of the recording asked for, clipped to what it holds.

        ``last`` (seconds) takes the end of the recording; ``start`` / ``end`` count from its start.

        Raises:
            RecordingReadError: the range lies outside the recording or is empty.
        """
        first, final = self.start, self.end
        if last is not None:
            lo, hi = max(first, final - last), final
        else:
            lo = first if start is None else first + start
            hi = final if end is None else min(final, first + end)
        if lo >= final or hi <= lo:
            raise RecordingReadError(
                f"{self.path.name} is {format_time(self.duration)} long; the range "
                f"{format_time(lo - first)}–{format_time(hi - first)} holds nothing of it. "
                "Give --from/--to inside the recording"
            )
        return TimeRange(max(lo, first), hi)


@dataclass(frozen=True, slots=True, eq=False)
class DecodedFrame:
    """One decoded video frame: its time on the recording's clock and its luma (what EVS compares).

    The colour picture is converted only when asked for (most frames are only compared).
    """

    time: float
    grey: Pixels
    source: Source
    _frame: Any = field(repr=False)

    @property
    def width(self) -> int:
        return int(self.grey.shape[1])

    @property
    def height(self) -> int:
        return int(self.grey.shape[0])

    def bgra(self) -> Pixels:
        """The frame as ``H×W×4`` BGRA (the layout captured frames have)."""
        return np.ascontiguousarray(self._frame.to_ndarray(format="bgra"), dtype=np.uint8)


def parse_time(text: str) -> float:
    """Seconds from ``"75"``, ``"75.5"``, ``"01:15"`` or ``"1:02:03"``.

    Raises:
        ValueError: anything else (the CLI turns it into a usage error).
    """
    parts = text.strip().split(":")
    if not 1 <= len(parts) <= 3 or any(not p for p in parts):
        raise ValueError(f"{text!r} is not a time; write seconds (75) or mm:ss (01:15) or h:mm:ss")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise ValueError(f"{text!r} is not a time; write seconds (75) or mm:ss (01:15) or h:mm:ss") from None
    if any(v < 0 or not math.isfinite(v) for v in values) or any(v >= 60 for v in values[1:]):
        raise ValueError(f"{text!r} is not a time; minutes and seconds after a ':' are below 60")
    seconds = 0.0
    for value in values:
        seconds = seconds * 60 + value
    return seconds


def format_time(seconds: float) -> str:
    """``mm:ss`` (``h:mm:ss`` past an hour), the form answers cite times in."""
    whole = max(0, math.floor(seconds + 1e-6))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def newest_recording(recordings_dir: Path) -> Path:
    """The recording folder started last (the one a "what just happened" question is about).

    Raises:
        RecordingReadError: there is none.
    """
    found: list[tuple[float, str, Path]] = []
    if recordings_dir.is_dir():
        for folder in recordings_dir.iterdir():
            index = folder / "index.json"
            if folder.is_dir() and index.is_file():
                try:
                    started = float(json.loads(index.read_text(encoding="utf-8")).get("started_at", 0.0))
                except (OSError, ValueError, AttributeError, TypeError):
                    started = index.stat().st_mtime
                found.append((started, folder.name, folder))
    if not found:
        raise RecordingReadError(
            f"there is no recording in {recordings_dir}; start one with `omnidesk record` (or give PATH)"
        )
    return max(found)[2]


def open_recording(path: Path) -> Recording:
    """The recording at ``path``: a folder with ``index.json`` and segments, or one video file.

    Raises:
        RecordingReadError: nothing readable there (each message says why and what to do).
    """
    if not path.exists():
        raise RecordingReadError(f"{path} does not exist; give a recording folder or a video file")
    if path.is_dir():
        return _open_folder(path)
    source = _probe(path, start=0.0)
    return Recording(path, (source,), None, ())


def _open_folder(folder: Path) -> Recording:
    index_path = folder / "index.json"
    index: dict[str, Any] = {}
    notes: list[str] = []
    if index_path.is_file():
        try:
            loaded = json.loads(index_path.read_text(encoding="utf-8"))
            index = loaded if isinstance(loaded, dict) else {}
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            notes.append(f"index.json is unreadable ({exc}); segment times are taken from the files")
    listed = _listed_segments(index)
    on_disk = sorted(p for p in folder.iterdir() if _SEGMENT.fullmatch(p.name))
    if not on_disk:
        videos = sorted(p for p in folder.iterdir() if p.suffix.lower() in _VIDEO_SUFFIXES and p.is_file())
        if len(videos) == 1:
            return open_recording(videos[0])
        raise RecordingReadError(
            f"{folder} holds no recording segments (segment-00000.mkv …); give the folder `omnidesk record` "
            "wrote, or one video file"
        )
    sources: list[Source] = []
    cursor = 0.0
    for file in on_disk:
        info = listed.get(file.name)
        start = float(info["start"]) if info is not None else cursor
        try:
            source = _probe(file, start=start, closed=info is not None)
        except RecordingReadError as exc:
            notes.append(f"skipped {file.name}: {exc}")
            log.warning("recording %s: skipped %s: %s", folder.name, file.name, exc)
            continue
        if info is None:
            what = "cut off, or still being written" if not index.get("complete") else "not in the index"
            notes.append(f"{file.name} is {what}: read up to {format_time(source.duration)} of it")
        sources.append(source)
        cursor = source.end
    if not sources:
        raise RecordingReadError(f"no segment of {folder} can be read ({'; '.join(notes)})")
    if index.get("error"):
        notes.append(f"the recorder reported: {index['error']}")
    complete = bool(index.get("complete")) if index else None
    wall = index.get("started_at")
    return Recording(
        folder, tuple(sources), complete, tuple(notes), float(wall) if isinstance(wall, int | float) else None
    )


def _listed_segments(index: dict[str, Any]) -> dict[str, dict[str, Any]]:
    listed: dict[str, dict[str, Any]] = {}
    for entry in index.get("segments") or []:
        if (
            isinstance(entry, dict)
            and isinstance(entry.get("file"), str)
            and isinstance(entry.get("start"), int | float)
        ):
            listed[entry["file"]] = entry
    return listed


def _open_container(path: Path) -> Any:
    import av

    try:
        return av.open(str(path), mode="r")
    except av.error.FFmpegError as exc:
        raise RecordingReadError(
            f"{path.name} is not a video PyAV can read ({exc.strerror or exc}); it may be cut off before its "
            "header was written — give an MKV or MP4 file"
        ) from exc


def _probe(path: Path, *, start: float, closed: bool = True) -> Source:
    """Size, audio, and how long the file really is (its video packets are read: a cut-off file has no
    duration in its header, and a plain file's header may count its audio)."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise RecordingReadError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if size == 0:
        raise RecordingReadError(
            f"{path.name} is empty (0 bytes): its recorder stopped before writing anything; nothing to read in it"
        )
    with _open_container(path) as container:
        if not container.streams.video:
            raise RecordingReadError(f"{path.name} has no video track; give a screen recording (MKV or MP4)")
        stream = container.streams.video[0]
        codec = stream.codec_context
        if codec is None or stream.codec.name in ("", "none"):  # pragma: no branch - PyAV's own guard
            raise RecordingReadError(_codec_message(path, stream))
        width, height = int(codec.width), int(codec.height)
        if width <= 0 or height <= 0:
            raise RecordingReadError(_codec_message(path, stream))
        audio = bool(container.streams.audio)
        first, last, interval = _video_times(container, stream)
        if first is None or last is None:
            raise RecordingReadError(f"{path.name} holds no video frames (it was cut off right after its header)")
        # The first frame's own time, not the stream's start_time: FFmpeg's Matroska demuxer sometimes gives
        # the video the audio's start (an Opus track starts after its pre-skip, 13 ms in), which put the
        # first frame before the recording's start and dropped it.
        zero = first
        duration = max(0.0, last - zero) + interval
    return Source(path, start, duration, width, height, audio, closed, zero)


def _codec_message(path: Path, stream: Any) -> str:
    tag = getattr(stream.codec_context, "codec_tag", "") if stream.codec_context is not None else ""
    return (
        f"{path.name} uses a video codec this build cannot decode ({tag or 'unknown codec'}); convert it to "
        "H.264, VP9 or AV1 (e.g. record it again with `omnidesk record`)"
    )


def _video_times(container: Any, stream: Any) -> tuple[float | None, float | None, float]:
    """The first and last video packets' times and the frame interval, read from packets only (no
    decoding)."""
    import av

    first: float | None = None
    last: float | None = None
    previous: float | None = None
    gaps: list[float] = []
    try:
        for packet in container.demux(stream):
            if packet.pts is None:
                continue
            t = float(packet.pts * packet.time_base)
            if previous is not None and t > previous:
                gaps.append(t - previous)
            previous = t
            first = t if first is None else min(first, t)
            last = t if last is None else max(last, t)
    except av.error.FFmpegError as exc:  # a cut-off tail: what was read before it counts
        log.info("%s: stopped reading at a damaged packet (%s)", Path(container.name).name, exc)
    rate = stream.average_rate or stream.guessed_rate
    interval = float(np.median(gaps)) if gaps else (1.0 / float(rate) if rate else 0.0)
    return first, last, interval


def iter_frames(
    recording: Recording,
    time_range: TimeRange,
    *,
    min_interval: float = 0.0,
    cancel: CancelToken | None = None,
) -> Iterator[DecodedFrame]:
    """Decoded frames inside ``time_range`` in time order, at most one per ``min_interval`` seconds.

    H.264 needs every frame decoded, but only the ones yielded are converted. A damaged tail (a cut-off
    segment) ends that segment quietly; the next one goes on.
    """
    import av

    last = -math.inf
    for source in recording.sources:
        if source.end <= time_range.start or source.start >= time_range.end:
            continue
        with _open_container(source.path) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            offset = time_range.start - source.start
            if offset > 0.5:
                container.seek(round((offset + source.zero) / stream.time_base), stream=stream, backward=True)
            try:
                for frame in container.decode(stream):
                    if cancel is not None and cancel.cancelled:
                        return
                    if frame.pts is None:
                        continue
                    t = source.start + float(frame.pts * frame.time_base) - source.zero
                    if t < time_range.start:
                        continue
                    if t >= time_range.end:
                        break
                    if t - last < min_interval - 1e-6:
                        continue
                    last = t
                    grey = np.asarray(frame.to_ndarray(format="gray"), dtype=np.uint8)
                    yield DecodedFrame(t, grey, source, frame)
            except av.error.FFmpegError as exc:
                log.warning("%s: stopped at a damaged frame (%s); the rest of it is unreadable", source.path.name, exc)


def read_audio(recording: Recording, time_range: TimeRange) -> AudioClip | None:
    """The sound of ``time_range`` as 16 kHz mono float32, silence where nothing was recorded.

    ``start`` / ``end`` of the clip are on the recording's clock. None when no source has audio.
    """
    import av

    if not recording.has_audio:
        return None
    total = max(1, round(time_range.duration * AUDIO_RATE))
    out = np.zeros(total, dtype=np.float32)
    for source in recording.sources:
        if not source.audio or source.end <= time_range.start or source.start >= time_range.end:
            continue
        with _open_container(source.path) as container:
            stream = container.streams.audio[0]
            offset = time_range.start - source.start
            if offset > 1.0:
                container.seek(round((offset - 0.5 + source.zero) * av.time_base), backward=True)
            resampler = av.AudioResampler(format="flt", layout="mono", rate=AUDIO_RATE)
            position: int | None = None
            try:
                for frame in container.decode(stream):
                    if frame.pts is None:
                        continue
                    if position is None:
                        first = source.start + float(frame.pts * frame.time_base) - source.zero
                        position = round((first - time_range.start) * AUDIO_RATE)
                    if position >= total:
                        break
                    for chunk in resampler.resample(frame):
                        position = _place(out, chunk.to_ndarray()[0], position)
                if position is not None and position < total:
                    for chunk in resampler.resample(None):
                        position = _place(out, chunk.to_ndarray()[0], position)
            except av.error.FFmpegError as exc:
                log.warning("%s: audio stops at a damaged packet (%s)", source.path.name, exc)
    return AudioClip(out, AUDIO_RATE, time_range.start, time_range.start + total / AUDIO_RATE)


def _place(out: npt.NDArray[np.float32], samples: npt.NDArray[Any], position: int) -> int:
    """Copy ``samples`` into ``out`` at ``position`` (clipped to it); the next position."""
    n = len(samples)
    lo, hi = max(0, position), min(len(out), position + n)
    if hi > lo:
        out[lo:hi] = samples[lo - position : hi - position]
    return position + n
