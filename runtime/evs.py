"""Efficient Video Sampling (EVS): send the model only the parts of the screen that changed.

A frame is cut into patches (``EvsConfig.patch_size`` capture pixels, 32 by default). Each frame is
turned grey and shrunk with ``cv2.INTER_AREA`` to cells of ``cell`` pixels (a few cells per patch side);
a patch's change is the mean, over its cells, of the absolute grey difference to the last *kept*
content of that patch, after a per-cell noise floor (so compression noise and a 1-pixel blinking caret
stay below the threshold). Changed patches are those over ``threshold`` — or, with ``prune_rate`` q, the
top (1 − q) share of all patches among those that changed at all. Kept patches become the new reference
for their place; the others keep comparing against what the model last saw, so slow drift still shows.

Keyframes (a whole-screen overview, every patch kept) come at the start, when more than
``keyframe_change`` of the patches changed, at least every ``keyframe_seconds``, when the frame size
changes, and on request. Between keyframes changed patches are merged into at most ``max_crops``
bounding boxes, each sent as a full-resolution crop.

:class:`SettleTracker` watches frame-to-frame change: "still for T seconds", and regions that keep changing
(a spinner, a video) reported as animating so a wait for a still screen is bounded.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from omnidesk.agent.geometry import Rect
from omnidesk.runtime.config import EvsConfig

__all__ = [
    "EvsCore",
    "EvsDecision",
    "PatchGrid",
    "SettleTracker",
    "merge_boxes",
]

Grey = npt.NDArray[np.uint8]
Scores = npt.NDArray[np.float32]
Mask = npt.NDArray[np.bool_]

DEFAULT_CELL = 2


@dataclass(frozen=True, slots=True)
class PatchGrid:
    """How a ``width × height`` frame maps to cells and patches."""

    width: int
    height: int
    patch: int
    cell: int

    @property
    def cells_per_patch(self) -> int:
        return max(1, self.patch // self.cell)

    @property
    def cell_shape(self) -> tuple[int, int]:
        """(rows, cols) of the downscaled grey image."""
        return math.ceil(self.height / self.cell), math.ceil(self.width / self.cell)

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols) of patches."""
        k = self.cells_per_patch
        rows, cols = self.cell_shape
        return math.ceil(rows / k), math.ceil(cols / k)

    @property
    def patch_px(self) -> int:
        """Capture pixels per patch side (the patch size rounded to whole cells)."""
        return self.cells_per_patch * self.cell

    def patch_rect(self, row0: int, col0: int, row1: int, col1: int) -> Rect:
        """Capture-pixel rectangle of patches ``[row0, row1) × [col0, col1)``, clipped to the frame."""
        p = self.patch_px
        x0, y0 = col0 * p, row0 * p
        x1, y1 = min(col1 * p, self.width), min(row1 * p, self.height)
        return Rect(x0, y0, max(0, x1 - x0), max(0, y1 - y0))

    def downscale(self, pixels: npt.NDArray[np.uint8]) -> Grey:
        """Grey cells of a BGRA (or BGR / grey) frame: ``cv2.INTER_AREA`` shrink, then grey."""
        rows, cols = self.cell_shape
        small = cv2.resize(pixels, (cols, rows), interpolation=cv2.INTER_AREA)
        if small.ndim == 2:
            return np.asarray(small, dtype=np.uint8)
        code = cv2.COLOR_BGRA2GRAY if small.shape[2] == 4 else cv2.COLOR_BGR2GRAY
        return np.asarray(cv2.cvtColor(small, code), dtype=np.uint8)

    def patch_scores(self, cur: Grey, ref: Grey, floor: int) -> tuple[Scores, Scores, Mask]:
        """Per patch: the mean floored absolute difference over its cells, the largest one, and whether
        the change is a thin vertical line (all changed cells in one column of cells, like a caret)."""
        diff = cv2.absdiff(cur, ref)
        if floor > 0:
            diff = cv2.subtract(diff, np.full_like(diff, floor))
        k = self.cells_per_patch
        prow, pcol = self.shape
        rows, cols = diff.shape
        if (rows, cols) != (prow * k, pcol * k):
            padded = np.zeros((prow * k, pcol * k), dtype=np.uint8)
            padded[:rows, :cols] = diff
            diff = padded
        blocks = diff.reshape(prow, k, pcol, k)
        sums = blocks.sum(axis=(1, 3), dtype=np.float32)
        peaks = blocks.max(axis=(1, 3)).astype(np.float32)
        columns = blocks.any(axis=1).sum(axis=2)
        thin = np.asarray(columns == 1, dtype=np.bool_)
        return (sums / self._counts()).astype(np.float32), peaks, thin

    def _counts(self) -> Scores:
        """How many real (unpadded) cells each patch holds."""
        k = self.cells_per_patch
        rows, cols = self.cell_shape
        prow, pcol = self.shape
        r = np.full(prow, k, dtype=np.float32)
        c = np.full(pcol, k, dtype=np.float32)
        r[-1] = rows - (prow - 1) * k
        c[-1] = cols - (pcol - 1) * k
        return np.outer(r, c)

    def expand(self, patches: Mask) -> Mask:
        """A patch mask blown up to the cell grid (to update references of kept patches)."""
        k = self.cells_per_patch
        rows, cols = self.cell_shape
        full = np.repeat(np.repeat(patches, k, axis=0), k, axis=1)
        return np.ascontiguousarray(full[:rows, :cols])


