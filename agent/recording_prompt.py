"""A question about a recording, laid out the way the model was trained to see video.

Nemotron 3 Nano Omni was trained on sampled video frames grouped in pairs (temporal patch 2), each pair
introduced by its frames' numbers and times, later pairs on a new line — the separators vLLM's
``nano_nemotron_vl.py`` (``get_video_repl``, v0.20.0) builds around each tubelet::

    Frame 1 sampled at 0.00 seconds and frame 2 sampled at 0.99 seconds: <frames 1-2>
    Frame 3 sampled at 1.98 seconds and frame 4 sampled at 2.97 seconds: <frames 3-4>

Omnidesk sends the frames EVS picked, each as an image (llama.cpp has no video path; vLLM takes images as
well — sending vLLM the clip as a ``video_url`` part, where it writes these separators itself, is not done
yet), so a pair becomes its separator followed by its two images. The times are the frames' times on the
recording's clock in seconds, to the millisecond (``%.2f`` as vLLM prints them). The recording's sound
follows the frames, in clips of at most 30 s (what the audio encoder takes in one piece), as vLLM puts a
video's own audio right after it.

Omnidesk's own additions, all in text: change crops (opt-in), each introduced by its region and time; one
paragraph saying which part of the recording this is, how the times count, and asking the model to cite
times as mm:ss; then the question. A long recording is asked about part by part and a last, text-only
request merges the parts' answers (:func:`combine_request`).

A spoken question (the person's own voice, 16 kHz, as a push-to-talk command is sent: audio first, the
text that says what it is after) comes after all of the recording's media, introduced by
:data:`SPOKEN_LABEL`, so it can never be taken for the recording's sound: that sound stays right after the
frames, and the paragraph names its span. The text then says the question is the spoken clip.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from omnidesk.agent.ports import (
    AudioClip,
    AudioPart,
    ChatMessage,
    ImagePart,
    ModelImage,
    ModelRequest,
    Part,
    TextPart,
)

__all__ = [
    "SPOKEN_LABEL",
    "SPOKEN_QUESTION",
    "RecordingSlice",
    "combine_request",
    "frame_separators",
    "mmss",
    "recording_request",
    "spoken_clips",
]

TEMPORAL_PATCH = 2
CLIP_SECONDS = 30
"""The longest clip the audio encoder takes in one piece (Parakeet's ``clip_duration_s``)."""

SPOKEN_LABEL = "\nThe person's question, spoken (not part of the recording): "
"""Introduces the spoken question's audio, after all of the recording's media."""

SPOKEN_QUESTION = "the one the person spoke in the question's audio, after the recording."
"""What the ``Question:`` line says when the question is spoken."""


def mmss(seconds: float) -> str:
    """``mm:ss`` (``h:mm:ss`` past an hour): how answers cite times."""
    whole = max(0, int(seconds + 1e-6))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def _seconds(t: float) -> str:
    """A time as the trained separators print it: whole milliseconds, two decimals."""
    return f"{round(t * 1000) / 1000:.2f}"


def frame_separators(times: Sequence[float]) -> list[str]:
    """One separator per pair of frames (vLLM's ``get_video_repl`` with temporal patch 2 and timestamps)."""
    separators: list[str] = []
    for group, first in enumerate(range(0, len(times), TEMPORAL_PATCH)):
        members = [
            f"{'Frame' if k == first else 'frame'} {k + 1} sampled at {_seconds(times[k])} seconds"
            for k in range(first, min(first + TEMPORAL_PATCH, len(times)))
        ]
        separators.append(("\n" if group else "") + " and ".join(members) + ": ")
    return separators


@dataclass(frozen=True, slots=True)
class RecordingSlice:
    """What one request shows of a recording.

    ``start`` / ``end`` bound the part (seconds on the recording's clock, as are the frames', crops' and
    audio clips' times); ``length`` is the whole recording's; ``frames`` are the sampled frames in time
    order (at least one).
    """

    start: float
    end: float
    length: float
    frames: tuple[ModelImage, ...] = ()
    crops: tuple[ModelImage, ...] = ()
    audio: tuple[AudioClip, ...] = ()
    part: int = 1
    parts: int = 1

    def __post_init__(self) -> None:
        if not self.frames:
            raise ValueError("a recording slice carries at least one sampled frame")
        if any(c.duration > 30.0 + 1e-6 for c in self.audio):
            raise ValueError("audio clips are at most 30 s each")


def _media(piece: RecordingSlice) -> list[Part]:
    parts: list[Part] = []
    times = [f.timestamp for f in piece.frames]
    for group, separator in enumerate(frame_separators(times)):
        parts.append(TextPart(separator))
        first = group * TEMPORAL_PATCH
        parts.extend(ImagePart(f) for f in piece.frames[first : first + TEMPORAL_PATCH])
    parts.extend(AudioPart(clip) for clip in piece.audio)
    for crop in piece.crops:
        box = crop.transform
        x, y = round(box.offset_x + box.content.x * box.scale_x), round(box.offset_y + box.content.y * box.scale_y)
        w, h = round(box.content.width * box.scale_x), round(box.content.height * box.scale_y)
        parts.append(TextPart(f"\nChanged region x={x} y={y} ({w}x{h}) at {_seconds(crop.timestamp)} seconds: "))
        parts.append(ImagePart(crop))
    return parts


def spoken_clips(spoken: AudioClip) -> tuple[AudioClip, ...]:
    """A spoken question cut into the pieces the audio encoder takes (at most :data:`CLIP_SECONDS` each)."""
    step = CLIP_SECONDS * spoken.sample_rate
    pieces = []
    for lo in range(0, max(len(spoken.samples), 1), step):
        samples = spoken.samples[lo : lo + step]
        begin = spoken.start + lo / spoken.sample_rate
        pieces.append(AudioClip(samples, spoken.sample_rate, begin, begin + len(samples) / spoken.sample_rate))
    return tuple(pieces)


def _spoken_parts(spoken: AudioClip | None) -> list[Part]:
    if spoken is None:
        return []
    return [TextPart(SPOKEN_LABEL), *(AudioPart(c) for c in spoken_clips(spoken))]


def _question_lines(question: str, spoken: AudioClip | None) -> str:
    if spoken is None:
        return f"Question: {question}"
    said = (
        "The person asked the question aloud: it is the audio after the recording's media, introduced as the "
        "person's question; it is not part of the recording."
    )
    typed = f" (they typed with it: {question})" if question.strip() else ""
    return f"{said}\n\nQuestion: {SPOKEN_QUESTION}{typed}"


def _instructions(piece: RecordingSlice, question: str, spoken: AudioClip | None = None) -> str:
    span = f"{mmss(piece.start)}–{mmss(piece.end)}"
    which = f"part {piece.part} of {piece.parts} of a" if piece.parts > 1 else "a"
    lines = [f"This is {which} screen recording: {span} of {mmss(piece.length)}."]
    lines.append(
        "The frames were taken when something on the screen changed; each is labelled with its time in "
        "seconds from the start of the recording."
    )
    if piece.crops:
        lines.append("The changed regions follow at full resolution, each with its place and time.")
    if piece.audio:
        lines.append(f"The recording's sound from {span} follows the frames, in order.")
    lines.append(
        "Answer from what the recording shows and says. Cite the time of everything you mention as mm:ss "
        '(for example "at 02:14 you opened …"). If the recording does not show it, say so.'
    )
    return "\n".join(lines) + "\n\n" + _question_lines(question, spoken)


def recording_request(
    piece: RecordingSlice,
    question: str,
    *,
    max_tokens: int = 1024,
    enable_thinking: bool | None = None,
    spoken: AudioClip | None = None,
) -> ModelRequest:
    """One user turn: the recording's media in the trained layout, the ``spoken`` question (if any), then
    the instructions and the question."""
    parts = [*_media(piece), *_spoken_parts(spoken), TextPart("\n" + _instructions(piece, question, spoken))]
    return ModelRequest((ChatMessage("user", tuple(parts)),), max_tokens=max_tokens, enable_thinking=enable_thinking)


def combine_request(
    question: str,
    answers: Sequence[tuple[float, float, str]],
    *,
    length: float,
    max_tokens: int = 1024,
    enable_thinking: bool | None = None,
    spoken: AudioClip | None = None,
) -> ModelRequest:
    """The request that merges the answers about each part of a long recording into one: text only, or the
    ``spoken`` question's audio (introduced by :data:`SPOKEN_LABEL`) then the text."""
    blocks = "\n\n".join(f"[{mmss(start)}–{mmss(end)}]\n{text.strip()}" for start, end, text in answers)
    text = (
        f"A screen recording ({mmss(length)} long) was looked at in {len(answers)} parts, each answering the "
        f"question below. Their answers, with the part of the recording each covers:\n\n{blocks}\n\n"
        "Write one answer to the question from these answers. Keep the mm:ss times they cite; do not invent "
        f"anything they do not say.\n\n{_question_lines(question, spoken)}"
    )
    parts: tuple[Part, ...] = (TextPart(text),) if spoken is None else (*_spoken_parts(spoken), TextPart("\n" + text))
    return ModelRequest((ChatMessage("user", parts),), max_tokens=max_tokens, enable_thinking=enable_thinking)
