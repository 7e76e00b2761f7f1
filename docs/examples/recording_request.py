"""Draw what the model is given for a question about a recording: docs/recording-request.png.

    .venv/bin/python docs/examples/recording_request.py [--out docs/recording-request.png]

A 40 s scripted session (the one bench/bench_recording_truth.py measures, written by the real recorder, with
a beep for sound) goes through the same code as ``omnidesk ask --recording --crops``; instead of a model, a
client keeps the request. The picture lays the request's parts out in order: each text part as it is sent
(the frame pairs' separators with their times, the crops' labels, the instructions), each image at the size
the model gets it, each audio clip as its waveform with its length.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.bench_recording_truth import H, W, make_session  # noqa: E402
from omnidesk.agent.geometry import MonitorInfo, Rect  # noqa: E402
from omnidesk.agent.ports import (  # noqa: E402
    AudioPart,
    Frame,
    ImagePart,
    ModelCapabilities,
    ModelReply,
    ModelRequest,
    TextPart,
)
from omnidesk.app.recording_question import RecordingQuestion, ask_about_recording  # noqa: E402
from omnidesk.runtime.config import EvsConfig  # noqa: E402
from omnidesk.runtime.recording import SegmentedRecorder  # noqa: E402

SECONDS, FPS = 40.0, 10.0


class KeepRequest:
    """A ModelClient that keeps what it is asked instead of answering."""

    def __init__(self) -> None:
        self.requests: list[ModelRequest] = []
        self.capabilities = ModelCapabilities("picture", True, True, None, "fraction", 32768, remote=True)

    def generate(self, request: ModelRequest, **_: Any) -> ModelReply:
        self.requests.append(request)
        return ModelReply("(answer)", "", 0, 0, 0, 0.0, 0.0, "stop")

    def close(self) -> None:
        return


def _record(out: Path) -> Path:
    _, screen = make_session(SECONDS / 60, seed=3)
    monitor = MonitorInfo(1, "docs", Rect(0, 0, W, H))
    recorder = SegmentedRecorder(out, monitor={}, size=(W, H), fps=FPS, audio=True, segment_seconds=20)
    t = np.arange(int(SECONDS * 16000)) / 16000
    sound = (0.4 * np.sin(2 * np.pi * 330 * t) * ((t % 10) < 1.5)).astype(np.float32)  # 1.5 s every 10 s
    for i in range(int(SECONDS * FPS)):
        recorder.add_frame(Frame(screen(i / FPS), 100 + i / FPS, monitor, i + 1))
        recorder.add_audio(sound[int(i / FPS * 16000) : int((i + 1) / FPS * 16000)], 100 + i / FPS)
    recorder.close()
    return out


def _text_block(text: str, width: int) -> np.ndarray:
    lines = [w for line in text.split("\n") for w in (textwrap.wrap(line, 110) or [""])]
    block = np.full((22 * len(lines) + 8, width, 3), 255, np.uint8)
    for k, line in enumerate(lines):
        cv2.putText(block, line, (8, 20 + 22 * k), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (20, 20, 140), 1, cv2.LINE_AA)
    return block


def _wave(samples: np.ndarray, seconds: float, width: int) -> np.ndarray:
    strip = np.full((70, width, 3), 245, np.uint8)
    n = width - 16
    env = np.abs(samples[: len(samples) // n * n].reshape(n, -1)).max(axis=1) if len(samples) >= n else np.zeros(n)
    for x, v in enumerate(env):
        cv2.line(strip, (8 + x, 40 - int(v * 50)), (8 + x, 40 + int(v * 50)), (40, 120, 40), 1)
    cv2.putText(strip, f"audio clip, 16 kHz, {seconds:.2f} s", (8, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1)
    return strip


def render(request: ModelRequest, width: int = 1400) -> np.ndarray:
    rows: list[np.ndarray] = []
    pending: list[np.ndarray] = []

    def flush() -> None:
        if pending:
            height = max(p.shape[0] for p in pending)
            row = np.full((height + 8, width, 3), 255, np.uint8)
            x = 8
            for image in pending:
                row[4 : 4 + image.shape[0], x : x + image.shape[1]] = image
                x += image.shape[1] + 12
            rows.append(row)
            pending.clear()

    for part in request.messages[0].parts:
        if isinstance(part, TextPart):
            flush()
            shown = "\\n" + part.text[1:] if part.text.startswith("\n") else part.text  # the leading newline, visible
            rows.append(_text_block(shown.replace("–", "-"), width))
        elif isinstance(part, ImagePart):
            pixels = np.ascontiguousarray(part.image.pixels[:, :, ::-1])
            cv2.rectangle(pixels, (0, 0), (pixels.shape[1] - 1, pixels.shape[0] - 1), (0, 0, 0), 1)
            pending.append(pixels)
        elif isinstance(part, AudioPart):
            flush()
            rows.append(_wave(part.clip.samples, part.clip.duration, width))
    flush()
    return np.vstack(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "recording-request.png")
    args = parser.parse_args()
    client = KeepRequest()
    with tempfile.TemporaryDirectory() as tmp:
        folder = _record(Path(tmp) / "rec")
        question = RecordingQuestion("What did I save, and when?", path=folder, crops=True)
        ask_about_recording(client, question, evs=EvsConfig())  # type: ignore[arg-type]
    cv2.imwrite(str(args.out), render(client.requests[0]))
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
