"""Chat messages as an OpenAI-compatible engine takes them: the request's content, apart from its transport.

Text parts are neutralised (no special tokens reach the engine's template from screen or user text), images
travel as PNG data URLs, audio as ``input_audio`` base64 WAV, video clips as vLLM's ``video_url`` data URL.
"""

from __future__ import annotations

import base64
import io
import wave
from typing import Any

import cv2
import numpy as np

from omnidesk.agent.errors import RemoteEngineError
from omnidesk.agent.ports import AudioPart, CachePoint, ChatMessage, ImagePart, TextPart, VideoPart
from omnidesk.runtime.llama.prompt import neutralize_text

__all__ = ["encode_messages"]


def _png_data_url(pixels: Any) -> str:
    ok, data = cv2.imencode(".png", np.ascontiguousarray(pixels[:, :, 2::-1]))
    if not ok:
        raise RemoteEngineError("could not encode an image as PNG for the remote engine")
    return "data:image/png;base64," + base64.b64encode(data.tobytes()).decode("ascii")


def _wav_base64(part: AudioPart) -> str:
    samples = np.clip(np.asarray(part.clip.samples, dtype=np.float32), -1.0, 1.0)
    pcm = (samples * 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(part.clip.sample_rate)
        out.writeframes(pcm.tobytes())
    return base64.b64encode(buf.getvalue()).decode("ascii")


def encode_messages(messages: tuple[ChatMessage, ...]) -> list[dict[str, Any]]:
    """OpenAI chat messages; text-only messages become plain strings, the cache point is dropped."""
    out: list[dict[str, Any]] = []
    for message in messages:
        parts: list[dict[str, Any]] = []
        for part in message.parts:
            if isinstance(part, TextPart):
                text = neutralize_text(part.text)
                if parts and parts[-1]["type"] == "text":
                    parts[-1]["text"] += text
                else:
                    parts.append({"type": "text", "text": text})
            elif isinstance(part, ImagePart):
                parts.append({"type": "image_url", "image_url": {"url": _png_data_url(part.image.pixels)}})
            elif isinstance(part, AudioPart):
                parts.append({"type": "input_audio", "input_audio": {"data": _wav_base64(part), "format": "wav"}})
            elif isinstance(part, VideoPart):  # vLLM's video_url part, the clip as a data URL
                url = f"data:{part.clip.mime};base64," + base64.b64encode(part.clip.data).decode("ascii")
                parts.append({"type": "video_url", "video_url": {"url": url}})
            elif isinstance(part, CachePoint):
                continue  # the server does its own prefix caching
        if all(p["type"] == "text" for p in parts):
            out.append({"role": message.role, "content": "".join(p["text"] for p in parts)})
        else:
            out.append({"role": message.role, "content": parts})
    return out
