"""A question about a recording for an engine that takes video (vLLM): the clip, its parts, its request.

vLLM samples a clip's frames itself and writes the trained separators (``"Frame 1 sampled at 0.00
seconds …"``) around them, so Omnidesk sends the cut clip as one ``video_url`` part and lets the server do
what it does for any video. What that is, from vLLM's sources (v0.20.0 and main):

- sampling (``vllm/multimodal/video.py``, ``VideoBackend.compute_frames_index_to_sample``): of a clip's
  ``total`` frames it takes ``n = min(num_frames, total, floor(duration · fps))`` (``num_frames`` from
  ``--media-io-kwargs``, 32 by default; ``fps`` too, off by default), uniformly:
  ``linspace(0, total − 1, n)`` as integers, or every frame when ``n == total``;
- times (``transformers_utils/processors/nano_nemotron_vl.py``, ``calculate_timestamps``): frame index ·
  ``int(1000 / clip fps)`` ms — seconds from the start of the clip, not of the recording;
- cost: every frame resized to about 1024 patches, pairs of frames as tubelets, EVS pruning
  (:func:`~omnidesk.agent.media_budget.video_tokens`), and about 24 tokens of separator text per tubelet.

The clip's sound goes after it as ``input_audio`` clips of at most 30 s (the same as for frames; vLLM only
takes a video's own sound with ``use_audio_in_video`` and a loader that keeps the video's bytes, which a
default server does not have). With the string content format vLLM puts every media placeholder before the
text (``chat_utils._get_full_multimodal_text_prompt``), so the request is laid out that way: the video, its
sound, then one text part that says where the clip sits in the recording and asks the question.

A range longer than the server takes in one request is asked in parts: each part is as long as the server
samples at its own rate (no thinning by ``num_frames``) and as its context holds.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from omnidesk.agent.errors import ConfigError
from omnidesk.agent.media_budget import video_tokens
from omnidesk.agent.ports import AudioClip, AudioPart, ChatMessage, ModelRequest, Part, TextPart, VideoClip, VideoPart
from omnidesk.agent.recording_prompt import mmss

__all__ = [
    "DEFAULT_NUM_FRAMES",
    "VideoLimits",
    "VideoSlice",
    "clip_tokens",
    "plan_video_parts",
    "sampled_indices",
    "sampled_times",
    "video_request",
]

DEFAULT_NUM_FRAMES = 32  # VideoMediaIO's num_frames when --media-io-kwargs does not set one
_SEPARATOR_TOKENS = 24  # "Frame 1 sampled at 0.00 seconds and frame 2 sampled at 0.50 seconds: <img></img>"


@dataclass(frozen=True, slots=True)
class VideoLimits:
    """How the server samples and prunes a clip: ``num_frames`` (≤ 0: no cap), ``fps`` (≤ 0: every
    frame), ``pruning_rate`` (0: none)."""

    num_frames: int = DEFAULT_NUM_FRAMES
    fps: float = -1.0
    pruning_rate: float = 0.0


def sampled_indices(total: int, clip_fps: float, limits: VideoLimits) -> list[int]:
    """The frames of a ``total``-frame clip vLLM keeps (``VideoBackend.compute_frames_index_to_sample``)."""
    if total <= 0:
        return []
    count = total
    if limits.num_frames > 0:
        count = min(limits.num_frames, total)
    if limits.fps > 0:
        count = min(count, math.floor(total / clip_fps * limits.fps))
    count = max(1, count)
    if count == total:
        return list(range(total))
    if count == 1:
        return [0]
    step = (total - 1) / (count - 1)  # numpy linspace(0, total - 1, count, dtype=int): i · step, the end exact
    return [int(i * step) for i in range(count - 1)] + [total - 1]


def sampled_times(total: int, clip_fps: float, limits: VideoLimits) -> list[float]:
    """The labels vLLM writes for the kept frames: index · ``int(1000 / fps)`` ms, in seconds."""
    step = int(1000.0 / clip_fps)
    return [i * step / 1000.0 for i in sampled_indices(total, clip_fps, limits)]


def clip_tokens(total: int, clip_fps: float, size: tuple[int, int], limits: VideoLimits) -> int:
    """What a ``total``-frame clip costs in the server's context (frames, pruning, separators)."""
    kept = len(sampled_indices(total, clip_fps, limits))
    return video_tokens(kept, *size, pruning_rate=limits.pruning_rate) + _SEPARATOR_TOKENS * math.ceil(kept / 2)