def merge_boxes(changed: Mask, max_boxes: int) -> list[tuple[int, int, int, int]]:
    """Bounding boxes ``(row0, col0, row1, col1)`` (exclusive ends) covering the changed patches.

    Patches within one patch of each other form one box; then the pair of boxes whose union adds the
    least area is merged until at most ``max_boxes`` remain (and boxes that overlap so much that merging
    adds no area are merged anyway). Many scattered changes (noise, a video) are
    first grouped coarser, so the cost stays small.
    """
    if not changed.any() or max_boxes <= 0:
        return []
    grid = changed.astype(np.uint8)
    kernel = 2  # closes gaps of one patch, not two
    while True:
        near = np.asarray(cv2.dilate(grid, np.ones((kernel, kernel), np.uint8)), dtype=np.uint8)
        boxes = _component_boxes(changed, near)
        if len(boxes) <= 4 * max_boxes or kernel > max(changed.shape):
            break
        kernel = kernel * 2 + 1
    while len(boxes) > 1:
        r0 = np.minimum.outer(boxes[:, 0], boxes[:, 0])
        c0 = np.minimum.outer(boxes[:, 1], boxes[:, 1])
        r1 = np.maximum.outer(boxes[:, 2], boxes[:, 2])
        c1 = np.maximum.outer(boxes[:, 3], boxes[:, 3])
        areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        cost = (r1 - r0) * (c1 - c0) - areas[:, None] - areas[None, :]
        cost[np.tril_indices(len(boxes))] = np.iinfo(np.int64).max
        i, j = np.unravel_index(int(np.argmin(cost)), cost.shape)
        if len(boxes) <= max_boxes and cost[i, j] > 0:
            break  # few enough, and no pair overlaps enough to merge for free
        boxes[i] = (r0[i, j], c0[i, j], r1[i, j], c1[i, j])
        boxes = np.delete(boxes, j, axis=0)
    return sorted((int(a), int(b), int(c), int(d)) for a, b, c, d in boxes)


def _component_boxes(changed: Mask, near: npt.NDArray[np.uint8]) -> npt.NDArray[np.int64]:
    """Per connected component of ``near``, the bounding box of its changed patches, as an (n, 4) array."""
    _, labels = cv2.connectedComponents(near, connectivity=8)
    rows, cols = np.nonzero(changed)
    lab = labels[rows, cols]
    order = np.argsort(lab, kind="stable")
    lab, rows, cols = lab[order], rows[order], cols[order]
    starts = np.flatnonzero(np.r_[True, lab[1:] != lab[:-1]])
    return np.stack(
        [
            np.minimum.reduceat(rows, starts),
            np.minimum.reduceat(cols, starts),
            np.maximum.reduceat(rows, starts) + 1,
            np.maximum.reduceat(cols, starts) + 1,
        ],
        axis=1,
    ).astype(np.int64)


