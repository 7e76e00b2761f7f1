"""Pytest plugin: session fixtures with tiny random-weight GGUF models (generated in milliseconds)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.models.tiny_gguf import write_llama, write_mmproj, write_nemotron_h_moe

__all__ = ["TinyModel", "tiny_llama", "tiny_omni", "tiny_omni_vision_only"]

IMAGE_SIZE = 32


@dataclass(frozen=True, slots=True)
class TinyModel:
    """A text model GGUF and (optionally) its mmproj."""

    model: Path
    mmproj: Path | None
    image_size: int = IMAGE_SIZE


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
