"""How each llama.cpp build sizes whole screenshots, per projector (the table in docs/models.md).

Three views of the same numbers must agree: :class:`~omnidesk.agent.canvas.ImageCanvas` (Omnidesk's replica of
libmtmd's arithmetic, which the agent and ``doctor`` use), libmtmd in-process (llama-cpp-python 0.3.36's build,
as Omnidesk opens it and as the build sizes on its own) and llama.cpp's server (xllamacpp b11549, which counts
a prompt's tokens without encoding its images: ``/v1/chat/completions/input_tokens``). Only tokenizing runs
here — no image is encoded — so 4K screenshots cost little.

The one place the builds differ: an mmproj carrying ``clip.vision.image_min/max_pixels``. The server honours
the keys; the bundled build ignores them, so Omnidesk passes them to it as token limits.
"""

from __future__ import annotations

import httpx
import pytest

from omnidesk.agent.ports import ChatMessage, ImagePart, ModelRequest, TextPart
from omnidesk.runtime.llama.engine import Engine, EngineOptions, MediaItem
from omnidesk.runtime.llama.gguf_file import read_gguf
from omnidesk.runtime.llama.projector import image_canvas
from omnidesk.runtime.llama.prompt import MEDIA_MARKER, RenderedPrompt
from omnidesk.runtime.llama.session import OmniSession, SessionProfile
from omnidesk.runtime.remote import encode_messages
from tests.models.llama_server import llama_server
from tests.models.parity import screenshot
from tests.models.plugin import TinyModel
from tests.models.tiny_gguf import write_mmproj

pytestmark = pytest.mark.model

SIZES = {"1080p": (1920, 1080), "4k": (3840, 2160)}
# projector fixture → size → (canvas w, canvas h, tokens) for the server and Omnidesk; the bundled build
# on its own only differs for the mmproj with pixel keys (last column).
TABLE: dict[str, dict[str, tuple[int, int, int, int]]] = {
    "nemotron_v2_vl": {"1080p": (512, 512, 256, 256), "4k": (512, 512, 256, 256)},
    "qwen2.5vl_merger": {"1080p": (1932, 1092, 2691, 2691), "4k": (2380, 1344, 4080, 4080)},
    "qwen3vl_merger": {"1080p": (1920, 1088, 2040, 2040), "4k": (2720, 1536, 4080, 4080)},
    "qwen3vl_merger+pixel-keys": {"1080p": (1344, 768, 1008, 2040), "4k": (1344, 768, 1008, 4080)},
}


@pytest.fixture(scope="module")
def nemotron_published_canvas(tiny_omni: TinyModel, tmp_path_factory: pytest.TempPathFactory) -> TinyModel:
    """The tiny Nemotron text model with an mmproj of the published geometry (512² canvas, patch 16)."""
    folder = tmp_path_factory.mktemp("nemotron-512")
    mmproj = write_mmproj(folder / "mmproj-512.gguf", image_size=512, patch_size=16, audio=False)
    return TinyModel(tiny_omni.model, mmproj, image_size=512)


@pytest.fixture(scope="module")
def projectors(
    nemotron_published_canvas: TinyModel,
    tiny_qwen25: TinyModel,
    tiny_qwen3: TinyModel,
    tiny_qwen3_pixel_limits: TinyModel,
) -> dict[str, TinyModel]:
    return {
        "nemotron_v2_vl": nemotron_published_canvas,
        "qwen2.5vl_merger": tiny_qwen25,
        "qwen3vl_merger": tiny_qwen3,
        "qwen3vl_merger+pixel-keys": tiny_qwen3_pixel_limits,
    }


def _image_tokens(engine: Engine, image: ImagePart) -> int:
    with engine.tokenize(RenderedPrompt(f"{MEDIA_MARKER}Q", (image,))) as prompt:
        media = [item for item in prompt.items if isinstance(item, MediaItem)]
    assert len(media) == 1
    return media[0].n_tokens


