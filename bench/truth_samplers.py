"""The samplers and the scoring the recording-truth benches share: which frames each sampler keeps from a
recording, and how many known events those frames show.

Used by ``bench_recording_truth.py`` (a drawn session) and ``bench_recording_rig.py`` (the rig session: the
Qt target app, galculator and espeak-ng narration); ``tests/runtime`` runs the short versions. Times are in
seconds from the recording's start.

- EVS: ``runtime/recording_sampler.scan_moments`` at the settings ``omnidesk ask --recording`` uses;
- uniform sampling at a sweep of rates;
- frame difference: FFmpeg's ``mpdecimate`` (``hi`` swept, ``lo`` = hi·5/12 and ``frac`` 0.33 as its defaults
  relate; re-implemented in numpy, PyAV's LGPL FFmpeg lacks the GPL-only filter) and the ``scene`` score of
  FFmpeg's ``select`` filter through PyAV's filter graph, at a sweep of thresholds.

An event is *seen* when it is readable in the model's frame (its text at least ``MIN_TEXT_PX`` high at the
trained video frame size) and a kept frame was taken while its finished state was on the screen
(``[shown, gone)``). Each sweep's cheapest setting that reaches EVS's recall is the one compared.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from omnidesk.agent.media_budget import video_frame_size, vllm_image_tokens
from omnidesk.agent.ports import Frame, ModelImage
from omnidesk.runtime.config import EvsConfig
from omnidesk.runtime.images import resized_image
from omnidesk.runtime.recording_reader import Recording, open_recording
from omnidesk.runtime.recording_sampler import for_decoded_video, scan_moments

__all__ = [
    "MIN_TEXT_PX",
    "MPDECIMATE_HI",
    "SCENE_THRESHOLDS",
    "UNIFORM_RATES",
    "Row",
    "TruthEvent",
    "cheapest",
    "compare_samplers",
    "evs_times",
    "missed",
    "model_text_px",
    "mpdecimate_times",
    "recall",
    "scene_times",
    "seen",
]

MIN_TEXT_PX = 10  # readable in the model's frame
UNIFORM_RATES = (0.05, 0.1, 0.2, 0.25, 1 / 3, 0.5, 2 / 3, 0.75, 1.0, 2.0, 4.0)
MPDECIMATE_HI = (64 * 12, 64 * 18, 64 * 24, 64 * 32, 64 * 48, 64 * 96, 64 * 192, 64 * 768)
SCENE_THRESHOLDS = (0.0003, 0.001, 0.003, 0.01, 0.03, 0.1)


class TruthEvent(Protocol):
    """A known event: its kind, the time range its finished state is on the screen, its text's height."""

    @property
    def kind(self) -> str: ...

    @property
    def shown(self) -> float: ...

    @property
    def gone(self) -> float: ...

    @property
    def text_px(self) -> float:
        """Height of its text in screen pixels (0: nothing to read, e.g. a colour change)."""
        ...


def model_text_px(text_px: float, screen_height: int, screen_width: int | None = None) -> float:
    """How high ``text_px`` screen pixels of text are in the model's frame (the trained video frame size)."""
    width = screen_width if screen_width is not None else round(screen_height * 16 / 9)
    return text_px * video_frame_size(width, screen_height)[1] / screen_height


def _readable(event: TruthEvent, screen: tuple[int, int]) -> bool:
    return event.text_px == 0 or model_text_px(event.text_px, screen[1], screen[0]) >= MIN_TEXT_PX


def seen(events: Sequence[TruthEvent], times: Sequence[float], screen: tuple[int, int]) -> list[bool]:
    """For each event: readable in the model's frame and shown by a kept frame."""
    kept = np.sort(np.asarray(times, dtype=float))
    out = []
    for event in events:
        k = int(np.searchsorted(kept, event.shown - 1e-6))
        out.append(_readable(event, screen) and k < len(kept) and bool(kept[k] < event.gone))
    return out


def recall(events: Sequence[TruthEvent], times: Sequence[float], screen: tuple[int, int]) -> float:
    """The share of ``events`` the kept frames at ``times`` show readably."""
    return sum(seen(events, times, screen)) / max(1, len(events))


