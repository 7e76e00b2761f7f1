"""What a remote engine says about how it serves video, read from its own answers (typed, capped).

vLLM takes a clip as a ``video_url`` part (``vllm/entrypoints/chat_utils.py``; a ``data:video/mp4;base64,``
URL is decoded by ``vllm/multimodal/media/video.py``), samples its frames itself (``--media-io-kwargs
'{"video": {"num_frames": N, "fps": F}}'``, default 32 frames) and prunes their tokens with EVS when launched
with ``--video-pruning-rate q``. ``GET /v1/models`` gives ``max_model_len`` on every vLLM server; the launch
options are only reported by ``GET /server_info?config_format=json`` (``vllm_config.model_config
.multimodal_config``), which exists when the server runs with ``VLLM_SERVER_DEV_MODE=1``
(``vllm/entrypoints/serve/dev/server_info/api_router.py``). Anything else is "not said" (None).
"""

from __future__ import annotations

import math

from omnidesk.agent.ports import VideoServing

__all__ = ["SERVER_INFO_PATH", "video_serving_from"]

SERVER_INFO_PATH = "/server_info?config_format=json"


def _number(value: object, *, low: float, high: float) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) and low <= number <= high else None


def _get(tree: object, *keys: str) -> object:
    for key in keys:
        if not isinstance(tree, dict):
            return None
        tree = tree.get(key)
    return tree


def video_serving_from(models: object, server_info: object) -> VideoServing:
    """A vLLM server's video serving from its ``/v1/models`` and ``/server_info`` answers (either None)."""
    context: int | None = None
    data = _get(models, "data")
    if isinstance(data, list) and data:
        length = _number(_get(data[0], "max_model_len"), low=1, high=1 << 31)
        context = int(length) if length is not None else None
    multimodal = _get(server_info, "vllm_config", "model_config", "multimodal_config")
    if not isinstance(multimodal, dict):
        return VideoServing("vllm", context_length=context)
    video = _get(multimodal, "media_io_kwargs", "video")
    frames = _number(_get(video, "num_frames"), low=-1, high=1 << 20)
    fps = _number(_get(video, "fps"), low=-1, high=1000)
    return VideoServing(
        "vllm",
        context_length=context,
        pruning_rate=_number(multimodal.get("video_pruning_rate"), low=0.0, high=0.999999) or 0.0,
        num_frames=int(frames) if frames is not None else None,
        fps=fps,
        exposed=True,
    )
