"""A question about a recording: read it, let EVS pick the frames, fit them to the model, ask, combine.

The one way to ask about a recording (``omnidesk ask --recording`` and the GUI's History use it):

1. open the recording read-only (a folder of segments, one segment, or any MP4/MKV) and take the range;
2. EVS scans the range (:func:`~omnidesk.runtime.recording_sampler.scan_moments`): the screen at the start
   and once each change has settled, every frame scaled to the trained video frame size (about 1024
   patches of 16 px, aspect kept: 672×384 for 16:9);
3. the moments and the sound are cut into parts that fit the budget
   (:func:`~omnidesk.agent.recording_plan.plan_chunks`), counting each frame with the engine's own image
   rule (the in-process projector's canvas, else vLLM's Nemotron image tiler) and the sound at 12.5 tokens
   per second;
4. each part is one request in the trained video layout (:mod:`omnidesk.agent.recording_prompt`); with more
   than one part a last text-only request merges their answers.

An engine that takes video (vLLM: :meth:`~omnidesk.agent.ports.VideoEngine.video_serving`) gets the range
as MP4 clips instead and samples and prunes them itself (:mod:`omnidesk.app.recording_video`); ``video=False``,
change crops or a spoken question keep the frames.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from omnidesk.agent.errors import ConfigError, ModelCapabilityError
from omnidesk.agent.media_budget import audio_tokens, video_frame_size, vllm_image_tokens
from omnidesk.agent.ports import AudioClip, CancelToken, Frame, ModelClient, ModelImage, TokenDelta, VideoEngine
from omnidesk.agent.recording_plan import Chunk, Pick, plan_chunks
from omnidesk.agent.recording_prompt import RecordingSlice, combine_request, recording_request
from omnidesk.runtime.config import EvsConfig

if TYPE_CHECKING:
    from omnidesk.app.recording_video import VideoReport

__all__ = ["PartAnswer", "Progress", "RecordingAnswer", "RecordingQuestion", "ask_about_recording", "audio_clips"]

log = logging.getLogger(__name__)

_TEXT_RESERVE = 600  # the instructions, the question and the separators (about 12 tokens per pair)
CROP_SIZE = 448


@dataclass(frozen=True, slots=True)
class RecordingQuestion:
    """What is asked: ``path`` (None: the newest recording in ``recordings_dir``), the range (seconds from
    the recording's start; ``last`` counts back from its end), whether change crops go too, and the token
    budget of one request (None: the model's context less the answer). ``spoken``: the question as the
    person said it (16 kHz); it goes to the model as audio, ``question`` is then only what they typed with it. ``video``
    lets an engine that takes video get clips; ``video_pruning_rate`` / ``video_frames`` / ``video_fps`` state the
    server's launch options (``--video-pruning-rate``, ``--media-io-kwargs``) when it does not report them."""

    question: str
    path: Path | None = None
    recordings_dir: Path | None = None
    start: float | None = None
    end: float | None = None
    last: float | None = None
    crops: bool = False
    budget: int | None = None
    max_tokens: int = 1024
    enable_thinking: bool | None = None
    spoken: AudioClip | None = None
    video: bool = True
    video_pruning_rate: float | None = None
    video_frames: int | None = None
    video_fps: float | None = None


@dataclass(frozen=True, slots=True)
class PartAnswer:
    start: float
    end: float
    frame_times: tuple[float, ...]
    audio_seconds: float
    prompt_tokens: int
    text: str


@dataclass(slots=True)
class RecordingAnswer:
    """The answer, the parts it came from and what was said about the recording on the way."""

    text: str
    recording: Path
    start: float
    end: float
    parts: list[PartAnswer] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    scan_seconds: float = 0.0
    video: VideoReport | None = None


class Progress:
    """Where the work stands, for a progress bar: ``stage`` text and ``done`` of ``total`` seconds/parts."""

    def update(self, stage: str, done: float, total: float) -> None:
        """Called as the scan goes and before each request (no-op here)."""


def _frame_tokens(client: ModelClient, width: int, height: int) -> int:
    canvas = client.capabilities.image_canvas
    if canvas is not None:
        return canvas.view(width, height).tokens
    return vllm_image_tokens(width, height)


def audio_clips(clip: AudioClip, origin: float) -> tuple[AudioClip, ...]:
    """``clip`` cut into the 30 s pieces the audio encoder takes, times relative to ``origin``."""
    step = 30 * clip.sample_rate
    out: list[AudioClip] = []
    for lo in range(0, len(clip.samples), step):
        piece = np.ascontiguousarray(clip.samples[lo : lo + step])
        begin = clip.start - origin + lo / clip.sample_rate
        out.append(AudioClip(piece, clip.sample_rate, begin, begin + len(piece) / clip.sample_rate))
    return tuple(out)


def ask_about_recording(
    client: ModelClient,
    ask: RecordingQuestion,
    *,
    evs: EvsConfig,
    progress: Progress | None = None,
    on_token: Callable[[TokenDelta], None] | None = None,
    cancel: CancelToken | None = None,
) -> RecordingAnswer:
    """Answer ``ask`` with ``client`` (see the module doc). ``on_token`` streams the final answer only.

    Raises:
        RecordingReadError: the recording cannot be read (the message says what to do).
        ConfigError: the range or budget cannot work, or the model cannot see images.
    """
    from omnidesk.runtime.images import resized_image
    from omnidesk.runtime.recording_reader import (
        TimeRange,
        newest_recording,
        open_recording,
        read_audio,
    )
    from omnidesk.runtime.recording_sampler import ScanStats, for_decoded_video, scan_moments

    progress = progress or Progress()
    capabilities = client.capabilities
    if not capabilities.vision:
        raise ConfigError(f"{capabilities.name} cannot see images; a recording needs a vision model")
    if ask.spoken is not None and not capabilities.audio:
        raise ModelCapabilityError(
            f"{capabilities.name} cannot hear a spoken question: its mmproj has no audio encoder. Use the omni "
            "mmproj with the audio encoder, or type the question"
        )
    if ask.path is None:
        if ask.recordings_dir is None:
            raise ConfigError("give the recording's PATH")
        path = newest_recording(ask.recordings_dir)
    else:
        path = ask.path
    recording = open_recording(path)
    wanted = recording.range(ask.start, ask.end, ask.last)
    origin = recording.start
    answer = RecordingAnswer("", recording.path, wanted.start - origin, wanted.end - origin)
    answer.notes.extend(recording.notes)
    if recording.complete is False:
        answer.notes.append("the recording is still being written (or was cut off): read as far as it goes")
    with_sound = recording.has_audio and capabilities.audio
    if not recording.has_audio:
        answer.notes.append("the recording has no sound; the model gets the pictures only")
    elif not capabilities.audio:
        answer.notes.append(f"{capabilities.name} takes no audio; the model gets the pictures only")
    clip_ok = ask.video and not ask.crops and ask.spoken is None
    serving = client.video_serving() if clip_ok and isinstance(client, VideoEngine) else None
    if serving is not None:
        from omnidesk.app.recording_video import ask_with_video

        return ask_with_video(
            client,
            ask,
            recording,
            wanted,
            serving=serving,
            answer=answer,
            progress=progress,
            on_token=on_token,
            cancel=cancel,
        )

    width, height = recording.size
    frame_w, frame_h = video_frame_size(width, height)
    per_frame = _frame_tokens(client, frame_w, frame_h)
    per_crop = _frame_tokens(client, CROP_SIZE, CROP_SIZE) if ask.crops else 0

    def frame_image(frame: Frame) -> ModelImage:
        return resized_image(frame, frame_w, frame_h)

    stats = ScanStats()
    started = time.monotonic()
    moments = []
    for moment in scan_moments(
        recording,
        wanted,
        config=for_decoded_video(evs),
        frame_image=frame_image,
        crop_size=CROP_SIZE if ask.crops else None,
        stats=stats,
        cancel=cancel,
    ):
        moments.append(moment)
        progress.update("reading", stats.position - wanted.start, wanted.duration)
    progress.update("reading", wanted.duration, wanted.duration)
    answer.scan_seconds = time.monotonic() - started

    budget = ask.budget or capabilities.context_length - ask.max_tokens - _TEXT_RESERVE
    if ask.spoken is not None:
        budget -= audio_tokens(len(ask.spoken.samples))
    picks = [Pick(m.time - origin, per_frame + per_crop * len(m.crops)) for m in moments]
    chunks = plan_chunks(
        picks,
        answer.start,
        answer.end,
        budget=budget,
        audio_tokens=(lambda seconds: audio_tokens(round(seconds * 16000))) if with_sound else None,
    )

    def part_request(number: int, chunk: Chunk) -> tuple[RecordingSlice, float]:
        chosen = [moments[i] for i in chunk.picks]
        frames = tuple(_relabel(m.frame, m.time - origin) for m in chosen)
        crops = tuple(_relabel(c, m.time - origin) for m in chosen for c in m.crops) if ask.crops else ()
        audio: tuple[AudioClip, ...] = ()
        if with_sound:
            clip = read_audio(recording, TimeRange(chunk.start + origin, chunk.end + origin))
            audio = audio_clips(clip, origin) if clip is not None else ()
        piece = RecordingSlice(
            chunk.start, chunk.end, recording.duration, frames, crops, audio, part=number, parts=len(chunks)
        )
        return piece, sum(c.duration for c in audio)

    replies: list[tuple[float, float, str]] = []
    for number, chunk in enumerate(chunks, 1):
        progress.update(f"asking part {number} of {len(chunks)}", number - 1, len(chunks) + (len(chunks) > 1))
        piece, seconds = part_request(number, chunk)
        request = recording_request(
            piece, ask.question, max_tokens=ask.max_tokens, enable_thinking=ask.enable_thinking, spoken=ask.spoken
        )
        reply = client.generate(request, on_token=on_token if len(chunks) == 1 else None, cancel=cancel)
        times = tuple(round(f.timestamp, 3) for f in piece.frames)
        answer.parts.append(PartAnswer(chunk.start, chunk.end, times, seconds, reply.prompt_tokens, reply.text))
        replies.append((chunk.start, chunk.end, reply.text))
    return combine_parts(
        client, ask, answer, replies, length=recording.duration, progress=progress, on_token=on_token, cancel=cancel
    )


def combine_parts(
    client: ModelClient,
    ask: RecordingQuestion,
    answer: RecordingAnswer,
    replies: list[tuple[float, float, str]],
    *,
    length: float,
    progress: Progress,
    on_token: Callable[[TokenDelta], None] | None,
    cancel: CancelToken | None,
) -> RecordingAnswer:
    """``answer`` with its text: the one part's reply, or the model's answer over every part's reply (each
    with its time range) when the recording was asked in parts."""
    if len(replies) == 1:
        answer.text = replies[0][2]
    elif replies:
        progress.update("combining the parts", len(replies), len(replies) + 1)
        final = combine_request(
            ask.question,
            replies,
            length=length,
            max_tokens=ask.max_tokens,
            enable_thinking=ask.enable_thinking,
            spoken=ask.spoken,
        )
        answer.text = client.generate(final, on_token=on_token, cancel=cancel).text
    progress.update("done", 1, 1)
    return answer


def _relabel(image: ModelImage, seconds: float) -> ModelImage:
    """``image`` with its time on the recording's clock counted from the recording's start."""
    import dataclasses

    return dataclasses.replace(image, timestamp=seconds)