def missed(events: Sequence[TruthEvent], times: Sequence[float], screen: tuple[int, int]) -> dict[str, int]:
    """How many events of each kind no kept frame shows readably."""
    out: dict[str, int] = {}
    for event, ok in zip(events, seen(events, times, screen), strict=True):
        if not ok:
            out[event.kind] = out.get(event.kind, 0) + 1
    return out


def evs_times(recording: Recording) -> tuple[list[float], float]:
    """The moments EVS picks (``ask --recording``'s settings) and the seconds decode + EVS took."""
    size = video_frame_size(*recording.size)

    def frame_image(frame: Frame) -> ModelImage:
        return resized_image(frame, *size)

    started = time.perf_counter()
    moments = list(
        scan_moments(recording, recording.range(), config=for_decoded_video(EvsConfig()), frame_image=frame_image)
    )
    return [m.time - recording.start for m in moments], time.perf_counter() - started


def _decoded(recording: Recording) -> Iterator[tuple[float, Any]]:
    """Every video frame of every segment, with its time from the recording's start."""
    import av

    for source in recording.sources:
        with av.open(str(source.path), "r") as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                yield source.start + float(frame.pts * frame.time_base) - source.zero - recording.start, frame


def _block_sads(cur: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Sums of absolute differences of the 8x8 blocks mpdecimate compares: every 4 px, x from 8."""
    integral = cv2.integral(cv2.absdiff(cur, ref))
    h, w = cur.shape
    y0, x0 = np.arange(0, h - 7, 4)[:, None], np.arange(8, w - 7, 4)[None, :]
    return integral[y0 + 8, x0 + 8] - integral[y0, x0 + 8] - integral[y0 + 8, x0] + integral[y0, x0]


def mpdecimate_times(recording: Recording, settings: Sequence[int], frac: float = 0.33) -> dict[int, list[float]]:
    """The frames FFmpeg's ``mpdecimate`` keeps for each ``hi`` (``lo`` = hi·5/12, its defaults' ratio).

    PyAV's FFmpeg is an LGPL build and mpdecimate is GPL-only, so its rule (``libavfilter/vf_mpdecimate.c``)
    runs here in numpy: a frame is dropped unless, in some plane of yuv420p, an 8x8 block (every 4 px) differs
    from the last kept frame by more than ``hi``, or more than ``(w/16)·(h/16)·frac`` blocks by more than ``lo``.
    """
    refs: dict[int, list[np.ndarray] | None] = dict.fromkeys(settings)
    kept: dict[int, list[float]] = {hi: [] for hi in settings}
    for t, frame in _decoded(recording):
        yuv = frame.to_ndarray(format="yuv420p")
        h, w = frame.height, frame.width
        planes = [yuv[:h], yuv[h : h + h // 4].reshape(h // 2, w // 2), yuv[h + h // 4 :].reshape(h // 2, w // 2)]
        for hi in settings:
            ref = refs[hi]
            keep = ref is None
            if ref is not None:
                for cur, old in zip(planes, ref, strict=True):
                    sads = _block_sads(cur, old)
                    limit = int((cur.shape[1] // 16) * (cur.shape[0] // 16) * frac)
                    if (sads > hi).any() or np.count_nonzero(sads > hi * 5 // 12) > limit:
                        keep = True
                        break
            if keep:
                refs[hi] = [p.copy() for p in planes]
                kept[hi].append(t)
    return kept


def scene_times(recording: Recording, threshold: float) -> list[float]:
    """The frames FFmpeg's ``select`` keeps with ``gt(scene, threshold)`` (the first frame too), through
    PyAV's filter graph: one graph over all segments (frames re-stamped on the recording's clock in ms)."""
    import av

    graph: Any = None
    kept: list[float] = []
    times: dict[int, float] = {}
    for t, frame in _decoded(recording):
        if graph is None:
            graph = av.filter.Graph()
            source = graph.add_buffer(
                width=frame.width, height=frame.height, format=frame.format.name, time_base=Fraction(1, 1000)
            )
            node = graph.add("select", f"eq(n\\,0)+gt(scene\\,{threshold})")
            sink = graph.add("buffersink")
            source.link_to(node)
            node.link_to(sink)
            graph.configure()
        frame.pts = round(t * 1000)
        frame.time_base = Fraction(1, 1000)
        times[frame.pts] = t
        graph.push(frame)
        while True:
            try:
                out = graph.pull()
            except (av.error.BlockingIOError, av.error.EOFError):
                break
            kept.append(times[out.pts])
    return kept


@dataclass
class Row:
    """One sampler at one setting: the frames it keeps and their recall."""

    sampler: str
    setting: str
    frames: int
    recall: float
    times: list[float] = field(default_factory=list, repr=False)


def cheapest(rows: Sequence[Row], target: float) -> Row | None:
    """The setting with the fewest frames whose recall reaches ``target``."""
    ok = [r for r in rows if r.recall >= target - 1e-9]
    return min(ok, key=lambda r: r.frames) if ok else None


def compare_samplers(
    folder: Path,
    events: Sequence[TruthEvent],
    *,
    rounds: int = 1,
    rates: Sequence[float] = UNIFORM_RATES,
    mpdecimate_hi: Sequence[int] = MPDECIMATE_HI,
    scene_thresholds: Sequence[float] = SCENE_THRESHOLDS,
) -> dict[str, Any]:
    """Every sampler on the recording in ``folder`` against ``events``: the cheapest setting of each sweep at
    EVS's recall, tokens per minute at the trained frame size, and decode + EVS speed (``rounds`` scans,
    median and range) as a multiple of real time."""
    recording = open_recording(folder)
    screen = recording.size
    duration = recording.duration
    minutes = duration / 60
    frame_w, frame_h = video_frame_size(*screen)
    scans = [evs_times(recording) for _ in range(max(1, rounds))]
    evs = scans[0][0]
    speeds = sorted(duration / seconds for _, seconds in scans)
    target = recall(events, evs, screen)
    uniform = []
    for rate in rates:
        times = list(np.arange(0, duration, 1 / rate))
        uniform.append(Row("uniform", f"{rate:g} fps", len(times), recall(events, times, screen), times))
    decimated = mpdecimate_times(recording, mpdecimate_hi)
    mpdecimate = [Row("mpdecimate", f"hi={hi}", len(t), recall(events, t, screen), t) for hi, t in decimated.items()]
    scene = []
    for threshold in scene_thresholds:
        times = scene_times(recording, threshold)
        scene.append(Row("scene", f"scene>{threshold}", len(times), recall(events, times, screen), times))
    per_frame = vllm_image_tokens(frame_w, frame_h)
    rows = [Row("EVS", "ask --recording", len(evs), target, evs)]
    for sweep in (uniform, mpdecimate, scene):
        best = cheapest(sweep, target)
        rows.append(best or max(sweep, key=lambda r: (r.recall, -r.frames)))
    return {
        "seconds": round(duration, 2),
        "events": len(events),
        "readable_events": sum(_readable(e, screen) for e in events),
        "frame_size": [frame_w, frame_h],
        "tokens_per_frame": per_frame,
        "target_recall": target,
        "evs_times": evs,
        "samplers": [
            {
                "sampler": r.sampler,
                "setting": r.setting,
                "frames": r.frames,
                "recall": round(r.recall, 4),
                "at_equal_recall": r.recall >= target - 1e-9,
                "missed": missed(events, r.times, screen),
                "tokens_per_minute": round(r.frames * per_frame / minutes),
            }
            for r in rows
        ],
        "sweeps": {
            n: [{k: v for k, v in vars(r).items() if k != "times"} for r in s]
            for n, s in (("uniform", uniform), ("mpdecimate", mpdecimate), ("scene", scene))
        },
        "evs_speed_x_realtime": round(speeds[len(speeds) // 2], 2),
        "evs_speed_range": [round(speeds[0], 2), round(speeds[-1], 2)],
        "cores": len(os.sched_getaffinity(0)),
    }
