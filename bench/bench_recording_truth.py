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

The samplers and the scoring live in ``truth_samplers.py`` (shared with ``bench_recording_rig.py``, the rig
session with the Qt target app, galculator and espeak-ng narration). Printed: frames and tokens per minute
per sampler (vLLM's Nemotron image count for the frame size, 286; llama.cpp's fixed-canvas projector counts
256 — the ratio between samplers is the same), recall, and the speed of decode + EVS as a multiple of real
time on this machine's cores.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.truth_samplers import MIN_TEXT_PX, compare_samplers
from omnidesk.agent.geometry import MonitorInfo, Rect
from omnidesk.agent.media_budget import video_frame_size
from omnidesk.agent.ports import Frame
from omnidesk.runtime.recording import SegmentedRecorder

W, H = 1280, 720
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

    @property
    def text_px(self) -> float:
        return float(self.height)


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


def run(minutes: float, fps: float, seed: int, workdir: Path) -> dict[str, Any]:
    events, screen = make_session(minutes, seed)
    frame_h = video_frame_size(W, H)[1]
    smallest = min(ev.height for ev in events if ev.height) * frame_h / H
    if smallest < MIN_TEXT_PX:
        raise SystemExit(f"the smallest event text is {smallest:.1f} px in the model's frame, under {MIN_TEXT_PX}")
    started = time.perf_counter()
    folder = record_session(workdir / "session", minutes, fps, screen)
    record_seconds = time.perf_counter() - started
    result = compare_samplers(folder, events)
    return {
        "minutes": minutes,
        "events_by_kind": {k: sum(e.kind == k for e in events) for k in ("text", "color", "dialog", "typing")},
        **result,
        "record_seconds": round(record_seconds, 1),
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
