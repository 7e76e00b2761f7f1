"""What EVS is worth on a recording with known truth: model tokens per minute at EQUAL event recall, EVS
against the strongest simple samplers.

    .venv/bin/python bench/bench_recording_truth.py [--minutes 10] [--fps 10] [--seed 1] [--json]

The session: a scripted 1280×720 desktop-like screen (title bar, side panel, text field with a blinking
caret) written by the real recorder (``SegmentedRecorder``: libx264 MKV) with N known events at known
times: lines of text appearing, a panel changing colour, a dialog that shows for a while and closes, text
typed character by character. Every event's text is at least 10 px high in the frame the model gets (the
trained video frame size, 672×384 for 16:9 — checked here), so an event is *seen* when a sampler keeps a
frame taken while its finished state is on the screen (after the last character typed, before the dialog
closes or the next event replaces it).

Samplers, all sending whole frames at the same size (so tokens = frames × the per-frame count):

- EVS (``runtime/recording_sampler.scan_moments``: the start, each change once settled, progress in long
  activity) at the settings ``omnidesk ask --recording`` uses;
- uniform sampling: the lowest rate (of a sweep) that reaches EVS's recall;
- frame difference with FFmpeg's ``mpdecimate`` (drops frames too similar to the last kept one; ``hi`` swept,
  ``lo`` = hi·5/12 and ``frac`` 0.33 as its defaults relate) and with the ``scene`` score (``select`` of
  frames whose scene change exceeds a swept threshold), both run through PyAV's filter graph on the decoded
  video: the setting with the fewest frames that reaches EVS's recall.

Printed: frames and tokens per minute per sampler (vLLM's Nemotron image count for the frame size, 286;
llama.cpp's fixed-canvas projector counts 256 — the ratio between samplers is the same), recall, and the
speed of decode + EVS as a multiple of real time on this machine's cores. The narration (espeak-ng) and the
Qt target app of the full rig session are not in this version.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from omnidesk.agent.geometry import MonitorInfo, Rect
from omnidesk.agent.media_budget import video_frame_size, vllm_image_tokens
from omnidesk.agent.ports import Frame, ModelImage
from omnidesk.runtime.config import EvsConfig
from omnidesk.runtime.images import resized_image
from omnidesk.runtime.recording import SegmentedRecorder
from omnidesk.runtime.recording_reader import open_recording
from omnidesk.runtime.recording_sampler import for_decoded_video, scan_moments

W, H = 1280, 720
MIN_TEXT_PX = 10  # readable in the model's frame
FONT = cv2.FONT_HERSHEY_SIMPLEX


@dataclass
class Event:
    """One thing that happens: visible in its finished state during ``[shown, gone)``."""

    kind: str
    start: float
    shown: float
    gone: float
    text: str
    height: int  # text cap height in screen pixels (0: no text)
    region: str
    draw: Callable[[np.ndarray, float], None] = field(repr=False)


def _text(img: np.ndarray, text: str, x: int, y: int, height: int, colour: tuple[int, int, int]) -> None:
    scale = height / 22.0
    cv2.putText(img, text, (x, y + height), FONT, scale, colour, max(1, round(scale * 1.6)), cv2.LINE_AA)


def make_session(minutes: float, seed: int) -> tuple[list[Event], Callable[[float], np.ndarray]]:
    """The events of a scripted session and the screen at any time (BGRA)."""
    rng = random.Random(seed)
    words = ["invoice", "report", "meeting", "budget", "draft", "review", "backup", "upload", "contract", "schedule"]
    events: list[Event] = []
    t = 2.0
    end = minutes * 60
    slot = 0
    while t < end - 4:
        kind = ["text", "color", "dialog", "typing"][slot % 4]
        slot += 1
        text = f"{rng.choice(words)} {rng.randint(10, 99)}"
        if kind == "text":
            y, h = 120 + 60 * (slot % 8), rng.choice([22, 26, 32])
            ev = Event(
                kind,
                t,
                t,
                end,
                text,
                h,
                f"text{y}",
                lambda img, now, y=y, h=h, s=text: _text(img, s, 300, y, h, (20, 20, 20)),
            )
        elif kind == "color":
            colour = tuple(rng.randint(40, 220) for _ in range(3))
            ev = Event(
                kind,
                t,
                t,
                end,
                "",
                0,
                kind,
                lambda img, now, c=colour: img.__setitem__((slice(80, 700), slice(0, 240)), (*c, 255)),
            )
        elif kind == "dialog":
            stay = rng.uniform(1.0, 3.0)

            def dialog(img: np.ndarray, now: float, s: str = text) -> None:
                cv2.rectangle(img, (400, 220), (900, 480), (235, 235, 235, 255), -1)
                cv2.rectangle(img, (400, 220), (900, 480), (90, 90, 90, 255), 2)
                _text(img, f"Saved {s}", 430, 300, 28, (0, 0, 160))

            ev = Event(kind, t, t, t + stay, text, 28, kind, dialog)
        else:
            per_char = 0.12
            done = t + per_char * len(text)

            def typing(img: np.ndarray, now: float, s: str = text, t0: float = t, per_char: float = per_char) -> None:
                shown = s[: min(len(s), int((now - t0) / per_char) + 1)]
                _text(img, shown, 260, 34, 24, (10, 10, 10))

            ev = Event(kind, t, done, end, text, 24, kind, typing)
        events.append(ev)
        t += rng.uniform(3.0, 9.0)
    # A later event of the same kind (and region) replaces the earlier one.
    by_region: dict[str, Event] = {}
    for ev in events:
        if ev.region in by_region:
            by_region[ev.region].gone = min(by_region[ev.region].gone, ev.start)
        by_region[ev.region] = ev

    def screen(now: float) -> np.ndarray:
        img = np.full((H, W, 4), 250, np.uint8)
        img[:, :, 3] = 255
        img[0:24] = (60, 60, 60, 255)
        img[80:700, 0:240] = (200, 200, 200, 255)
        cv2.rectangle(img, (250, 28), (1200, 66), (120, 120, 120, 255), 1)
        if int(now * 2) % 2 == 0:  # the caret blinks twice a second
            img[34:60, 1180:1181] = (0, 0, 0, 255)
        for ev in events:
            if ev.start <= now < ev.gone:
                ev.draw(img, now)
        return img

    return events, screen


def record_session(out: Path, minutes: float, fps: float, screen: Callable[[float], np.ndarray]) -> Path:
    monitor = MonitorInfo(1, "bench", Rect(0, 0, W, H))
    recorder = SegmentedRecorder(out, monitor={}, size=(W, H), fps=fps, audio=False, segment_seconds=3600)
    for i in range(int(minutes * 60 * fps)):
        recorder.add_frame(Frame(screen(i / fps), 1000.0 + i / fps, monitor, i + 1))
    recorder.close()
    return out


def recall(events: list[Event], times: list[float]) -> float:
    kept = np.sort(np.asarray(times))
    seen = 0
    for ev in events:
        k = np.searchsorted(kept, ev.shown - 1e-6)
        seen += bool(k < len(kept) and kept[k] < ev.gone)
    return seen / max(1, len(events))


def missed(events: list[Event], times: list[float]) -> dict[str, int]:
    """How many events of each kind no kept frame shows."""
    kept = np.sort(np.asarray(times))
    out: dict[str, int] = {}
    for ev in events:
        k = np.searchsorted(kept, ev.shown - 1e-6)
        if not (k < len(kept) and kept[k] < ev.gone):
            out[ev.kind] = out.get(ev.kind, 0) + 1
    return out


def evs_times(folder: Path) -> tuple[list[float], float]:
    recording = open_recording(folder)
    size = video_frame_size(*recording.size)

    def frame_image(frame: Frame) -> ModelImage:
        return resized_image(frame, *size)

    started = time.perf_counter()
    moments = list(
        scan_moments(recording, recording.range(), config=for_decoded_video(EvsConfig()), frame_image=frame_image)
    )
    return [m.time - recording.start for m in moments], time.perf_counter() - started


def _decoded(segment: Path) -> Iterator[tuple[float, Any]]:
    import av

    with av.open(str(segment), "r") as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        zero: float | None = None
        for frame in container.decode(stream):
            t = float(frame.pts * frame.time_base)
            zero = t if zero is None else zero
            yield t - zero, frame


def _block_sads(cur: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Sums of absolute differences of the 8x8 blocks mpdecimate compares: every 4 px, x from 8."""
    integral = cv2.integral(cv2.absdiff(cur, ref))
    h, w = cur.shape
    y0, x0 = np.arange(0, h - 7, 4)[:, None], np.arange(8, w - 7, 4)[None, :]
    return integral[y0 + 8, x0 + 8] - integral[y0, x0 + 8] - integral[y0 + 8, x0] + integral[y0, x0]


