"""Model downloads from a local Hub mirror, verify and remove."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from omnidesk.agent.errors import ConfigError, ModelError
from omnidesk.runtime.model_store import MANIFEST, ModelStore
from omnidesk.runtime.profiles import ModelProfile, load_profile
from tests.models.hub_server import hub_server
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
    with hub_server(repo) as (endpoint, _), pytest.raises(ModelError, match="'llama' model"):
        ModelStore(tmp_path, endpoint=endpoint).pull(_profile(), "Q4_K_M")
    # Nothing half-installed is left behind.
    assert ModelStore(tmp_path).installed() == [] and list(tmp_path.iterdir()) == []
