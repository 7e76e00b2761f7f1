"""PNG encoding for trajectory bundles (the ``PngEncoder`` port of :mod:`omnidesk.agent.trajectory`)."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

__all__ = ["CvPngEncoder"]


class CvPngEncoder:
    """Encodes RGB images with OpenCV (fast compression level: bundles are written during a run)."""

    def __init__(self, compression: int = 1) -> None:
        self._params = [cv2.IMWRITE_PNG_COMPRESSION, compression]

    def encode_png(self, rgb: npt.NDArray[np.uint8]) -> bytes:
        """Raises: ValueError when the image cannot be encoded."""
        if rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"expected an H×W×3 RGB image, got shape {rgb.shape}")
        ok, data = cv2.imencode(".png", np.ascontiguousarray(rgb[:, :, ::-1]), self._params)
        if not ok:
            raise ValueError("OpenCV could not encode the PNG")
        return bytes(data.tobytes())
