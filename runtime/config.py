"""Settings sections of the runtime (pure pydantic models; the app's ``Settings`` holds them)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["AccessibilityConfig", "AudioConfig", "CaptureConfig", "EvsConfig", "ModelConfig", "RecordingConfig"]


class ModelConfig(BaseModel):
    """Which model runs and how; ``remote_url`` switches to an OpenAI-compatible engine."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    model: str = Field(default="", description="A model NAME in the data dir, or a path to a GGUF.")
    mmproj: Path | None = Field(default=None, description="Path to the mmproj GGUF (vision + audio).")
    profile: str = Field(default="nemotron-3-nano-omni", description="Model profile from assets/.")
    quant: str = Field(default="Q4_K_M", description="Quantisation `models pull` downloads.")
    hub_endpoint: str = Field(
        default="", description="Hugging Face Hub mirror that downloads come from; empty = huggingface.co."
    )
    remote_url: str = Field(default="", description="OpenAI-compatible endpoint; empty = local model.")
    remote_model: str = Field(default="", description="Model name to ask the remote engine for.")
    remote_api_key: str = Field(
        default="",
        description="API key for the remote engine, kept in the system keyring (`omnidesk config set "
        "model.remote_api_key -`); here only from OMNIDESK_MODEL__REMOTE_API_KEY or an older settings file.",
    )
    remote_timeout: float = Field(default=120.0, gt=0, description="Seconds a read may wait for the engine.")
    remote_deadline: float = Field(
        default=600.0, gt=0, description="Seconds one request to the engine may take in all (prompt + reply)."
    )
    remote_engine: Literal["auto", "vllm", "llama.cpp", "generic"] = Field(
        default="auto",
        description="The remote engine's kind, for its own reasoning fields (vLLM thinking_token_budget, "
        "llama.cpp reasoning_budget_tokens); auto asks the server once.",
    )
    remote_confirmed: list[str] = Field(
        default_factory=list, description="Remote URLs the user allowed to receive the screen."
    )
    gpu_layers: int | Literal["auto"] = Field(default="auto", description="Layers on the GPU, or auto.")
    context_length: int = Field(default=32768, ge=2048, le=262144)
    threads: int = Field(default=0, ge=0, description="CPU threads; 0 = physical cores - 1.")
    batch_size: int = Field(default=512, ge=32)
    ubatch_size: int = Field(default=128, ge=16, description="Small micro-batches make stop prompt.")
    pointing_reference: Literal["canvas", "content"] | None = Field(
        default=None,
        description="What the local model's points refer to where its engine letterboxes the screenshot: the "
        "whole canvas or the picture on it (measured by `omnidesk calibrate --model`; empty = the profile's).",
    )

    @field_validator("remote_url", "hub_endpoint")
    @classmethod
    def _check_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("the URL must start with http:// or https://")
        return value.rstrip("/")


class CaptureConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    monitor: str = Field(default="", description="RandR output name to watch; empty = the primary.")
    fps: float = Field(default=2.0, gt=0, le=60, description="Capture rate for the agent.")
    buffer_frames: int = Field(default=8, ge=2, le=600, description="Ring buffer length.")
    scale: dict[str, float] = Field(
        default_factory=dict, description="Desktop scale per output name (X11 has none), e.g. 1.5."
    )


class EvsConfig(BaseModel):
    """Efficient Video Sampling: which patches of a frame count as changed."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    enabled: bool = True
    patch_size: int = Field(default=32, ge=8, le=256, description="Capture pixels per patch side.")
    threshold: float = Field(default=6.0, ge=0, description="Mean abs grey change (0-255) per patch.")
    noise_floor: int = Field(default=3, ge=0, description="Pixel changes at or under this are noise.")
    peak_threshold: float = Field(
        default=1.0,
        gt=0,
        description="A cell changing this much over the noise floor flags its patch, unless the change "
        "is one cell column wide (a blinking caret).",
    )
    prune_rate: float | None = Field(
        default=None, ge=0, lt=1, description="Keep only the top 1-q changed patches (None = threshold)."
    )
    keyframe_change: float = Field(default=0.5, gt=0, le=1, description="Changed share that forces a keyframe.")
    keyframe_seconds: float = Field(default=10.0, gt=0, description="A keyframe at least this often.")
    max_crops: int = Field(default=4, ge=0, le=16)


class AudioConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    device: str = Field(default="", description="Input device name (substring); empty = default.")
    vad_aggressiveness: int = Field(default=2, ge=0, le=3)
    vad_hangover_seconds: float = Field(
        default=0.4, gt=0, le=5, description="Silence that ends an utterance (pauses between words are shorter)."
    )
    max_utterance_seconds: float = Field(default=30.0, gt=0)


class RecordingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    fps: float = Field(default=15.0, gt=0, le=60)
    segment_seconds: float = Field(default=10.0, ge=2, le=600)
    codec: Literal["h264", "vp9", "av1"] = "h264"
    max_disk_gb: float = Field(default=20.0, gt=0, description="Oldest recordings go past this.")
    retention_days: int = Field(default=30, ge=1)
    what_happened_minutes: float = Field(
        default=2.0, gt=0, le=60, description="What-just-happened reads this many last minutes of the newest recording."
    )


class AccessibilityConfig(BaseModel):
    """The desktop's accessibility tree (AT-SPI): a safety sense, never sent to the model."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    enabled: bool = Field(
        default=True, description="Read the accessibility tree when the desktop has one (focused password fields)."
    )
    focus_timeout: float = Field(default=0.4, gt=0, le=5, description="Seconds one focus read may take.")
    call_timeout: float = Field(default=3.0, gt=0, le=60, description="Seconds a tree or application list may take.")
