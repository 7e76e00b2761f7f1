"""Screenshots of an evaluation set, read from disk as the frames a capture would have given, and the
thumbnails an evaluation report shows (OpenCV)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from omnidesk.agent.errors import EvalError
from omnidesk.agent.formats import ImageSizing
from omnidesk.agent.geometry import MonitorInfo
from omnidesk.agent.ports import Frame, ModelImage
from omnidesk.agent.private_files import write_private
from omnidesk.runtime.images import whole_image

__all__ = ["ShotFiles"]


class ShotFiles:
    """Loads set screenshots (PNG) as BGRA frames, sizes them for a model, writes report thumbnails."""

    def __init__(self, thumbnail_width: int = 480) -> None:
        self._thumb_width = thumbnail_width

    def load(self, path: Path, monitor: MonitorInfo) -> Frame:
        """The screenshot at ``path`` as a frame of ``monitor`` (its size must be the monitor's).

        Raises:
            EvalError: missing, not a PNG, or not the monitor's size.
        """
        try:
            data = np.fromfile(path, dtype=np.uint8)
        except OSError as exc:
            raise EvalError(f"screenshot {path} cannot be read ({exc.strerror}); regenerate the set") from exc
        pixels = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
        if pixels is None:
            raise EvalError(f"screenshot {path} is not a readable PNG; regenerate the set")
        height, width = pixels.shape[:2]
        geometry = monitor.geometry
        if (width, height) != (geometry.width, geometry.height):
            raise EvalError(
                f"screenshot {path} is {width}x{height} but its monitor is {geometry.width}x{geometry.height}"
            )
        bgra = np.ascontiguousarray(cv2.cvtColor(pixels, cv2.COLOR_BGR2BGRA), dtype=np.uint8)
        bgra.setflags(write=False)
        return Frame(pixels=bgra, timestamp=0.0, monitor=monitor)

    def overview(self, frame: Frame, sizing: ImageSizing) -> ModelImage:
        """The whole screenshot as the model's format sizes it (what the agent's sampler sends)."""
        return whole_image(frame, sizing)

    def write_thumbnail(self, frame: Frame, path: Path) -> None:
        """A small PNG of ``frame`` at ``path`` (replaced atomically)."""
        width = min(self._thumb_width, frame.width)
        height = max(1, round(frame.height * width / frame.width))
        small = cv2.resize(frame.pixels[:, :, :3], (width, height), interpolation=cv2.INTER_AREA)
        ok, data = cv2.imencode(".png", small, [cv2.IMWRITE_PNG_COMPRESSION, 6])
        if not ok:
            raise EvalError(f"could not encode the thumbnail {path}")
        write_private(path, data.tobytes(), durable=False)
