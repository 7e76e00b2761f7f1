"""Model downloads from a local Hub mirror, verify and remove."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from omnidesk.agent.errors import ConfigError, ModelError, ModelFileError
from omnidesk.agent.ports import CancelToken
from omnidesk.runtime.hub_download import DownloadProgress, SpeedMeter
from omnidesk.runtime.model_store import MANIFEST, ModelStore
from omnidesk.runtime.profiles import ModelProfile, load_profile
from tests.models.hub_server import HubState, hub_server
from tests.models.plugin import TinyModel

REPO = "omnidesk-test/tiny-omni"


def _profile() -> ModelProfile:
    base = load_profile("nemotron-3-nano-omni")
    assert base.download is not None
    download = base.download.model_copy(update={"repo": REPO})
    return base.model_copy(update={"download": download})


def _repo(tiny: TinyModel) -> dict[str, dict[str, Path]]:
    assert tiny.mmproj is not None
    return {
        REPO: {
            "tiny-omni-Q4_K_M.gguf": tiny.model,
            "tiny-omni-Q8_0.gguf": tiny.model,
            "mmproj-tiny-omni-f16.gguf": tiny.mmproj,
            "README.md": tiny.model.parent / "README.md",
        }
    }


@pytest.fixture()
def repo(tiny_omni: TinyModel) -> dict[str, dict[str, Path]]:
    (tiny_omni.model.parent / "README.md").write_text("tiny test repo\n", encoding="utf-8")
    return _repo(tiny_omni)


def test_pull_list_verify_remove(repo: dict[str, dict[str, Path]], tmp_path: Path, tiny_omni: TinyModel) -> None:
    store_dir = tmp_path / "models"
    with hub_server(repo) as (endpoint, requests):
        store = ModelStore(store_dir, endpoint=endpoint)
        stored = store.pull(_profile(), "Q4_K_M")
    assert stored.name == "nemotron-3-nano-omni-Q4_K_M"
    from huggingface_hub import constants

    assert constants.HF_HUB_DISABLE_XET  # plain HTTP downloads
    assert stored.model is not None and stored.model.name == "tiny-omni-Q4_K_M.gguf"
    assert stored.mmproj is not None and stored.mmproj.name == "mmproj-tiny-omni-f16.gguf"
    assert stored.model.read_bytes() == tiny_omni.model.read_bytes()
    assert stored.manifest["revision"] and len(stored.manifest["files"]) == 2
    assert not any("Q8_0" in r or "README" in r for r in requests if r.startswith("GET /omnidesk"))
    assert [m.name for m in store.installed()] == [stored.name]
    assert store.verify(stored.name).ok
    # the manifest (repo, revision, what was pulled) and the model's folder are the person's alone
    assert stat.S_IMODE((stored.folder / MANIFEST).stat().st_mode) == 0o600
    assert stat.S_IMODE(stored.folder.stat().st_mode) == 0o700

    # A flipped byte in a tensor is caught by the checksum; a cut file by the header check too.
    data = bytearray(stored.model.read_bytes())
    data[-10] ^= 0xFF
    stored.model.write_bytes(bytes(data))
    report = store.verify(stored.name)
    assert not report.ok and any("corrupt" in p for p in report.problems)
    stored.model.write_bytes(bytes(data[: len(data) // 2]))
    report = store.verify(stored.name)
    assert not report.ok and any("truncated" in p for p in report.problems)

    freed = store.remove(stored.name)
    assert freed > 0 and store.installed() == []
    with pytest.raises(ConfigError, match="no model named"):
        store.verify(stored.name)


def test_unknown_quant_lists_what_there_is(repo: dict[str, dict[str, Path]], tmp_path: Path) -> None:
    with (
        hub_server(repo) as (endpoint, _),
        pytest.raises(ModelError, match=r"no file matching.*tiny-omni-Q8_0.gguf"),
    ):
        ModelStore(tmp_path, endpoint=endpoint).pull(_profile(), "IQ1_S")


def test_unreachable_hub_says_what_to_check(tmp_path: Path) -> None:
    with hub_server({}) as (endpoint, _), pytest.raises(ModelError, match="check the network"):
        ModelStore(tmp_path, endpoint=endpoint).pull(_profile(), "Q4_K_M")


def test_wrong_architecture_download_is_refused(tiny_llama: TinyModel, tiny_omni: TinyModel, tmp_path: Path) -> None:
    assert tiny_omni.mmproj is not None
    repo = {REPO: {"llama-Q4_K_M.gguf": tiny_llama.model, "mmproj-x.gguf": tiny_omni.mmproj}}
    with hub_server(repo) as (endpoint, requests), pytest.raises(ModelError, match=r"'llama' model.*nothing was"):
        ModelStore(tmp_path, endpoint=endpoint).pull(_profile(), "Q4_K_M")
    assert all("bytes=" in r for r in requests if r.startswith("GET /omnidesk"))  # only its header was read
    # Nothing half-installed is left behind.
    assert ModelStore(tmp_path).installed() == [] and list(tmp_path.iterdir()) == []


# --- resumable downloads, progress, cancel, and what goes wrong -------------------------------------------


def _model_gets(requests: list[str]) -> list[str]:
    """The mirror's body requests for the Q4_K_M model file (header reads and downloads)."""
    return [r for r in requests if r.startswith("GET") and "tiny-omni-Q4_K_M.gguf" in r]