def mpdecimate_times(segment: Path, settings: list[int], frac: float = 0.33) -> dict[int, list[float]]:
    """The frames FFmpeg's ``mpdecimate`` keeps for each ``hi`` (``lo`` = hi·5/12, its defaults' ratio).

    PyAV's FFmpeg is an LGPL build and mpdecimate is GPL-only, so its rule (``libavfilter/vf_mpdecimate.c``)
    runs here in numpy: a frame is dropped unless, in some plane of yuv420p, an 8x8 block (every 4 px) differs
    from the last kept frame by more than ``hi``, or more than ``(w/16)·(h/16)·frac`` blocks by more than ``lo``.
    """
    refs: dict[int, list[np.ndarray] | None] = dict.fromkeys(settings)
    kept: dict[int, list[float]] = {hi: [] for hi in settings}
    for t, frame in _decoded(segment):
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


def scene_times(segment: Path, threshold: float) -> list[float]:
    """The frames FFmpeg's ``select`` keeps with ``gt(scene, threshold)`` (the first frame too), through
    PyAV's filter graph."""
    import av

    graph: Any = None
    kept: list[float] = []
    times: dict[int, float] = {}
    for t, frame in _decoded(segment):
        if graph is None:
            graph = av.filter.Graph()
            source = graph.add_buffer(
                width=frame.width, height=frame.height, format=frame.format.name, time_base=frame.time_base
            )
            node = graph.add("select", f"eq(n\\,0)+gt(scene\\,{threshold})")
            sink = graph.add("buffersink")
            source.link_to(node)
            node.link_to(sink)
            graph.configure()
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
    sampler: str
    setting: str
    frames: int
    recall: float
    times: list[float] = field(default_factory=list, repr=False)


