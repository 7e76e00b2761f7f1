"""The setup panel's errors, each shown with what to do, nothing lost: a full disk, a lost connection, a
download damaged on the way, a repository with the wrong model; and an engine URL tested on the spot.

The panel and :class:`ModelSetup` run as in the window (their worker threads, the real model store), against
the local Hub mirror; the disk's free space is the one thing passed in.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QWidget

from omnidesk.app.doctor_model import measure_machine
from omnidesk.app.gui.confirmer import QtConfirmer
from omnidesk.app.gui.model_area import ModelArea
from omnidesk.app.gui.model_loader import ModelLoader
from omnidesk.app.gui.model_setup import ModelSetup
from omnidesk.app.settings import AppPaths, Settings, load_settings
from omnidesk.runtime.model_store import ModelStore
from omnidesk.runtime.system_probe import probe_remote
from tests.models.hub_server import HubState, hub_server
from tests.models.plugin import TinyModel

pytestmark = pytest.mark.desktop

REPO = "ggml-org/NVIDIA-Nemotron-3-Nano-Omni"
MODEL_FILE = "NVIDIA-Nemotron-3-Nano-Omni-Q4_K_M.gguf"


class Harness:
    """The model area (panel + setup + loader) on the mirror, the way the window wires it."""

    def __init__(self, qtbot, tmp_path: Path, endpoint: str, *, disk_free: int | None = None) -> None:  # type: ignore[no-untyped-def]
        self.paths = AppPaths(tmp_path / "config", tmp_path / "data", tmp_path / "run")
        self.settings = settings = Settings()
        settings.model.hub_endpoint = endpoint
        free = None if disk_free is None else (lambda folder: disk_free)

        def store(current: Settings) -> ModelStore:
            return ModelStore(self.paths.models_dir, endpoint=current.model.hub_endpoint, disk_free=free)

        machine = measure_machine()
        self.setup = ModelSetup(lambda: settings, self.paths, store, probe_remote, machine=lambda: machine)
        self.loader = ModelLoader(None, QtConfirmer())
        self.area = ModelArea(QWidget(), self.loader, self.setup)
        self.panel = self.area.panel
        qtbot.addWidget(self.area)
        self.area.show()
        with qtbot.waitSignal(self.setup.busy_changed, check_params_cb=lambda busy: not busy, timeout=30_000):
            self.area.show_setup()

    def download(self, qtbot) -> list[str]:  # type: ignore[no-untyped-def]
        with qtbot.waitSignals(
            [self.setup.download_ended, self.setup.busy_changed], check_params_cbs=[None, lambda b: not b]
        ) as blocker:
            qtbot.mouseClick(self.panel.download_button, Qt.MouseButton.LeftButton)
        return next(list(s.args) for s in blocker.all_signals_and_args if s.signal_name.startswith("download_ended"))

    def partial(self) -> Path:
        return self.paths.models_dir / ".nemotron-3-nano-omni-Q4_K_M.partial" / f"{MODEL_FILE}.part"


@pytest.fixture
def mirror(tiny_omni: TinyModel) -> dict[str, dict[str, Path]]:
    assert tiny_omni.mmproj is not None
    return {REPO: {MODEL_FILE: tiny_omni.model, "mmproj-NVIDIA-Nemotron-3-Nano-Omni-f16.gguf": tiny_omni.mmproj}}


@pytest.fixture
def hub(mirror: dict[str, dict[str, Path]]) -> Iterator[tuple[str, HubState]]:
    state = HubState()
    with hub_server(mirror, state=state) as (endpoint, _requests):
        yield endpoint, state


def test_not_enough_disk_space_is_said_before_anything_is_downloaded(qtbot, tmp_path: Path, hub) -> None:  # type: ignore[no-untyped-def]
    endpoint, _ = hub
    h = Harness(qtbot, tmp_path, endpoint, disk_free=10_000)
    outcome, message = h.download(qtbot)
    assert outcome == "failed" and "not enough disk space" in message and "free up space" in message
    assert h.panel.error_label.text() == message and h.panel.download_button.isEnabled()
    assert not h.partial().exists()


def test_a_lost_connection_keeps_what_arrived_and_download_continues_it(qtbot, tmp_path: Path, hub) -> None:  # type: ignore[no-untyped-def]
    endpoint, state = hub
    h = Harness(qtbot, tmp_path, endpoint)
    state.drop_after = 100_000
    outcome, message = h.download(qtbot)
    assert outcome == "failed" and "check the network" in message and "kept" in message
    assert h.partial().stat().st_size == 100_000
    assert h.download(qtbot) == ["installed", ""]
    assert load_settings(h.paths, environment=False).model.model == "nemotron-3-nano-omni-Q4_K_M"


def test_a_download_damaged_on_the_way_is_deleted_and_said(qtbot, tmp_path: Path, hub) -> None:  # type: ignore[no-untyped-def]
    endpoint, state = hub
    h = Harness(qtbot, tmp_path, endpoint)
    state.corrupt.add(MODEL_FILE)
    outcome, message = h.download(qtbot)
    assert outcome == "failed" and "arrived corrupt" in message and "download it again" in message
    assert not h.partial().exists() and not h.paths.settings_file.exists()


def test_a_repository_with_the_wrong_model_is_refused_before_downloading(
    qtbot, tmp_path: Path, tiny_llama: TinyModel, tiny_omni: TinyModel
) -> None:  # type: ignore[no-untyped-def]
    assert tiny_omni.mmproj is not None
    wrong = {REPO: {MODEL_FILE: tiny_llama.model, "mmproj-NVIDIA-Nemotron-3-Nano-Omni-f16.gguf": tiny_omni.mmproj}}
    with hub_server(wrong) as (endpoint, requests):
        h = Harness(qtbot, tmp_path, endpoint)
        outcome, message = h.download(qtbot)
    assert outcome == "failed" and "'llama' model" in message and "nothing was downloaded" in message
    assert not any(r.endswith(MODEL_FILE) for r in requests)  # only its header was read, by ranges


def test_an_unreachable_hub_says_what_to_check_and_lists_again(qtbot, tmp_path: Path, hub) -> None:  # type: ignore[no-untyped-def]
    endpoint, _ = hub
    h = Harness(qtbot, tmp_path, "http://127.0.0.1:9")  # a mirror that is down: refused at once
    assert "check the network" in h.panel.error_label.text() and h.panel.retry_button.isVisible()
    assert h.panel.choices.topLevelItemCount() == 0 and not h.panel.download_button.isEnabled()
    h.settings.model.hub_endpoint = endpoint  # the person fixes the mirror in Settings
    with qtbot.waitSignal(h.setup.choices_listed, timeout=30_000):
        qtbot.mouseClick(h.panel.retry_button, Qt.MouseButton.LeftButton)
    assert h.panel.choices.topLevelItemCount() == 1 and not h.panel.retry_button.isVisible()
    assert h.panel.error_label.text() == ""
