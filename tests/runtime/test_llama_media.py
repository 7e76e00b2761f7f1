"""Media helpers: content keys, resampling, and the bounded embedding cache."""

from __future__ import annotations

import numpy as np

from omnidesk.agent.ports import AudioClip, AudioPart
from omnidesk.runtime.llama.media import EmbeddingCache, _resample, media_key


def test_audio_keys_follow_content_and_rate() -> None:
    samples = np.linspace(-1, 1, 1600, dtype=np.float32)
    a = AudioPart(AudioClip(samples, 16000, 0.0, 0.1))
    same = AudioPart(AudioClip(samples.copy(), 16000, 5.0, 5.1))
    other_rate = AudioPart(AudioClip(samples, 48000, 0.0, 0.03))
    assert media_key(a) == media_key(same) != media_key(other_rate)


def test_resample_keeps_duration_and_shape() -> None:
    tone = np.sin(np.arange(48000) * 2 * np.pi * 440 / 48000).astype(np.float32)
    out = _resample(tone, 48000, 16000)
    assert out.dtype == np.float32 and len(out) == 16000
    # Still a 440 Hz tone: the spectrum peak stays put.
    peak = np.argmax(np.abs(np.fft.rfft(out))) * 16000 / len(out)
    assert abs(peak - 440) < 2


def test_cache_is_lru_and_bounded() -> None:
    cache = EmbeddingCache(max_bytes=3 * 400)
    for key in "abc":
        cache.put(key, np.zeros(100, dtype=np.float32))
    assert cache.get("a") is not None  # a is now the most recent
    cache.put("d", np.zeros(100, dtype=np.float32))
    assert cache.get("b") is None and cache.get("a") is not None and len(cache) == 3
