"""A recording question sent to an engine that takes video: the range cut into MP4 clips, one request
per part (:mod:`omnidesk.agent.recording_video` says what vLLM does with them), the answers merged.

Called by :func:`~omnidesk.app.recording_question.ask_about_recording` once it knows the engine takes
video; it reports the server's EVS pruning rate as the server gave it, as the person stated it
(``--video-pruning-rate``), or says that neither did.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from omnidesk.agent.media_budget import audio_tokens, video_frame_size
from omnidesk.agent.ports import AudioClip, CancelToken, ModelClient, TokenDelta, VideoClip, VideoServing
from omnidesk.agent.recording_video import (
    DEFAULT_NUM_FRAMES,
    VideoLimits,
    VideoSlice,
    plan_video_parts,
    sampled_times,
    video_request,
)

if TYPE_CHECKING:
    from omnidesk.app.recording_question import Progress, RecordingAnswer, RecordingQuestion
    from omnidesk.runtime.recording_reader import Recording, TimeRange

__all__ = ["VideoReport", "ask_with_video", "video_limits"]

_TEXT_RESERVE = 600


@dataclass(frozen=True, slots=True)
class VideoReport:
    """How the clip was served: the pruning rate and where that figure comes from (``server``,
    ``stated`` by the person, or ``unknown``), the sampling assumed, the clip's frame rate and size."""

    pruning_rate: float | None
    pruning_source: str
    num_frames: int
    fps: float
    clip_fps: float
    size: tuple[int, int]

    def note(self) -> str:
        if self.pruning_source == "server":
            rate = f"{self.pruning_rate:g}" if self.pruning_rate else "0 (EVS off)"
            return f"the engine takes the clip as video; the server's EVS video pruning rate is {rate}"
        if self.pruning_source == "stated":
            return (
                f"the engine takes the clip as video; its EVS video pruning rate is {self.pruning_rate:g} "
                "as stated with --video-pruning-rate (the server does not report it)"
            )
        return (
            "the engine takes the clip as video; the server does not report its EVS video pruning rate "
            "(vLLM shows its launch options only when run with VLLM_SERVER_DEV_MODE=1); pass "
            "--video-pruning-rate with the value of its --video-pruning-rate launch option to plan with it"
        )


def video_limits(serving: VideoServing, ask: RecordingQuestion) -> tuple[VideoLimits, str]:
    """The server's sampling and pruning: what it reported, else what the person stated, else vLLM's
    defaults (32 frames, every frame, no pruning); and where the pruning rate comes from."""
    if serving.exposed:
        frames = serving.num_frames if serving.num_frames is not None else DEFAULT_NUM_FRAMES
        fps = serving.fps if serving.fps is not None else -1.0
        return VideoLimits(frames, fps, serving.pruning_rate or 0.0), "server"
    frames = ask.video_frames if ask.video_frames is not None else DEFAULT_NUM_FRAMES
    fps = ask.video_fps if ask.video_fps is not None else -1.0
    if ask.video_pruning_rate is not None:
        return VideoLimits(frames, fps, ask.video_pruning_rate), "stated"
    return VideoLimits(frames, fps, 0.0), "unknown"


def ask_with_video(
    client: ModelClient,
    ask: RecordingQuestion,
    recording: Recording,
    wanted: TimeRange,
    *,
    serving: VideoServing,
    answer: RecordingAnswer,
    progress: Progress,
    on_token: Callable[[TokenDelta], None] | None,
    cancel: CancelToken | None,
) -> RecordingAnswer:
    """Answer ``ask`` about ``wanted`` of ``recording`` by sending clips (see the module doc)."""
    from omnidesk.app.recording_question import PartAnswer, audio_clips, combine_parts
    from omnidesk.runtime.recording_clip import CLIP_FPS, clip_size, cut_clip
    from omnidesk.runtime.recording_reader import TimeRange, read_audio

    origin = recording.start
    limits, source = video_limits(serving, ask)
    size = clip_size(*recording.size, video_frame_size(*recording.size))
    report = VideoReport(
        limits.pruning_rate if source != "unknown" else None, source, limits.num_frames, limits.fps, CLIP_FPS, size
    )
    answer.video = report
    answer.notes.append(report.note())
    with_sound = recording.has_audio and client.capabilities.audio
    context = serving.context_length or client.capabilities.context_length
    budget = ask.budget or context - ask.max_tokens - _TEXT_RESERVE
    parts = plan_video_parts(
        answer.start,
        answer.end,
        clip_fps=CLIP_FPS,
        size=size,
        limits=limits,
        budget=budget,
        audio_tokens=(lambda seconds: audio_tokens(round(seconds * 16000))) if with_sound else None,
    )
    replies: list[tuple[float, float, str]] = []
    steps = len(parts) + (len(parts) > 1)
    for number, (start, end) in enumerate(parts, 1):
        if cancel is not None and cancel.cancelled:
            break
        progress.update(f"cutting and asking part {number} of {len(parts)}", number - 1, steps)
        clip = cut_clip(recording, TimeRange(start + origin, end + origin), size=size, cancel=cancel)
        clip = _relabel(clip, origin)
        audio: tuple[AudioClip, ...] = ()
        if with_sound:
            sound = read_audio(recording, TimeRange(start + origin, clip.end + origin))
            audio = audio_clips(sound, origin) if sound is not None else ()
        piece = VideoSlice(clip, recording.duration, audio, part=number, parts=len(parts))
        request = video_request(piece, ask.question, max_tokens=ask.max_tokens, enable_thinking=ask.enable_thinking)
        reply = client.generate(request, on_token=on_token if len(parts) == 1 else None, cancel=cancel)
        times = tuple(round(start + t, 3) for t in sampled_times(clip.frames, CLIP_FPS, limits))
        seconds = sum(a.duration for a in audio)
        answer.parts.append(PartAnswer(start, end, times, seconds, reply.prompt_tokens, reply.text))
        replies.append((start, end, reply.text))
    return combine_parts(
        client, ask, answer, replies, length=recording.duration, progress=progress, on_token=on_token, cancel=cancel
    )


def _relabel(clip: VideoClip, origin: float) -> VideoClip:
    import dataclasses

    return dataclasses.replace(clip, start=clip.start - origin, end=clip.end - origin)
