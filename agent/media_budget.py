"""What media costs in a model's context: images, video frames and audio, counted as the engines count them.

* Images sent to llama.cpp (in process or its server): libmtmd's own sizing rule for the mmproj
  (:class:`~omnidesk.agent.canvas.ImageCanvas`); Nemotron 3 Nano Omni's published mmproj puts every image
  on a 512² canvas, 256 tokens.
* Images sent to vLLM (``nano_nemotron_vl``'s ``DynamicResolutionImageTiler``): the native 16 px patch grid,
  at least 1024 and at most 13312 patches, each side made even; tokens = patches / 4 after pixel shuffle.
* Video sent to vLLM (``nano_nemotron_vl``): every frame is resized keeping its aspect to about
  ``video_target_num_patches`` = 1024 patches of 16 px (``_compute_aspect_preserving_size``: 672×384 for
  16:9), frames are paired into tubelets (temporal patch 2) and each tubelet costs (w/32)·(h/32) tokens —
  252 for 16:9; ``--video-pruning-rate q`` keeps ``max(per_tubelet, int(per_tubelet · tubelets · (1 − q)))``
  (vLLM ``multimodal/evs.py``).
* Audio (Parakeet, 16 kHz): cut into 30 s clips; a clip of n samples has n // 160 mel frames, subsampled
  three times by ``L = (L − 1) // 2 + 1`` — 375 tokens per full clip, 12.5 per second
  (vLLM ``model_executor/models/parakeet.py``, the same count llama.cpp's parakeet projector gives).

Sources (vLLM v0.20.0, commit b8160878f): ``vllm/transformers_utils/processors/nano_nemotron_vl.py``,
``vllm/multimodal/evs.py``, ``vllm/model_executor/models/parakeet.py``.
"""

from __future__ import annotations

import math

from omnidesk.agent.canvas import ImageCanvas

__all__ = [
    "AUDIO_CLIP_SECONDS",
    "AUDIO_RATE",
    "audio_clip_bounds",
    "audio_tokens",
    "fixed_canvas",
    "video_frame_size",
    "video_tokens",
    "vllm_image_grid",
    "vllm_image_tokens",
]

AUDIO_RATE = 16000
AUDIO_CLIP_SECONDS = 30.0
_HOP = 160
_SUBSAMPLING_STEPS = 3  # log2(subsampling_factor 8)
_VIDEO_PATCH = 16
_VIDEO_TARGET_PATCHES = 1024
_IMAGE_MIN_PATCHES = 1024
_IMAGE_MAX_PATCHES = 13312


def fixed_canvas(side: int, *, patch: int = 16, merge: int = 2) -> ImageCanvas:
    """A fixed square canvas (Nemotron's ``nemotron_v2_vl`` projector: 16 px patches, 2×2 merge)."""
    return ImageCanvas("nemotron_v2_vl", "fixed", patch, merge, side=side)


def audio_clip_bounds(samples: int, rate: int = AUDIO_RATE) -> list[tuple[int, int]]:
    """``[start, end)`` sample indices of the 30 s clips a sound is cut into."""
    step = round(AUDIO_CLIP_SECONDS * rate)
    return [(lo, min(samples, lo + step)) for lo in range(0, max(samples, 1), step)]


def audio_tokens(samples: int, rate: int = AUDIO_RATE) -> int:
    """Tokens ``samples`` of audio at ``rate`` cost once resampled to 16 kHz (at least 1)."""
    n = round(samples * AUDIO_RATE / rate)
    total = 0
    for lo, hi in audio_clip_bounds(n):
        length = max(hi - lo, AUDIO_RATE // 10) // _HOP  # a tail under 0.1 s is padded to 0.1 s
        for _ in range(_SUBSAMPLING_STEPS):
            length = (length - 1) // 2 + 1
        total += length
    return max(1, total)


def video_frame_size(width: int, height: int) -> tuple[int, int]:
    """The size vLLM resizes each video frame to (aspect kept, about 1024 patches, even patch counts)."""
    aspect = width / max(height, 1)
    ph = max(round(math.sqrt(_VIDEO_TARGET_PATCHES / aspect)), 1)
    pw = max(round(math.sqrt(_VIDEO_TARGET_PATCHES * aspect)), 1)
    up_h, up_w = ph + ph % 2, pw + pw % 2
    if up_h * up_w <= _VIDEO_TARGET_PATCHES:
        ph, pw = up_h, up_w
    else:
        ph, pw = max(2, ph - ph % 2), max(2, pw - pw % 2)
    return pw * _VIDEO_PATCH, ph * _VIDEO_PATCH


def video_tokens(frames: int, width: int, height: int, *, pruning_rate: float | None = None) -> int:
    """Tokens a clip of ``frames`` frames costs in vLLM (tubelets of 2 frames; EVS pruning if set)."""
    if frames <= 0:
        return 0
    w, h = video_frame_size(width, height)
    per_tubelet = (w // (2 * _VIDEO_PATCH)) * (h // (2 * _VIDEO_PATCH))
    tubelets = math.ceil(frames / 2)
    if pruning_rate is None or pruning_rate <= 0:
        return per_tubelet * tubelets
    return max(per_tubelet, int(per_tubelet * tubelets * (1 - pruning_rate)))


def vllm_image_tokens(width: int, height: int) -> int:
    """Tokens vLLM's Nemotron image tiler gives one ``width``×``height`` image (``process_media``)."""
    columns, rows = vllm_image_grid(width, height)
    return (rows * columns) // 4


def vllm_image_grid(width: int, height: int) -> tuple[int, int]:
    """The 16 px patch grid (columns, rows) vLLM's Nemotron image tiler resizes one image to."""
    rows, cols = round(height / _VIDEO_PATCH + 0.5), round(width / _VIDEO_PATCH + 0.5)
    avail = _IMAGE_MAX_PATCHES
    factor = min(math.sqrt(avail / (rows * cols)), 1.0)
    th, tw = math.floor(factor * rows), math.floor(factor * cols)
    if avail > _IMAGE_MIN_PATCHES and th * tw < _IMAGE_MIN_PATCHES:
        up = math.sqrt(_IMAGE_MIN_PATCHES / (th * tw))
        th, tw = math.ceil(up * th), math.ceil(up * tw)
    if th % 2:
        th = th + 1 if (th + 1) * tw <= avail else max(2, th - 1)
    if tw % 2:
        tw = tw + 1 if th * (tw + 1) <= avail else max(2, tw - 1)
    return tw, th
