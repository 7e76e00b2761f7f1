"""Media for libmtmd: bitmaps from model images and audio clips, and the embedding cache.

An image's embeddings are cached by content hash, so an image that appears in several steps (the last
few screenshots) is encoded once. Audio is resampled to the projector's rate (16 kHz for Parakeet).
"""

from __future__ import annotations

import ctypes
import hashlib
from collections import OrderedDict
from typing import Any

import numpy as np
import numpy.typing as npt

from omnidesk.agent.ports import AudioPart, ImagePart
from omnidesk.runtime.images import content_hash

__all__ = ["EmbeddingCache", "make_bitmap", "media_key"]

Embeddings = npt.NDArray[np.float32]


def media_key(part: ImagePart | AudioPart) -> str:
    """A stable id for the media's content (the bitmap id and the embedding-cache key)."""
    if isinstance(part, ImagePart):
        digest = part.image.content_hash or content_hash(part.image.pixels)
        return f"img-{digest}"
    clip = part.clip
    data = np.ascontiguousarray(clip.samples, dtype=np.float32)
    h = hashlib.blake2b(data.data, digest_size=16, person=str(clip.sample_rate).encode()[:16])
    return f"aud-{h.hexdigest()}"


def _resample(samples: npt.NDArray[np.float32], rate: int, target: int) -> npt.NDArray[np.float32]:
    if rate == target or len(samples) == 0:
        return np.ascontiguousarray(samples, dtype=np.float32)
    n_out = max(1, round(len(samples) * target / rate))
    x_out = np.linspace(0, len(samples) - 1, n_out)
    return np.interp(x_out, np.arange(len(samples)), samples).astype(np.float32)


def make_bitmap(part: ImagePart | AudioPart, sample_rate: int) -> Any:
    """An ``mtmd_bitmap`` (caller frees it) with its content id set."""
    from llama_cpp import mtmd_cpp

    if isinstance(part, ImagePart):
        pixels = np.ascontiguousarray(part.image.pixels[:, :, :3], dtype=np.uint8)
        height, width = pixels.shape[:2]
        buf = (ctypes.c_uint8 * pixels.size).from_buffer_copy(pixels.tobytes())
        bitmap = mtmd_cpp.mtmd_bitmap_init(width, height, buf)
    else:
        samples = _resample(part.clip.samples, part.clip.sample_rate, sample_rate)
        fbuf = (ctypes.c_float * len(samples)).from_buffer_copy(samples.tobytes())
        bitmap = mtmd_cpp.mtmd_bitmap_init_from_audio(len(samples), fbuf)
    if not bitmap:
        raise MemoryError("libmtmd could not allocate a media bitmap")
    mtmd_cpp.mtmd_bitmap_set_id(bitmap, media_key(part).encode())
    return bitmap


class EmbeddingCache:
    """Least-recently-used media embeddings, bounded in bytes."""

    def __init__(self, max_bytes: int = 256 * 1024 * 1024) -> None:
        self._max_bytes = max_bytes
        self._items: OrderedDict[str, Embeddings] = OrderedDict()
        self._bytes = 0

    def get(self, key: str) -> Embeddings | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: str, value: Embeddings) -> None:
        if key in self._items:
            self._bytes -= self._items.pop(key).nbytes
        self._items[key] = value
        self._bytes += value.nbytes
        while self._bytes > self._max_bytes and len(self._items) > 1:
            _, old = self._items.popitem(last=False)
            self._bytes -= old.nbytes

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        self._items.clear()
        self._bytes = 0
