"""Model profiles: what differs between the models Omnidesk can drive, declared once in TOML.

A profile (``assets/profiles/NAME.toml``) names the GGUF architectures it runs, the model family's trained
``output_format`` (the format module in ``agent/formats/`` that lays out its prompts, sizes its screenshots
and reads its answers), how many screenshots a request keeps, the coordinate convention of the model's GUI
actions, what its points refer to where llama.cpp letterboxes its images (``pointing_reference``: the canvas
by default; ``omnidesk calibrate --model`` measures it), the square canvas its published mmproj encodes,
whether it hears audio, the model card's sampler settings for reasoning and direct answers, and where
``models pull`` finds its files.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from omnidesk.agent.errors import ConfigError
from omnidesk.agent.formats import format_names
from omnidesk.runtime.llama.sampling import SamplerParams, SamplingDefaults
from omnidesk.runtime.llama.session import SessionProfile

__all__ = ["DownloadSpec", "ModelProfile", "SamplerSpec", "list_profiles", "load_profile"]

DEFAULT_PROFILE = "nemotron-3-nano-omni"


class SamplerSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    temperature: float = Field(ge=0, le=2)
    top_p: float = Field(gt=0, le=1)
    top_k: int = Field(ge=0)

    def params(self) -> SamplerParams:
        return SamplerParams(temperature=self.temperature, top_p=self.top_p, top_k=self.top_k)


class Sampling(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    reasoning: SamplerSpec
    instruct: SamplerSpec


class DownloadSpec(BaseModel):
    """A Hugging Face repo and glob patterns; ``{quant}`` is replaced by the chosen quantisation."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    repo: str
    model_pattern: str
    mmproj_pattern: str | None = None
    quants: list[str] = Field(default_factory=list)


class ModelProfile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    display_name: str
    architectures: list[str] = Field(min_length=1)
    output_format: str
    screenshots: int = Field(default=3, ge=1, le=5)
    coordinate_convention: Literal["fraction", "thousandths", "image_pixels"]
    pointing_reference: Literal["canvas", "content"] = "canvas"
    image_size: int = Field(ge=16, le=4096)
    audio: bool
    thinking_default: bool
    sampling: Sampling
    download: DownloadSpec | None = None

    @field_validator("output_format")
    @classmethod
    def _known_format(cls, value: str) -> str:
        if value not in format_names():
            raise ValueError(f"unknown output_format {value!r}; one of {', '.join(format_names())}")
        return value

    def session_profile(self) -> SessionProfile:
        """What the local session needs from this profile."""
        return SessionProfile(
            name=self.name,
            architectures=tuple(self.architectures),
            sampling=self.sampling_defaults(),
            enable_thinking=self.thinking_default,
            coordinate_convention=self.coordinate_convention,
            image_size=self.image_size,
            pointing_reference=self.pointing_reference,
        )

    def sampling_defaults(self) -> SamplingDefaults:
        return SamplingDefaults(reasoning=self.sampling.reasoning.params(), instruct=self.sampling.instruct.params())


def list_profiles() -> list[str]:
    """Names of the bundled profiles."""
    folder = resources.files("omnidesk.assets").joinpath("profiles")
    return sorted(p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml"))


def load_profile(name_or_path: str = DEFAULT_PROFILE) -> ModelProfile:
    """A bundled profile by name, or a profile TOML file by path."""
    if name_or_path.endswith(".toml"):
        source = Path(name_or_path)
        try:
            text = source.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read profile file {source}: {exc.strerror}") from exc
        except UnicodeDecodeError as exc:
            raise ConfigError(f"profile file {source} is not UTF-8 text; is it a profile?") from exc
    else:
        entry = resources.files("omnidesk.assets").joinpath(f"profiles/{name_or_path}.toml")
        if not entry.is_file():
            raise ConfigError(
                f"unknown model profile {name_or_path!r}; choose one of {', '.join(list_profiles())} "
                "or pass a path to a profile .toml"
            )
        text = entry.read_text(encoding="utf-8")
    try:
        return ModelProfile.model_validate(tomllib.loads(text))
    except (tomllib.TOMLDecodeError, ValidationError) as exc:
        raise ConfigError(f"model profile {name_or_path!r} is invalid: {exc}") from exc
