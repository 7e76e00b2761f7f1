"""The clip plan for an engine that takes video: vLLM's frame sampling (numpy's ``linspace`` as vLLM calls
it is the oracle), what a clip costs with and without EVS pruning, and parts cut to the server's frame cap
and context."""

from __future__ import annotations

import numpy as np
import pytest

from omnidesk.agent.errors import ConfigError
from omnidesk.agent.recording_video import VideoLimits, clip_tokens, plan_video_parts, sampled_indices, sampled_times


def _vllm(total: int, clip_fps: float, num_frames: int, fps: float) -> list[int]:
    """``VideoBackend.compute_frames_index_to_sample`` as vLLM writes it."""
    n = min(num_frames, total) if num_frames > 0 else total
    if fps > 0:
        n = min(n, int(np.floor(total / clip_fps * fps)))
    n = max(1, n)
    return list(range(n)) if n == total else np.linspace(0, total - 1, n, dtype=int).tolist()


def test_sampling_is_vllms() -> None:
    for total in (1, 2, 3, 16, 31, 32, 33, 97, 600, 1201):
        for num_frames, fps in ((32, -1.0), (512, 1.0), (6, -1.0), (-1, 0.5), (-1, -1.0)):
            assert sampled_indices(total, 2.0, VideoLimits(num_frames, fps)) == _vllm(total, 2.0, num_frames, fps)
    # calculate_timestamps: index · int(1000 / fps) ms
    assert sampled_times(16, 2.0, VideoLimits(6)) == [0.0, 1.5, 3.0, 4.5, 6.0, 7.5]


def test_what_a_clip_costs() -> None:
    # 16 frames of a 640x360 screen: 8 tubelets of 21x12 = 252 tokens, plus 24 tokens of separators each.
    assert clip_tokens(16, 2.0, (640, 360), VideoLimits()) == 8 * 252 + 8 * 24
    # --video-pruning-rate 0.5 keeps half of the frames' tokens (at least one tubelet's).
    assert clip_tokens(16, 2.0, (640, 360), VideoLimits(pruning_rate=0.5)) == 1008 + 8 * 24
    # The server keeps at most num_frames of them.
    assert clip_tokens(600, 2.0, (640, 360), VideoLimits(32)) == 16 * 252 + 16 * 24


def test_parts_fit_the_frame_cap_and_the_context() -> None:
    limits = VideoLimits(512, 1.0, 0.5)  # NVIDIA's cookbook launch options
    assert plan_video_parts(0, 600, clip_fps=2.0, size=(672, 384), limits=limits, budget=120_000) == [
        (0.0, 512.0),
        (512.0, 600),
    ]
    sound = lambda seconds: round(seconds * 12.5)  # noqa: E731
    parts = plan_video_parts(
        0, 60, clip_fps=2.0, size=(672, 384), limits=VideoLimits(-1), budget=3000, audio_tokens=sound
    )
    assert parts[0][0] == 0 and parts[-1][1] == 60 and len(parts) > 1
    length = parts[0][1] - parts[0][0]
    assert clip_tokens(round(length * 2), 2.0, (672, 384), VideoLimits(-1)) + sound(length) <= 3000
    assert clip_tokens(round(length * 2) + 1, 2.0, (672, 384), VideoLimits(-1)) + sound(length + 0.5) > 3000
    with pytest.raises(ConfigError, match="--max-model-len"):
        plan_video_parts(0, 8, clip_fps=2.0, size=(672, 384), limits=VideoLimits(), budget=100)