def _significant(scores: Scores, peaks: Scores, thin: Mask, threshold: float, peak_threshold: float) -> Mask:
    """Changed patches: a mean change over ``threshold``, or any cell over ``peak_threshold`` — except a
    thin vertical change (a blinking caret) with no other change next to it."""
    peaked = peaks >= peak_threshold
    broad = (scores >= threshold) | (peaked & ~thin)
    near_broad = cv2.dilate(broad.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    return np.asarray(broad | (peaked & thin & near_broad), dtype=np.bool_)


@dataclass(frozen=True, slots=True, eq=False)
class EvsDecision:
    """What EVS decided for one frame.

    ``kept`` marks the patches sent (every patch on a keyframe); ``changed`` those that differ from what
    the model last saw; ``boxes`` the crops (capture pixels) between keyframes.
    """

    timestamp: float
    keyframe: bool
    reason: str
    kept: Mask
    changed: Mask
    scores: Scores
    changed_fraction: float
    boxes: tuple[Rect, ...]
    change_boxes: tuple[Rect, ...]

    @property
    def kept_fraction(self) -> float:
        return float(self.kept.mean()) if self.kept.size else 0.0


class EvsCore:
    """The EVS decision for a sequence of frames (pure numpy/cv2; no capture, no model images)."""

    def __init__(self, config: EvsConfig, *, cell: int = DEFAULT_CELL) -> None:
        if cell < 1 or cell > config.patch_size:
            raise ValueError(f"cell size must be within 1..patch_size, got {cell}")
        self.config = config
        self.cell = cell
        self._grid: PatchGrid | None = None
        self._ref: Grey | None = None
        self._last_keyframe = -math.inf

    @property
    def grid(self) -> PatchGrid | None:
        return self._grid

    def reset(self) -> None:
        """Forget the reference: the next frame is a keyframe."""
        self._ref = None

    def process(self, pixels: npt.NDArray[np.uint8], timestamp: float, *, force_keyframe: bool = False) -> EvsDecision:
        """Decide what of this frame to send, and update the reference to what was sent."""
        height, width = pixels.shape[:2]
        grid = self._grid
        if grid is None or (grid.width, grid.height) != (width, height):
            grid = PatchGrid(width, height, self.config.patch_size, self.cell)
            self._grid = grid
            self._ref = None
        cur = grid.downscale(pixels)
        return self.decide(cur, timestamp, force_keyframe=force_keyframe)

    def decide(self, cur: Grey, timestamp: float, *, force_keyframe: bool = False) -> EvsDecision:
        """Like :meth:`process` for an already downscaled grey frame (for callers that share it)."""
        grid = self._grid
        assert grid is not None, "process() a frame first"
        cfg = self.config
        if self._ref is None:
            scores = np.full(grid.shape, 255.0, dtype=np.float32)
            changed = np.ones(grid.shape, dtype=np.bool_)
            reason = "start"
        else:
            scores, peaks, thin = grid.patch_scores(cur, self._ref, cfg.noise_floor)
            changed = self._select(scores, peaks, thin)
            reason = ""
        fraction = float(changed.mean())
        if not reason:
            if force_keyframe:
                reason = "forced"
            elif fraction > cfg.keyframe_change:
                reason = "change"
            elif timestamp - self._last_keyframe >= cfg.keyframe_seconds:
                reason = "interval"
        change_boxes = tuple(grid.patch_rect(*b) for b in merge_boxes(changed, 16))
        if reason:
            self._ref = cur.copy()
            self._last_keyframe = timestamp
            kept = np.ones(grid.shape, dtype=np.bool_)
            return EvsDecision(timestamp, True, reason, kept, changed, scores, fraction, (), change_boxes)
        assert self._ref is not None
        boxes = merge_boxes(changed, cfg.max_crops)
        kept = np.zeros(grid.shape, dtype=np.bool_)
        for r0, c0, r1, c1 in boxes:
            kept[r0:r1, c0:c1] = True
        if not boxes:
            kept = changed.copy()  # max_crops == 0: the caller sends an overview of what changed
        if kept.any():
            update = grid.expand(kept)
            self._ref[update] = cur[update]
        rects = tuple(grid.patch_rect(*b) for b in boxes)
        return EvsDecision(timestamp, False, "", kept, changed, scores, fraction, rects, change_boxes)

    def _select(self, scores: Scores, peaks: Scores, thin: Mask) -> Mask:
        cfg = self.config
        significant = _significant(scores, peaks, thin, cfg.threshold, cfg.peak_threshold)
        if cfg.prune_rate is None:
            return np.asarray(significant, dtype=np.bool_)
        keep = math.ceil((1.0 - cfg.prune_rate) * scores.size - 1e-9)
        if keep >= int(significant.sum()):
            return np.asarray(significant, dtype=np.bool_)
        ranked = np.where(significant, scores, -1.0)
        order = np.argsort(ranked, axis=None, kind="stable")[::-1][:keep]
        selected = np.zeros(scores.size, dtype=np.bool_)
        selected[order] = True
        return selected.reshape(scores.shape) & significant


class SettleTracker:
    """Frame-to-frame change: has the screen been still for a while, and what keeps animating?

    A patch is *animating* when it changed in at least ``min_changes`` of the frames of the last
    ``window`` seconds. :meth:`update` takes each new frame's grey cells in order; stillness is counted
    from ``since`` at the earliest (a frame captured before the action being waited on proves nothing).
    """

    def __init__(
        self,
        grid: PatchGrid,
        *,
        threshold: float,
        peak_threshold: float,
        noise_floor: int,
        window: float = 1.0,
        min_changes: int = 3,
        since: float = -math.inf,
    ) -> None:
        self.grid = grid
        self.threshold = threshold
        self.peak_threshold = peak_threshold
        self.noise_floor = noise_floor
        self.window = window
        self.min_changes = min_changes
        self.since = since
        self._prev: Grey | None = None
        self._history: deque[tuple[float, Mask]] = deque()
        self.first_seen = math.nan
        self.last_change = math.nan
        self.last_seen = math.nan
        self.last_change_off_animation = math.nan

    def update(self, cur: Grey, timestamp: float) -> Mask:
        """Record one frame; returns the patches that changed since the previous frame."""
        if self._prev is None:
            changed = np.zeros(self.grid.shape, dtype=np.bool_)
            self.first_seen = timestamp
            # Stillness counts from ``since`` (the action before a wait) even if this frame is older.
            self.last_change = self.last_change_off_animation = max(timestamp, self.since)
        else:
            scores, peaks, thin = self.grid.patch_scores(cur, self._prev, self.noise_floor)
            changed = _significant(scores, peaks, thin, self.threshold, self.peak_threshold)
        self._prev = cur
        self.last_seen = timestamp
        self._history.append((timestamp, changed))
        while self._history and self._history[0][0] < timestamp - self.window:
            self._history.popleft()
        if changed.any():
            self.last_change = timestamp
            animating = cv2.dilate(self.animating().astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
            if (changed & ~animating).any():
                self.last_change_off_animation = timestamp
        return changed

    def animating(self) -> Mask:
        if not self._history:
            return np.zeros(self.grid.shape, dtype=np.bool_)
        counts = np.sum([c for _, c in self._history], axis=0)
        return np.asarray(counts >= self.min_changes, dtype=np.bool_)

    def still_for(self) -> float:
        """Seconds the whole screen has been still (0 right after a change)."""
        return 0.0 if math.isnan(self.last_seen) else self.last_seen - self.last_change

    def still_apart_from_animation(self) -> float:
        """Seconds everything but the animating patches has been still."""
        return 0.0 if math.isnan(self.last_seen) else self.last_seen - self.last_change_off_animation

    def animating_boxes(self) -> tuple[Rect, ...]:
        return tuple(self.grid.patch_rect(*b) for b in merge_boxes(self.animating(), 8))
