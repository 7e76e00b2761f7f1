"""In-process llama.cpp equals llama.cpp's own server on the same OpenAI request, for each real architecture.

For Nemotron (``nemotron_h_moe`` + ``nemotron_v2_vl``), Qwen2.5-VL (``qwen2vl`` + ``qwen2.5vl_merger``), Qwen3-VL
(``qwen3vl`` + ``qwen3vl_merger`` with deepstack) and Qwen3-VL with an mmproj carrying pixel limits, a request
with three whole, non-square screenshots (1080p, then 4K) in the trained computer-use layout, thinking on and
off, goes to :class:`OmniSession` (llama-cpp-python's llama.cpp) and to the xllamacpp server (a newer llama.cpp
build, its version pinned in pyproject). Equal: the ``/apply-template`` text (the server runs with
``LLAMA_MEDIA_MARKER=<__media__>``), ``usage.prompt_tokens``, and the first token's top-10 log-probabilities by
token id (|Δ| ≤ 1e-3).

Both engines run without flash attention: the two builds' flash-attention kernels round differently, and a
tiny random-weight model amplifies that (up to 0.5 in a log-probability, and as much between a batched and a
one-token evaluation in the same build); without it their arithmetic is the same, so any difference left is in
what the model was given.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from omnidesk.runtime.llama.prompt import MEDIA_MARKER
from omnidesk.runtime.llama.session import OmniSession, SessionProfile
from tests.models.llama_server import llama_server
from tests.models.parity import ask_server, incomplete_utf8_tokens, three_step_request
from tests.models.plugin import TinyModel

pytestmark = [pytest.mark.model, pytest.mark.slow]
log = logging.getLogger(__name__)

FIXTURES = {
    "nemotron": "tiny_omni",
    "qwen2.5-vl": "tiny_qwen25",
    "qwen3-vl": "tiny_qwen3",
    "qwen3-vl-pixel-limits": "tiny_qwen3_pixel_limits",
}
SIZES = {"1080p": (1920, 1080), "4k": (3840, 2160)}
N_CTX = 13312  # three 4K screenshots on Qwen: 3 × 4080 image tokens and the text (12,976 tokens)
TOLERANCE = 1e-3


@dataclass(frozen=True, slots=True)
class Engines:
    name: str
    session: OmniSession
    url: str
    client: httpx.Client
    banned: list[int]


@pytest.fixture(scope="module", params=list(FIXTURES))
def engines(request: pytest.FixtureRequest) -> Iterator[Engines]:
    tiny: TinyModel = request.getfixturevalue(FIXTURES[request.param])
    profile = SessionProfile(architectures=(tiny.architecture,))
    with (
        OmniSession.open(
            tiny.model, tiny.mmproj, profile=profile, n_ctx=N_CTX, n_batch=2048, n_ubatch=512, flash_attn=False
        ) as session,
        llama_server(tiny.model, tiny.mmproj, n_ctx=N_CTX, media_marker=MEDIA_MARKER, flash_attn=False) as url,
        httpx.Client(timeout=300) as client,
    ):
        yield Engines(request.param, session, url, client, incomplete_utf8_tokens(session))


# Thinking varies fastest: the second request of a size shares its prefix with the first in both engines.
@pytest.mark.parametrize("thinking", [True, False], ids=["thinking", "no-thinking"])
@pytest.mark.parametrize("size", list(SIZES))
def test_same_prompt_tokens_and_logprobs_as_the_server(engines: Engines, size: str, thinking: bool) -> None:
    request = three_step_request(*SIZES[size], thinking=thinking)
    server = ask_server(engines.client, engines.url, request, engines.banned)
    prompt = engines.session.prompt_text(request)
    n_tokens, ours = engines.session.first_token_logprobs(request, top=20)
    ours_by_id = dict(ours)
    deltas = [abs(ours_by_id[token] - value) for token, value in server.top_logprobs if token in ours_by_id]
    worst = max(deltas, default=float("inf"))
    print(
        f"PARITY {engines.name} {size} thinking={thinking}: template equal={prompt == server.prompt}, "
        f"prompt_tokens {n_tokens} / {server.prompt_tokens}, max |Δlogprob| {worst:.2e}"
    )
    assert prompt == server.prompt
    assert prompt.count(MEDIA_MARKER) == 3
    assert n_tokens == server.prompt_tokens
    assert len(deltas) == len(server.top_logprobs) == 10, "a top-10 token of the server is not in ours"
    assert worst <= TOLERANCE
    # The same ten tokens, except where the tenth and eleventh are tied within the tolerance.
    server_ids = {token for token, _ in server.top_logprobs}
    missing = [(token, value) for token, value in ours[:10] if token not in server_ids]
    assert all(abs(value - server.top_logprobs[-1][1]) <= TOLERANCE for _, value in missing), missing
