"""Control models for proving that ``omnidesk eval grounding`` measures: policies for the strict scripted
Nemotron server (``tests/models/scripted_nemotron.py``), which answers only requests in NVIDIA's
computer-use layout and writes its answers the way the model does (``pyautogui.click(x=…, y=…)``).

- :func:`truth` points at the target from the validated truth — *in the pixels it is sent*: it finds the
  target's picture (cut from the set's screenshot) in the screenshot it sees, like a perfect model would,
  so a wrapper that changes the picture (letterboxing) moves its point with the picture.
- :func:`noisy` is ``truth`` that misses with a known probability (seeded): a point away from the box.
- :func:`uniform` points uniformly at random over the screenshot (seeded); its expected hit rate is the
  mean share of the screen the boxes cover.
- :func:`letterboxed` and :func:`desktop_pixels` are model wrappers with a classic mistake: padding the
  screenshot into a square before the model sees it (points then refer to the padded picture), and
  answering in desktop pixels of a neighbouring monitor.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from omnidesk.agent.evaluation.grounding import GroundingCase, GroundingSet
from tests.models.scripted_nemotron import Answer, Policy, Seen

Point = tuple[float, float]
Pointer = Callable[[Seen], tuple[Point, GroundingCase]]

_MARGIN = 6


def _answer(x: float, y: float, width: int, height: int, *, pixels: bool = False) -> Answer:
    code = (
        f"pyautogui.click(x={round(x)}, y={round(y)})"
        if pixels
        else f"pyautogui.click(x={x / width:.5f}, y={y / height:.5f})"
    )
    return Answer("The target is there.", "Click the target.", code)


class TruthFinder:
    """Finds an item's target in a screenshot by its picture (template matching at scale 1)."""

    def __init__(self, grounding_set: GroundingSet, set_dir: Path) -> None:
        self._set = grounding_set
        self._dir = set_dir
        self._by_instruction: dict[str, list[GroundingCase]] = {}
        for case in grounding_set.cases:
            self._by_instruction.setdefault(case.instruction, []).append(case)
        self._patches: dict[str, tuple[np.ndarray, float, float]] = {}

    def _patch(self, case: GroundingCase) -> tuple[np.ndarray, float, float]:
        """The target's picture with a margin, and where the box's centre is inside it."""
        if case.id not in self._patches:
            shot = self._set.shot(case.shot)
            image = cv2.imread(str(self._dir / shot.file), cv2.IMREAD_COLOR)[:, :, ::-1]
            mx, my = shot.monitor[0], shot.monitor[1]
            x, y, w, h = case.box
            x0, y0 = max(0, x - mx - _MARGIN), max(0, y - my - _MARGIN)
            x1, y1 = min(image.shape[1], x - mx + w + _MARGIN), min(image.shape[0], y - my + h + _MARGIN)
            centre_x, centre_y = x - mx + w / 2 - x0, y - my + h / 2 - y0
            self._patches[case.id] = (np.ascontiguousarray(image[y0:y1, x0:x1]), centre_x, centre_y)
        return self._patches[case.id]

    @staticmethod
    def _match(screen: np.ndarray, small: np.ndarray, patch: np.ndarray) -> tuple[float, int, int]:
        """Best match of ``patch``: found at half size, then refined at full size around it."""
        ph, pw = patch.shape[:2]
        half = cv2.resize(patch, (max(1, pw // 2), max(1, ph // 2)), interpolation=cv2.INTER_AREA)
        if half.shape[0] < 6 or half.shape[1] < 6 or half.shape[0] > small.shape[0] or half.shape[1] > small.shape[1]:
            _, score, _, (px, py) = cv2.minMaxLoc(cv2.matchTemplate(screen, patch, cv2.TM_CCOEFF_NORMED))
            return score, px, py
        coarse = cv2.matchTemplate(small, half, cv2.TM_CCOEFF_NORMED)
        # Look-alikes (a calculator's keys) differ in details half size loses: refine the 40 best places.
        flat = coarse.ravel()
        top = np.argpartition(flat, -min(40, flat.size))[-min(40, flat.size) :]
        best = (-2.0, 0, 0)
        for hy, hx in zip(*np.unravel_index(top, coarse.shape), strict=True):
            x0, y0 = max(0, 2 * int(hx) - 4), max(0, 2 * int(hy) - 4)
            x1, y1 = min(screen.shape[1], 2 * int(hx) + pw + 4), min(screen.shape[0], 2 * int(hy) + ph + 4)
            if x1 - x0 < pw or y1 - y0 < ph:
                continue
            _, score, _, (px, py) = cv2.minMaxLoc(cv2.matchTemplate(screen[y0:y1, x0:x1], patch, cv2.TM_CCOEFF_NORMED))
            if score > best[0]:
                best = (score, x0 + px, y0 + py)
        return best

    def __call__(self, seen: Seen) -> tuple[Point, GroundingCase]:
        """Where the target of ``seen``'s instruction is in ``seen``'s screenshot (the best match)."""
        cases = self._by_instruction.get(seen.instruction)
        if not cases:
            raise AssertionError(f"no item has the instruction {seen.instruction!r}")
        best: tuple[float, Point, GroundingCase] | None = None
        screen = np.ascontiguousarray(seen.screen)
        small = cv2.resize(screen, (screen.shape[1] // 2, screen.shape[0] // 2), interpolation=cv2.INTER_AREA)
        height, width = screen.shape[:2]

        def same_size_first(case: GroundingCase) -> bool:
            monitor = self._set.shot(case.shot).monitor
            return (monitor[2], monitor[3]) != (width, height)

        for case in sorted(cases, key=same_size_first):
            patch, cx, cy = self._patch(case)
            if patch.shape[0] > screen.shape[0] or patch.shape[1] > screen.shape[1]:
                continue
            score, px, py = self._match(screen, small, patch)
            if best is None or score > best[0]:
                best = (score, (px + cx, py + cy), case)
            if score > 0.995:  # found as it was screenshotted: no other picture can match better
                break
        if best is None:
            raise AssertionError(f"no target of {seen.instruction!r} fits the screenshot")
        return best[1], best[2]


def truth(find: Pointer) -> Policy:
    def act(seen: Seen) -> Answer:
        (x, y), _ = find(seen)
        height, width = seen.screen.shape[:2]
        return _answer(x, y, width, height)

    return act


def _away_from(case: GroundingCase, monitor: tuple[int, int, int, int], rng: random.Random) -> Point:
    """A point of the screenshot outside the target's box (monitor pixels)."""
    mx, my, mw, mh = monitor
    x, y, w, h = case.box
    while True:
        px, py = rng.uniform(0, mw), rng.uniform(0, mh)
        if not (x - mx <= px < x - mx + w and y - my <= py < y - my + h):
            return px, py


def noisy(find: Pointer, grounding_set: GroundingSet, miss_rate: float, seed: int) -> Policy:
    rng = random.Random(seed)

    def act(seen: Seen) -> Answer:
        (x, y), case = find(seen)
        height, width = seen.screen.shape[:2]
        if rng.random() < miss_rate:
            x, y = _away_from(case, grounding_set.shot(case.shot).monitor, rng)
        return _answer(x, y, width, height)

    return act


def uniform(seed: int) -> Policy:
    rng = random.Random(seed)

    def act(seen: Seen) -> Answer:
        height, width = seen.screen.shape[:2]
        return _answer(rng.uniform(0, width), rng.uniform(0, height), width, height)

    return act


def expected_uniform_rate(grounding_set: GroundingSet, cases: list[GroundingCase]) -> float:
    """The mean share of its screenshot each target box covers (the uniform model's expected hit rate)."""
    shares = []
    for case in cases:
        _, _, mw, mh = grounding_set.shot(case.shot).monitor
        shares.append(case.box[2] * case.box[3] / (mw * mh))
    return sum(shares) / len(shares)


def letterboxed(policy: Policy) -> Policy:
    """A wrapper that pads the screenshot into a centred square before its model sees it, and passes the
    model's answer on unchanged — so the answer's fractions refer to the padded picture."""

    def act(seen: Seen) -> Answer:
        screen = seen.screen
        height, width = screen.shape[:2]
        side = max(width, height)
        square = np.zeros((side, side, 3), np.uint8)
        top, left = (side - height) // 2, (side - width) // 2
        square[top : top + height, left : left + width] = screen
        return policy(replace(seen, screenshots=[*seen.screenshots[:-1], square]))

    return act


def desktop_pixels(find: Pointer, origin: tuple[int, int]) -> Policy:
    """A wrapper that answers in pixels of the desktop, adding the origin of the monitor it believes it
    captured — here a neighbouring one (``origin``), the off-by-one-monitor mistake."""

    def act(seen: Seen) -> Answer:
        (x, y), _ = find(seen)
        height, width = seen.screen.shape[:2]
        return _answer(x + origin[0], y + origin[1], width, height, pixels=True)

    return act
