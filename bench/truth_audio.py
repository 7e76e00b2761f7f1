"""Is the narration where the model expects it? Checks of a recording's 16 kHz track against known speech.

Each known speech is a clip that was played into the microphone at a known time (seconds from the
recording's start) with its voice at a known span inside the clip. Three checks:

- ``locate``: cross-correlating the clip with the recorded track around its nominal time finds where it
  really is (the offset: player start-up plus the audio path's latency, and any A/V misalignment of the
  recorder) and how alike the two are (Pearson correlation at that lag);
- ``vad_agreement``: webrtcvad (what the microphone adapter uses) over the whole track, against the known
  voiced spans: the share of known speech it hears, and the seconds it calls voiced outside any of them;
- ``speech_with_moments``: for each event EVS shows, the audio of the request part holding the first frame
  that shows it (``plan_chunks`` over EVS's picks at a token budget, the audio ``read_audio`` gives that
  part — what ``ask --recording`` sends) contains the event's narration (correlation at least 0.5).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from omnidesk.agent.media_budget import audio_tokens, video_frame_size, vllm_image_tokens
from omnidesk.agent.recording_plan import Pick, plan_chunks
from omnidesk.runtime.recording_reader import Recording, TimeRange, read_audio

__all__ = ["MATCH", "KnownSpeech", "Located", "locate", "speech_with_moments", "vad_agreement"]

RATE = 16000
MATCH = 0.5  # correlation above which a clip counts as present


@dataclass(frozen=True)
class KnownSpeech:
    """A clip played at ``at`` seconds (recording clock) whose voice spans ``voiced`` seconds inside it."""

    samples: np.ndarray
    at: float
    voiced: tuple[float, float]


@dataclass(frozen=True)
class Located:
    offset: float  # seconds the clip is later in the track than nominal
    correlation: float


def _best(track: np.ndarray, clip: np.ndarray) -> tuple[int, float]:
    """The lag where ``clip`` best matches ``track`` and the correlation there (0 if it cannot fit)."""
    if len(track) < len(clip) or not clip.any():
        return 0, 0.0
    n = len(track) + len(clip)
    size = 1 << (n - 1).bit_length()
    corr = np.fft.irfft(np.fft.rfft(track, size) * np.conj(np.fft.rfft(clip, size)), size)[: len(track) - len(clip) + 1]
    lag = int(np.argmax(corr))
    piece = track[lag : lag + len(clip)]
    if not piece.any():
        return lag, 0.0
    return lag, float(np.corrcoef(piece, clip)[0, 1])


SEARCH = 1.5
"""Seconds either side of a narration's nominal time where it is looked for."""


def _around(speech: KnownSpeech, start: float, end: float, search: float) -> tuple[float, float]:
    """Where ``speech`` is looked for: ``search`` s either side of it, inside ``[start, end]``. Reads of the
    same range give the same samples; reads of different ranges can differ by a fraction of a millisecond
    (Matroska's 1 ms timestamps), which moves a narration's correlation by a few hundredths."""
    return max(start, speech.at - search), min(end, speech.at + len(speech.samples) / RATE + search)


def locate(recording: Recording, speech: KnownSpeech, search: float = SEARCH) -> Located:
    """Where ``speech`` is in the recorded track, searching ``search`` s either side of its nominal time."""
    lo, hi = _around(speech, 0.0, recording.duration, search)
    clip = read_audio(recording, TimeRange(recording.start + lo, recording.start + hi))
    if clip is None:
        return Located(float("nan"), 0.0)
    lag, corr = _best(clip.samples, speech.samples)
    return Located(lo + lag / RATE - speech.at, corr)


def vad_agreement(
    recording: Recording, speeches: Sequence[KnownSpeech], offset: float, aggressiveness: int = 2
) -> dict[str, float]:
    """webrtcvad over the whole track vs the known voiced spans shifted by ``offset`` (the measured median):
    the share of known voiced 30 ms frames it calls voiced, and its voiced seconds outside every span (±0.3 s)."""
    import webrtcvad

    clip = read_audio(recording, recording.range())
    if clip is None:
        return {"speech_heard": 0.0, "voice_elsewhere_s": 0.0}
    step = RATE * 30 // 1000
    pcm = (np.clip(clip.samples, -1, 1) * 32767).astype("<i2")
    vad = webrtcvad.Vad(aggressiveness)
    voiced = np.array([vad.is_speech(pcm[i : i + step].tobytes(), RATE) for i in range(0, len(pcm) - step + 1, step)])
    times = np.arange(len(voiced)) * 0.03 + 0.015
    inside = np.zeros(len(voiced), bool)
    near = np.zeros(len(voiced), bool)
    for s in speeches:
        a, b = s.at + offset + s.voiced[0], s.at + offset + s.voiced[1]
        inside |= (times >= a) & (times < b)
        near |= (times >= a - 0.3) & (times < b + 0.3)
    heard = float(voiced[inside].mean()) if inside.any() else 0.0
    return {"speech_heard": round(heard, 3), "voice_elsewhere_s": round(float((voiced & ~near).sum()) * 0.03, 2)}


def speech_with_moments(
    recording: Recording,
    events: Sequence[Any],
    speeches: Sequence[KnownSpeech | None],
    evs_times: Sequence[float],
    *,
    budget: int,
) -> dict[str, Any]:
    """For each event EVS shows (a pick in ``[shown, gone)``), does the audio of the part holding that pick
    contain the event's narration (looked for where it was spoken, as :func:`locate` does)? ``events`` carry
    ``shown`` / ``gone`` (recording clock)."""
    per_frame = vllm_image_tokens(*video_frame_size(*recording.size))
    picks = [Pick(t, per_frame) for t in sorted(evs_times)]
    chunks = plan_chunks(
        picks, 0.0, recording.duration, budget=budget, audio_tokens=lambda s: audio_tokens(round(s * RATE))
    )
    holding = {i: c for c in chunks for i in c.picks}
    checked = found = 0
    for event, speech in zip(events, speeches, strict=True):
        first = next((i for i, p in enumerate(picks) if event.shown <= p.time < event.gone), None)
        if first is None or speech is None:
            continue
        chunk = holding[first]
        checked += 1
        # Where it was spoken, inside the part: the part holds it when its audio there matches. The same
        # window as locate's when the part covers it, so one part over everything finds what locate finds.
        lo, hi = _around(speech, chunk.start, chunk.end, SEARCH)
        clip = read_audio(recording, TimeRange(recording.start + lo, recording.start + hi)) if hi > lo else None
        if clip is not None and _best(clip.samples, speech.samples)[1] >= MATCH:
            found += 1
    return {"parts": len(chunks), "events_checked": checked, "speech_in_their_part": found}