def _request(image: ImagePart) -> tuple[ChatMessage, ...]:
    return (ChatMessage("user", (image, TextPart("Q"))),)


@pytest.fixture(scope="module")
def screenshots() -> dict[str, ImagePart]:
    return {name: screenshot(w, h, 7) for name, (w, h) in SIZES.items()}


@pytest.mark.parametrize("projector", list(TABLE))
def test_replica_libmtmd_and_the_server_size_alike(
    projector: str, projectors: dict[str, TinyModel], screenshots: dict[str, ImagePart]
) -> None:
    tiny = projectors[projector]
    assert tiny.mmproj is not None
    canvas = image_canvas(read_gguf(tiny.mmproj))
    assert canvas is not None
    profile = SessionProfile(architectures=(tiny.architecture,))
    with (
        OmniSession.open(tiny.model, tiny.mmproj, profile=profile, n_ctx=8192, flash_attn=False) as session,
        llama_server(tiny.model, tiny.mmproj, n_ctx=8192, media_marker=MEDIA_MARKER) as url,
    ):
        bundled = Engine(tiny.model, tiny.mmproj, EngineOptions(n_ctx=512))  # the build's own defaults
        try:
            for size, image in screenshots.items():
                width, height, tokens, bundled_tokens = TABLE[projector][size]
                view = canvas.view(*SIZES[size])
                assert (view.width, view.height, view.tokens) == (width, height, tokens)
                request = ModelRequest(_request(image), enable_thinking=False)
                total, media = session.count_tokens(request)
                assert media == [tokens]
                assert _image_tokens(bundled, image) == bundled_tokens
                counted = httpx.post(
                    f"{url}/v1/chat/completions/input_tokens",
                    json={
                        "messages": encode_messages(request.messages),
                        "chat_template_kwargs": {"enable_thinking": False},
                    },
                    timeout=120,
                ).raise_for_status()
                assert counted.json()["input_tokens"] == total
                print(f"SIZING {projector} {size}: canvas {width}x{height}, {tokens} tokens (bundled {bundled_tokens})")
        finally:
            bundled.close()


def test_replica_content_boxes() -> None:
    """Where the picture lies on the canvas (the letterbox / padding), worked out in the llama.cpp notes."""
    from omnidesk.agent.canvas import ImageCanvas

    nemotron = ImageCanvas("nemotron_v2_vl", "fixed", 16, 2, side=512)
    qwen25 = ImageCanvas("qwen2.5vl_merger", "dynamic", 14, 2, min_pixels=8 * 784, max_pixels=4096 * 784)
    qwen3 = ImageCanvas("qwen3vl_merger", "dynamic", 16, 2, min_pixels=8 * 1024, max_pixels=4096 * 1024)
    cases = [
        (nemotron, (1920, 1080), (512, 512, 0, 112, 512, 288)),
        (qwen25, (1920, 1080), (1932, 1092, 0, 2, 1932, 1087)),
        (qwen25, (3840, 2160), (2380, 1344, 0, 2, 2380, 1339)),
        (qwen25, (1920, 1088), (1932, 1092, 2, 0, 1928, 1092)),
        (qwen25, (1932, 1092), (1932, 1092, 0, 0, 1932, 1092)),
        (qwen3, (1920, 1080), (1920, 1088, 0, 4, 1920, 1080)),
        (qwen3, (3840, 2160), (2720, 1536, 0, 3, 2720, 1530)),
        (qwen3, (2560, 1440), (2560, 1440, 0, 0, 2560, 1440)),
        (qwen3, (1280, 720), (1280, 736, 0, 8, 1280, 720)),
    ]
    for rule, size, expected in cases:
        view = rule.view(*size)
        c = view.content
        assert (view.width, view.height, c.x, c.y, c.width, c.height) == expected, (rule.projector, size)
    assert not qwen3.view(2560, 1440).letterboxed and nemotron.view(1920, 1080).letterboxed
