"""Pytest plugin: session fixtures with tiny random-weight GGUF models (generated in milliseconds)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.models.tiny_gguf import write_llama, write_mmproj, write_nemotron_h_moe
from tests.models.tiny_qwen import write_qwen_mmproj, write_qwen_text

__all__ = [
    "TinyModel",
    "tiny_llama",
    "tiny_omni",
    "tiny_omni_vision_only",
    "tiny_qwen3",
    "tiny_qwen3_moe",
    "tiny_qwen3_pixel_limits",
    "tiny_qwen25",
]

IMAGE_SIZE = 32


@dataclass(frozen=True, slots=True)
class TinyModel:
    """A text model GGUF and (optionally) its mmproj."""

    model: Path
    mmproj: Path | None
    image_size: int = IMAGE_SIZE
    architecture: str = "nemotron_h_moe"


@pytest.fixture(scope="session")
def tiny_models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tiny-gguf")


@pytest.fixture(scope="session")
def tiny_omni(tiny_models_dir: Path) -> TinyModel:
    """``nemotron_h_moe`` text model + mmproj with ``nemotron_v2_vl`` vision and ``parakeet`` audio."""
    model = write_nemotron_h_moe(tiny_models_dir / "tiny-nemotron-h-moe.gguf")
    mmproj = write_mmproj(tiny_models_dir / "tiny-mmproj-omni.gguf", image_size=IMAGE_SIZE)
    return TinyModel(model, mmproj)


@pytest.fixture(scope="session")
def tiny_omni_vision_only(tiny_omni: TinyModel, tiny_models_dir: Path) -> TinyModel:
    """The same text model with an mmproj that carries vision only (like some published files)."""
    mmproj = write_mmproj(tiny_models_dir / "tiny-mmproj-vision.gguf", image_size=IMAGE_SIZE, audio=False)
    return TinyModel(tiny_omni.model, mmproj)


@pytest.fixture(scope="session")
def tiny_llama(tiny_models_dir: Path) -> TinyModel:
    """A ``llama`` architecture model: valid GGUF, wrong architecture for Omnidesk."""
    return TinyModel(write_llama(tiny_models_dir / "tiny-llama.gguf"), None)


@pytest.fixture(scope="session")
def tiny_qwen25(tiny_models_dir: Path) -> TinyModel:
    """``qwen2vl`` text model + ``qwen2.5vl_merger`` mmproj (Qwen2.5-VL's pair), with its chat template."""
    model = write_qwen_text(tiny_models_dir / "tiny-qwen2.5-vl.gguf", "qwen2.5-vl")
    mmproj = write_qwen_mmproj(tiny_models_dir / "tiny-qwen2.5-vl-mmproj.gguf", "qwen2.5-vl")
    return TinyModel(model, mmproj, image_size=560, architecture="qwen2vl")


@pytest.fixture(scope="session")
def tiny_qwen3(tiny_models_dir: Path) -> TinyModel:
    """``qwen3vl`` text model (one deepstack layer) + ``qwen3vl_merger`` mmproj, Qwen3-VL-Thinking's template."""
    model = write_qwen_text(tiny_models_dir / "tiny-qwen3-vl.gguf", "qwen3-vl")
    mmproj = write_qwen_mmproj(tiny_models_dir / "tiny-qwen3-vl-mmproj.gguf", "qwen3-vl")
    return TinyModel(model, mmproj, image_size=768, architecture="qwen3vl")


@pytest.fixture(scope="session")
def tiny_qwen3_moe(tiny_qwen3: TinyModel, tiny_models_dir: Path) -> TinyModel:
    """The mixture-of-experts Qwen3-VL text model (``qwen3vlmoe``) with the same mmproj."""
    model = write_qwen_text(tiny_models_dir / "tiny-qwen3-vl-moe.gguf", "qwen3-vl-moe")
    return TinyModel(model, tiny_qwen3.mmproj, image_size=768, architecture="qwen3vlmoe")


@pytest.fixture(scope="session")
def tiny_qwen3_pixel_limits(tiny_qwen3: TinyModel, tiny_models_dir: Path) -> TinyModel:
    """Qwen3-VL with an mmproj that carries ``clip.vision.image_min/max_pixels`` (256 to 1024 tokens)."""
    mmproj = write_qwen_mmproj(
        tiny_models_dir / "tiny-qwen3-vl-mmproj-pixels.gguf",
        "qwen3-vl",
        min_pixels=256 * 32 * 32,
        max_pixels=1024 * 32 * 32,
    )
    return TinyModel(tiny_qwen3.model, mmproj, image_size=768, architecture="qwen3vl")
