"""The TargetLocator port on OpenCV template matching: a recorded target patch found on the current screen.

The frame is letterboxed into an overview of the size the patch was cut from (``runtime.images``), so the
patch is searched at the scale it was recorded at; the best normalised cross-correlation must reach
``min_score`` and beat any match elsewhere clearly — a second near-equal match is refused rather than
guessed. The found anchor maps back to the desktop through the overview's :class:`ImageTransform`.
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from omnidesk.agent.errors import RecordingError, TargetNotFoundError
from omnidesk.agent.ports import Frame, ModelImage, TargetMatch, TargetPatch
from omnidesk.runtime.images import overview_image

__all__ = ["TemplateLocator", "find_patch"]

log = logging.getLogger(__name__)

Pixels = npt.NDArray[np.uint8]
_PNG = b"\x89PNG\r\n\x1a\n"
_MAX_PATCH_BYTES = 8 * 2**20


def find_patch(overview: Pixels, patch: Pixels, *, min_score: float = 0.8) -> tuple[float, float, float]:
    """Where ``patch`` (top-left) best matches in ``overview``, and the match score.

    Raises:
        TargetNotFoundError: no good match, two equally good ones, or a featureless patch.
    """
    if patch.shape[0] > overview.shape[0] or patch.shape[1] > overview.shape[1]:
        raise TargetNotFoundError("the recorded target is larger than the current screenshot")
    if float(patch.std()) < 2.0:
        raise TargetNotFoundError("the recorded target has no features to find it by; this step cannot be replayed")
    scores = cv2.matchTemplate(overview, patch, cv2.TM_CCOEFF_NORMED)
    _, best, _, (bx, by) = cv2.minMaxLoc(scores)
    if best < min_score:
        raise TargetNotFoundError(f"the recorded target is not on the screen (best match {best:.2f} < {min_score:.2f})")
    h, w = patch.shape[:2]
    suppressed = scores.copy()
    suppressed[max(0, by - h) : by + h, max(0, bx - w) : bx + w] = -1.0
    second = float(suppressed.max()) if suppressed.size else -1.0
    if second >= best - 0.02:
        where = f"({best:.2f} and {second:.2f})"
        raise TargetNotFoundError(f"the recorded target matches in two places {where}; not guessing")
    return float(bx), float(by), float(best)


class TemplateLocator:
    """Finds target patches by template matching; patch files are read once and kept."""

    def __init__(self, *, min_score: float = 0.8) -> None:
        self._min_score = min_score
        self._patches: dict[Path, Pixels] = {}
        self._overview: tuple[Frame, int, ModelImage] | None = None

    def locate(self, frame: Frame, patch: TargetPatch) -> TargetMatch:
        """Where ``patch``'s anchor is on ``frame``, in virtual-desktop pixels.

        Raises:
            TargetNotFoundError: the target is not found, found twice, or featureless.
            RecordingError: the patch file cannot be read.
        """
        overview = self._overview_of(frame, patch.image_size)
        x, y, score = find_patch(overview.pixels, self._read(patch), min_score=self._min_score)
        ax, ay = patch.anchor
        dx, dy = overview.transform.image_to_desktop(x + ax, y + ay)
        log.debug("target %s found at (%d, %d), match %.3f", patch.file.name, dx, dy, score)
        return TargetMatch(dx, dy, round(score, 3))

    def _overview_of(self, frame: Frame, size: int) -> ModelImage:
        """One overview per frame and size (a drag's two patches share it)."""
        cached = self._overview
        if cached is not None and cached[0] is frame and cached[1] == size:
            return cached[2]
        overview = overview_image(frame, size)
        self._overview = (frame, size, overview)
        return overview

    def _read(self, patch: TargetPatch) -> Pixels:
        """The patch's RGB pixels; its size is checked from the PNG header before decoding (a crafted
        bundle's picture cannot make the decoder allocate gigabytes)."""
        path = patch.file
        pixels = self._patches.get(path)
        if pixels is None:
            try:
                with path.open("rb") as fh:
                    data = fh.read(_MAX_PATCH_BYTES + 1)
            except OSError as exc:
                raise RecordingError(f"cannot read {path} ({exc.strerror or exc}); the bundle is incomplete") from exc
            if len(data) > _MAX_PATCH_BYTES or data[:8] != _PNG or data[12:16] != b"IHDR":
                raise RecordingError(f"{path} is not a target patch PNG; the bundle is damaged")
            width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
            if not (0 < width <= patch.image_size and 0 < height <= patch.image_size):
                raise RecordingError(f"{path} ({width}×{height}) is larger than the image it was cut from")
            bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
            if bgr is None:
                raise RecordingError(f"cannot read {path}; the bundle is incomplete")
            pixels = np.ascontiguousarray(bgr[:, :, ::-1])
            self._patches[path] = pixels
        return pixels