def plan_video_parts(
    start: float,
    end: float,
    *,
    clip_fps: float,
    size: tuple[int, int],
    limits: VideoLimits,
    budget: int,
    audio_tokens: Callable[[float], int] | None = None,
) -> list[tuple[float, float]]:
    """``start``–``end`` cut into parts of whole clip frames that the server takes in one request each.

    Raises:
        ConfigError: not even two frames (one tubelet) fit the budget.
    """
    total = max(1, math.ceil((end - start) * clip_fps - 1e-6))
    most = total
    if limits.num_frames > 0:
        rate = min(clip_fps, limits.fps) if limits.fps > 0 else clip_fps
        most = min(most, max(1, math.floor(limits.num_frames * clip_fps / rate)))

    def cost(frames: int) -> int:
        sound = audio_tokens(frames / clip_fps) if audio_tokens is not None else 0
        return clip_tokens(frames, clip_fps, size, limits) + sound

    cap = most
    while most > 1 and cost(most) > budget:
        most = max(1, min(most - 1, int(most * budget / cost(most))))
    while most < cap and cost(most + 1) <= budget:  # the proportional step may undershoot
        most += 1
    if cost(most) > budget:
        raise ConfigError(
            f"one frame of video and its sound need {cost(most)} tokens, more than the {budget} a request may "
            "hold; raise --budget or start the server with a larger --max-model-len"
        )
    parts = []
    for first in range(0, total, most):
        last = min(total, first + most)
        parts.append((start + first / clip_fps, min(end, start + last / clip_fps)))
    return parts


@dataclass(frozen=True, slots=True)
class VideoSlice:
    """One request's part of a recording: the clip (times on the recording's clock), its sound, where
    it sits (``part`` of ``parts``) and the whole recording's ``length``."""

    clip: VideoClip
    length: float
    audio: tuple[AudioClip, ...] = ()
    part: int = 1
    parts: int = 1


def _instructions(piece: VideoSlice, question: str) -> str:
    start, end = piece.clip.start, piece.clip.end
    which = f"part {piece.part} of {piece.parts} of a" if piece.parts > 1 else "a"
    lines = [
        f"This is {which} screen recording: {mmss(start)}–{mmss(min(end, piece.length))} of {mmss(piece.length)}.",
        f"The video starts {start:.2f} seconds into the recording: add that to the times its frames are "
        "labelled with to get times on the recording's clock.",
    ]
    if piece.audio:
        lines.append("The sound of the same time follows the video.")
    lines.append(
        "Answer from what the recording shows and says. Cite the time of everything you mention as mm:ss on "
        'the recording\'s clock (for example "at 02:14 you opened …"). If the recording does not show it, say so.'
    )
    return "\n".join(lines) + f"\n\nQuestion: {question}"


def video_request(
    piece: VideoSlice, question: str, *, max_tokens: int = 1024, enable_thinking: bool | None = None
) -> ModelRequest:
    """One user turn: the clip, its sound, then the text (see the module doc)."""
    parts: list[Part] = [VideoPart(piece.clip), *(AudioPart(a) for a in piece.audio)]
    parts.append(TextPart(_instructions(piece, question)))
    return ModelRequest((ChatMessage("user", tuple(parts)),), max_tokens=max_tokens, enable_thinking=enable_thinking)