def _downloads(requests: list[str]) -> list[str]:
    """The model file's downloads: whole, or continued from a byte (header reads ask for closed ranges)."""
    return [r for r in _model_gets(requests) if r.endswith(".gguf") or r.endswith("-")]


def test_offers_list_each_quant_with_sizes_and_read_headers_by_ranges(
    repo: dict[str, dict[str, Path]], tmp_path: Path, tiny_omni: TinyModel
) -> None:
    with hub_server(repo) as (endpoint, requests):
        store = ModelStore(tmp_path, endpoint=endpoint)
        offers = store.catalog.offers(_profile())
        assert [(o.quant, o.model.name, o.mmproj and o.mmproj.name) for o in offers] == [
            ("Q4_K_M", "tiny-omni-Q4_K_M.gguf", "mmproj-tiny-omni-f16.gguf"),
            ("Q8_0", "tiny-omni-Q8_0.gguf", "mmproj-tiny-omni-f16.gguf"),
        ]
        assert offers[0].total_bytes == tiny_omni.model.stat().st_size + tiny_omni.mmproj.stat().st_size  # type: ignore[union-attr]
        header = store.catalog.header(offers[0].model)
    assert header.architecture == "nemotron_h_moe" and header.file_size == tiny_omni.model.stat().st_size
    assert all("bytes=" in r for r in _model_gets(requests))  # parts of the file, never a whole download


def test_cancel_keeps_the_part_and_the_next_pull_continues_with_a_range(
    repo: dict[str, dict[str, Path]], tmp_path: Path, tiny_omni: TinyModel
) -> None:
    state = HubState(throttle=200_000)
    cancel = CancelToken()
    seen: list[DownloadProgress] = []

    def progress(p: DownloadProgress) -> None:
        seen.append(p)
        if p.file_done > 100_000:
            cancel.cancel()

    with hub_server(repo, state=state) as (endpoint, requests):
        store = ModelStore(tmp_path, endpoint=endpoint)
        offer = store.catalog.offer(_profile(), "Q4_K_M")
        assert store.install(offer, progress=progress, cancel=cancel) is None
        kept = store.partial_bytes(offer)
        assert 100_000 < kept < offer.model.size
        assert store.installed() == []
        state.throttle = None
        seen.clear()
        stored = store.install(offer, progress=seen.append)
    assert stored is not None and store.verify(stored.name).ok
    assert stored.model is not None and stored.model.read_bytes() == tiny_omni.model.read_bytes()
    assert _downloads(requests)[-1].endswith(f"bytes={kept}-"), requests  # continued, not started over
    assert seen[0].done == kept and seen[-1].done == seen[-1].total == offer.total_bytes
    assert [p.filename for p in seen][-1] == "mmproj-tiny-omni-f16.gguf"
    assert not list(tmp_path.glob(".*.partial"))  # the finished download took its name


def test_a_lost_connection_keeps_what_arrived_and_says_so(repo: dict[str, dict[str, Path]], tmp_path: Path) -> None:
    state = HubState(drop_after=150_000)
    with hub_server(repo, state=state) as (endpoint, requests):
        store = ModelStore(tmp_path, endpoint=endpoint)
        offer = store.catalog.offer(_profile(), "Q4_K_M")
        with pytest.raises(ModelError, match=r"check the network.*already downloaded are kept"):
            store.install(offer)
        assert store.partial_bytes(offer) == 150_000
        stored = store.install(offer)
    assert stored is not None and store.verify(stored.name).ok
    assert _downloads(requests)[-1].endswith("bytes=150000-")


def test_a_download_corrupted_on_the_way_is_caught_and_deleted(
    repo: dict[str, dict[str, Path]], tmp_path: Path
) -> None:
    state = HubState(corrupt={"tiny-omni-Q4_K_M.gguf"})
    with hub_server(repo, state=state) as (endpoint, _):
        store = ModelStore(tmp_path, endpoint=endpoint)
        offer = store.catalog.offer(_profile(), "Q4_K_M")
        with pytest.raises(ModelFileError, match=r"arrived corrupt.*download it again"):
            store.install(offer)
        assert store.partial_bytes(offer) == 0 and store.installed() == []
        state.corrupt.clear()
        stored = store.install(offer)
    assert stored is not None and store.verify(stored.name).ok


def test_not_enough_disk_space_is_said_before_downloading(repo: dict[str, dict[str, Path]], tmp_path: Path) -> None:
    with hub_server(repo) as (endpoint, requests):
        store = ModelStore(tmp_path, endpoint=endpoint, disk_free=lambda folder: 1000)
        offer = store.catalog.offer(_profile(), "Q4_K_M")
        with pytest.raises(ModelError, match=r"not enough disk space.*free up space"):
            store.install(offer)
    assert _downloads(requests) == []  # no download started


def test_speed_is_measured_over_recent_seconds() -> None:
    now = [0.0]
    meter = SpeedMeter(window=2.0, clock=lambda: now[0])
    assert meter.add(1000) == 0.0  # one sample: no speed yet (resumed bytes do not count)
    for second in range(1, 6):
        now[0] = float(second)
        speed = meter.add(1000 + second * 500)
    assert speed == pytest.approx(500)
    now[0] = 6.0
    assert meter.add(1000 + 5 * 500 + 4000) == pytest.approx((4000 + 500) / 2, rel=0.01)
