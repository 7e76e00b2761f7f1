"""EVS over a decoded recording: a moment when each change settles, progress through a long animation,
native-resolution crops of what changed, and nothing from a still screen's compression noise."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from omnidesk.agent.geometry import MonitorInfo, Rect
from omnidesk.agent.ports import Frame
from omnidesk.runtime.config import EvsConfig
from omnidesk.runtime.images import overview_image
from omnidesk.runtime.recording import SegmentedRecorder
from omnidesk.runtime.recording_reader import TimeRange, open_recording
from omnidesk.runtime.recording_sampler import ScanStats, for_decoded_video, scan_moments

MONITOR = MonitorInfo(1, "DUMMY0", Rect(0, 0, 1920, 1080), primary=True)
FPS = 5.0
TEXT_AT, COLOUR_AT, ANIMATION = 2.0, 5.0, (8.0, 12.0)
TEXT_BOX = Rect(300, 380, 260, 30)
RED_BOX = Rect(1200, 600, 300, 200)


def screen_at(t: float) -> np.ndarray:
    px = np.full((1080, 1920, 4), 235, np.uint8)
    cv2.putText(px, "Menu  File  Edit  View", (20, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (20, 20, 20, 255), 1)
    if t >= TEXT_AT:  # ~13 px high text: unreadable in a 512 px overview, readable in a native crop
        cv2.putText(px, "Invoice 4711 paid", (300, 400), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0, 255), 1)
    if t >= COLOUR_AT:
        px[RED_BOX.y : RED_BOX.bottom, RED_BOX.x : RED_BOX.right, :3] = (30, 30, 220)
    if ANIMATION[0] <= t < ANIMATION[1]:
        x = 100 + int((t - ANIMATION[0]) * 300)
        px[800:900, x : x + 100, :3] = (200, 120, 30)
    return px


@pytest.fixture(scope="module")
def recording_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rec") / "rec"
    recorder = SegmentedRecorder(
        out, monitor={"index": 1}, size=(1920, 1080), fps=FPS, audio=False, segment_seconds=5.0
    )
    for i in range(int(15 * FPS)):
        recorder.add_frame(Frame(screen_at(i / FPS), 100.0 + i / FPS, MONITOR, i + 1))
    recorder.close()
    return out


def test_moments_follow_the_changes(recording_dir: Path) -> None:
    recording = open_recording(recording_dir)
    stats = ScanStats()
    moments = list(
        scan_moments(
            recording,
            recording.range(),
            config=for_decoded_video(EvsConfig()),
            frame_image=lambda f: overview_image(f, 512),
            crop_size=512,
            analysis_fps=FPS,
            max_span=2.0,
            stats=stats,
        )
    )
    kinds = [(m.kind, round(m.time, 1)) for m in moments]
    # start; the text settled one frame after it appeared; the red box; the animation's progress every
    # 2 s (the box leaving at 12.0 is a change too) and its end; then 3 still seconds (across a segment
    # join and x264's refinements) give nothing.
    assert kinds == [
        ("start", 0.0),
        ("settled", 2.2),
        ("settled", 5.2),
        ("progress", 10.0),
        ("progress", 12.0),
        ("settled", 12.2),
    ], kinds
    assert stats.analysed == 75 and stats.moments == 6
    start, text, colour, _, _, animation = moments
    assert start.crops == () and start.frame.kind == "overview" and start.frame.pixels.shape == (512, 512, 3)
    assert all(m.frame.timestamp == m.time for m in moments)
    # The text's crop is at native resolution and covers the text.
    (crop,) = text.crops
    assert crop.kind == "crop" and crop.transform.scale_x == 1.0 and crop.timestamp == text.time
    (box,) = text.boxes
    assert box.intersect(TEXT_BOX) is not None and box.width <= 512
    ox, oy = round(crop.transform.offset_x), round(crop.transform.offset_y)
    inside = crop.pixels[TEXT_BOX.y - oy : TEXT_BOX.bottom - oy, TEXT_BOX.x - ox : TEXT_BOX.right - ox]
    assert (inside.min(axis=2) < 60).sum() > 200  # dark text pixels, unscaled
    assert colour.boxes[0].intersect(RED_BOX) is not None and colour.score > text.score
    assert animation.score > colour.score  # a long animation changed more of the screen


def test_without_crops_moments_carry_the_frame_only(recording_dir: Path) -> None:
    recording = open_recording(recording_dir)
    moments = list(
        scan_moments(
            recording,
            TimeRange(4.0, 7.0),
            config=for_decoded_video(EvsConfig()),
            frame_image=lambda f: overview_image(f, 256),
            analysis_fps=FPS,
        )
    )
    assert [(m.kind, round(m.time, 1)) for m in moments] == [("start", 4.0), ("settled", 5.2)]
    assert all(m.images == (m.frame,) and m.frame.pixels.shape == (256, 256, 3) for m in moments)


def test_lossless_thresholds_see_compression_noise_decoded_video_thresholds_do_not(recording_dir: Path) -> None:
    recording = open_recording(recording_dir)
    still = TimeRange(12.4, 15.0)

    def count(config: EvsConfig) -> int:
        found = scan_moments(
            recording, still, config=config, frame_image=lambda f: overview_image(f, 64), analysis_fps=FPS
        )
        return sum(m.kind != "start" for m in found)

    assert count(for_decoded_video(EvsConfig())) == 0
    tuned = for_decoded_video(EvsConfig(noise_floor=20))
    assert tuned.noise_floor == 20 and tuned.peak_threshold == 4.0  # never lowers what the person set
