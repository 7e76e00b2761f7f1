"""Targets cut from a teach recording: the frame before each press, and a patch the replay finds once."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from omnidesk.agent.geometry import Rect
from omnidesk.runtime.teach_targets import FRAME_MARGIN, cut_target, frames_before, thumbnail_around, to_frame
from omnidesk.runtime.template_locator import find_patch


@dataclass
class Frame:
    time: float
    value: int
    converted: int = 0

    def bgra(self) -> np.ndarray:
        self.converted += 1
        return np.full((4, 4, 4), self.value, dtype=np.uint8)


def _screen() -> np.ndarray:
    rng = np.random.default_rng(7)
    rgb = np.full((400, 600, 3), 40, dtype=np.uint8)
    cv2.putText(rgb, "Save", (400, 300), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (255, 255, 255), 2)
    rgb[20:120, 20:200] = rng.integers(0, 255, (100, 180, 3), dtype=np.uint8)
    return rgb


def test_the_frame_before_each_press_and_only_those_converted() -> None:
    frames = [Frame(t / 10, t) for t in range(10)]  # 0.0, 0.1, … 0.9
    picked = frames_before(frames, [0.35, 0.0, 0.2 + FRAME_MARGIN / 2, 5.0])
    assert [None if p is None else int(p[0, 0, 0]) for p in picked] == [3, None, 1, 9]
    assert sum(f.converted for f in frames) == 3  # frames nobody clicked after are never converted


def test_a_distinctive_target_is_found_once_where_it_was_cut() -> None:
    screen = _screen()
    cut = cut_target(screen, 430, 290)
    assert cut.problem == ""
    x, y, _ = find_patch(screen, cut.patch, min_score=0.8)
    assert (round(x + cut.anchor[0]), round(y + cut.anchor[1])) == (430, 290)


def test_a_spot_that_looks_the_same_elsewhere_says_so() -> None:
    flat = np.full((400, 600, 3), 90, dtype=np.uint8)
    cut = cut_target(flat, 300, 200)
    assert cut.problem != ""


def test_points_off_the_recorded_monitor_and_scaled_frames() -> None:
    monitor = Rect(1920, 0, 2560, 1440)  # the second monitor, recorded scaled to 1920×1080
    assert to_frame(100, 100, monitor, 1920, 1080) is None
    assert to_frame(1920 + 1280, 720, monitor, 1920, 1080) == (960, 540)
    thumb = thumbnail_around(_screen(), 430, 290)
    assert thumb.shape[0] <= 200 and thumb.shape[1] <= 320