def cheapest(rows: list[Row], target: float) -> Row | None:
    ok = [r for r in rows if r.recall >= target - 1e-9]
    return min(ok, key=lambda r: r.frames) if ok else None


def run(minutes: float, fps: float, seed: int, workdir: Path) -> dict[str, Any]:
    events, screen = make_session(minutes, seed)
    frame_w, frame_h = video_frame_size(W, H)
    smallest = min(ev.height for ev in events if ev.height) * frame_h / H
    if smallest < MIN_TEXT_PX:
        raise SystemExit(f"the smallest event text is {smallest:.1f} px in the model's frame, under {MIN_TEXT_PX}")
    started = time.perf_counter()
    folder = record_session(workdir / "session", minutes, fps, screen)
    record_seconds = time.perf_counter() - started
    segment = next(folder.glob("segment-*.mkv"))
    duration = minutes * 60

    evs, evs_seconds = evs_times(folder)
    target = recall(events, evs)
    uniform = []
    for rate in (0.05, 0.1, 0.2, 0.25, 1 / 3, 0.5, 2 / 3, 0.75, 1.0, 2.0, 4.0):
        times = list(np.arange(0, duration, 1 / rate))
        uniform.append(Row("uniform", f"{rate:g} fps", len(times), recall(events, times), times))
    decimated = mpdecimate_times(segment, [64 * 12, 64 * 18, 64 * 24, 64 * 32, 64 * 48, 64 * 96, 64 * 192, 64 * 768])
    mpdecimate = [Row("mpdecimate", f"hi={hi}", len(t), recall(events, t), t) for hi, t in decimated.items()]
    scene = []
    for threshold in (0.0003, 0.001, 0.003, 0.01, 0.03, 0.1):
        times = scene_times(segment, threshold)
        scene.append(Row("scene", f"scene>{threshold}", len(times), recall(events, times), times))
    per_frame = vllm_image_tokens(frame_w, frame_h)
    rows = [Row("EVS", "ask --recording", len(evs), target, evs)]
    for _name, sweep in (("uniform", uniform), ("mpdecimate", mpdecimate), ("scene", scene)):
        best = cheapest(sweep, target)
        rows.append(best or max(sweep, key=lambda r: (r.recall, -r.frames)))
    return {
        "minutes": minutes,
        "events": len(events),
        "events_by_kind": {k: sum(e.kind == k for e in events) for k in ("text", "color", "dialog", "typing")},
        "frame_size": [frame_w, frame_h],
        "tokens_per_frame": per_frame,
        "target_recall": target,
        "samplers": [
            {
                "sampler": r.sampler,
                "setting": r.setting,
                "frames": r.frames,
                "recall": round(r.recall, 4),
                "at_equal_recall": r.recall >= target - 1e-9,
                "missed": missed(events, r.times),
                "tokens_per_minute": round(r.frames * per_frame / minutes),
            }
            for r in rows
        ],
        "sweeps": {
            n: [{k: v for k, v in vars(r).items() if k != "times"} for r in s]
            for n, s in (("uniform", uniform), ("mpdecimate", mpdecimate), ("scene", scene))
        },
        "evs_speed_x_realtime": round(duration / evs_seconds, 2),
        "record_seconds": round(record_seconds, 1),
        "cores": os.cpu_count(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--fps", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="omnidesk-truth-") as tmp:
        result = run(args.minutes, args.fps, args.seed, Path(tmp))
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(
        f"{result['minutes']:g} min session, {result['events']} events {result['events_by_kind']}, "
        f"frames {result['frame_size'][0]}x{result['frame_size'][1]} at {result['tokens_per_frame']} tokens each"
    )
    print(f"{'sampler':<12}{'setting':<28}{'frames':>7}{'recall':>8}{'tokens/min':>12}")
    for s in result["samplers"]:
        mark = "" if s["at_equal_recall"] else "  (never reaches EVS's recall)"
        mark += f"  missed {s['missed']}" if s["missed"] else ""
        print(
            f"{s['sampler']:<12}{s['setting']:<28}{s['frames']:>7}{s['recall']:>8.2f}{s['tokens_per_minute']:>12}{mark}"
        )
    print(f"decode + EVS: {result['evs_speed_x_realtime']}x real time on {result['cores']} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
