"""A range of a recording cut into the MP4 clip an engine that takes video is sent (read-only).

The clip has a constant frame rate (``fps``; 2 by default, so every frame time is a whole number of
milliseconds, as vLLM's ``calculate_timestamps`` needs: ``index · int(1000 / fps) / 1000``): frame ``k``
shows the screen as recorded at ``start + k / fps`` (the newest recorded frame at or before that time).
Frames are scaled down to ``size`` — the size vLLM resizes a video frame to anyway — and never up: a
smaller recording keeps its own size (even sides, as H.264 4:2:0 needs). One H.264 stream in an MP4 written
in memory, no sound: the sound goes as separate 16 kHz clips.
"""

from __future__ import annotations

import io
import logging
import math
from fractions import Fraction

import cv2
import numpy as np

from omnidesk.agent.errors import RecordingReadError
from omnidesk.agent.ports import CancelToken, VideoClip
from omnidesk.runtime.recording_reader import DecodedFrame, Recording, TimeRange, iter_frames

__all__ = ["CLIP_FPS", "clip_size", "cut_clip"]

log = logging.getLogger(__name__)

CLIP_FPS = 2.0


def clip_size(width: int, height: int, target: tuple[int, int]) -> tuple[int, int]:
    """``target`` when the recording is at least that large, else the recording's own size (even sides)."""
    if width >= target[0] and height >= target[1]:
        return target
    return max(2, width - width % 2), max(2, height - height % 2)


def cut_clip(
    recording: Recording,
    time_range: TimeRange,
    *,
    size: tuple[int, int],
    fps: float = CLIP_FPS,
    cancel: CancelToken | None = None,
) -> VideoClip:
    """``time_range`` of ``recording`` as an MP4 (see the module doc); its times are on the recording's clock.

    Raises:
        RecordingReadError: no frame of the range can be decoded.
    """
    import av

    count = max(1, math.ceil(time_range.duration * fps - 1e-6))
    slots = [time_range.start + k / fps for k in range(count)]
    buffer = io.BytesIO()
    written = 0
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1000))
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "18"}
        current: DecodedFrame | None = None
        picture: tuple[DecodedFrame, np.ndarray] | None = None
        frames = iter_frames(recording, TimeRange(max(recording.start, time_range.start - 2.0), time_range.end))
        pending = next(frames, None)
        for slot in slots:
            if cancel is not None and cancel.cancelled:
                break
            while pending is not None and pending.time <= slot + 1e-6:
                current, pending = pending, next(frames, None)
            if current is None:  # nothing recorded before the range's first frame: show that one
                if pending is None:
                    break
                current = pending
            if picture is None or picture[0] is not current:  # converted once, however many slots show it
                bgra = current.bgra()
                same = bgra.shape[1::-1] == size
                picture = current, bgra if same else cv2.resize(bgra, size, interpolation=cv2.INTER_AREA)
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(picture[1]), format="bgra")
            frame.pts = written
            for packet in stream.encode(frame):
                container.mux(packet)
            written += 1
        if written:
            for packet in stream.encode():
                container.mux(packet)
    if not written:
        raise RecordingReadError(
            f"no frame of {recording.path.name} between {time_range} could be decoded; check the recording"
        )
    log.info("cut a %d-frame %dx%d clip (%d bytes) of %s", written, *size, buffer.tell(), time_range)
    return VideoClip(
        buffer.getvalue(), "video/mp4", time_range.start, time_range.start + written / fps, fps, written, *size
    )
