"""A new user's first run, inside the window: from an empty data directory to a first answer.

The window is built by the GUI's composition root (``open_gui``, what ``omnidesk`` runs) on the rig's X
server. The model comes from a local HTTP mirror of the Hub (``tests/models/hub_server.py``) serving a tiny
generated GGUF and mmproj under the real repository's file names; Omnidesk is pointed at the mirror the way
a person would point it at one, with the ``model.hub_endpoint`` setting (here through its environment
variable). Every step is a click; every wait is on a signal.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PyQt6.QtCore import Qt

from omnidesk.agent.ports import Step
from omnidesk.app.gui.app import GuiSession, open_gui, qt_monitors
from omnidesk.app.gui.model_setup import ModelSetup
from omnidesk.app.settings import AppPaths, load_settings
from omnidesk.runtime.hub_download import DownloadProgress
from tests.models.hub_server import HubState, hub_server
from tests.models.llama_server import llama_server
from tests.models.plugin import TinyModel

pytestmark = [pytest.mark.desktop, pytest.mark.model]

REPO = "ggml-org/NVIDIA-Nemotron-3-Nano-Omni"
MODEL_FILE = "NVIDIA-Nemotron-3-Nano-Omni-Q4_K_M.gguf"
NAME = "nemotron-3-nano-omni-Q4_K_M"


def mirror_of(tiny: TinyModel) -> dict[str, dict[str, Path]]:
    """The published repository's layout, with the tiny model's bytes."""
    assert tiny.mmproj is not None
    return {
        REPO: {
            MODEL_FILE: tiny.model,
            "NVIDIA-Nemotron-3-Nano-Omni-Q8_0.gguf": tiny.model,
            "mmproj-NVIDIA-Nemotron-3-Nano-Omni-f16.gguf": tiny.mmproj,
        }
    }


def open_first_run(qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, endpoint: str) -> GuiSession:  # type: ignore[no-untyped-def]
    """The window on an empty data dir, shown, with the downloads listed."""
    monkeypatch.setenv("OMNIDESK_MODEL__HUB_ENDPOINT", endpoint)
    monkeypatch.setenv("OMNIDESK_AGENT__MAX_OUTPUT_TOKENS", "32")  # a short first answer keeps the test lean
    paths = AppPaths(tmp_path / "config", tmp_path / "data", tmp_path / "run")
    session = open_gui(load_settings(paths), paths)
    setup = session.window.model_area.setup
    assert isinstance(setup, ModelSetup)
    with qtbot.waitSignals(
        [setup.choices_listed, setup.busy_changed],
        check_params_cbs=[None, lambda busy: not busy],
        timeout=60_000,
    ):
        session.start()
    return session


def test_first_run_from_an_empty_data_dir_to_a_first_answer(
    qtbot, qapp, tiny_omni: TinyModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with hub_server(mirror_of(tiny_omni)) as (endpoint, requests):
        session = open_first_run(qtbot, tmp_path, monkeypatch, endpoint)
        window, area = session.window, session.window.model_area
        panel, setup, bar = area.panel, area.setup, window.task_bar
        assert isinstance(setup, ModelSetup)
        try:
            # No model: the setup is the window's first page, and Run says why it waits.
            assert not (tmp_path / "data" / "models").exists()
            assert area.showing_setup and window.loader.state == "missing"
            assert not bar.run_button.isEnabled() and "No model yet" in bar.run_button.toolTip()
            rows = [panel.choices.topLevelItem(i) for i in range(panel.choices.topLevelItemCount())]
            assert [r.text(0) for r in rows] == [
                "NVIDIA Nemotron 3 Nano Omni · Q4_K_M — recommended",
                "NVIDIA Nemotron 3 Nano Omni · Q8_0",
            ]
            assert rows[0].text(2) in ("fits in RAM (CPU)", "fits on the GPU", "fits (GPU + RAM)")
            assert "per step" in rows[0].text(3) and "This machine:" in panel.machine_label.text()
            primary = next(m.geometry for m in qt_monitors() if m.primary)  # the monitor the estimate counts
            assert f"{primary.width}×{primary.height} monitor" in panel.machine_label.text()
            chosen = panel.selected_choice()
            assert (
                chosen is not None
                and chosen.offer.quant == "Q4_K_M"
                and "per step (3 screenshots" in chosen.explanation
                and "non-thinking: about" in chosen.explanation
            )

            # Download: progress arrives, the files are checked, the model loads — Run becomes enabled.
            seen: list[DownloadProgress] = []
            setup.progress.connect(seen.append)
            with qtbot.waitSignals([setup.download_ended, window.loader.idle], order="strict", timeout=120_000):
                qtbot.mouseClick(panel.download_button, Qt.MouseButton.LeftButton)
            assert seen and seen[-1].done == seen[-1].total == chosen.offer.total_bytes
            assert window.loader.state == "ready", window.model_label.text()
            assert window.model_label.text() == "Model: omnidesk-tiny-nemotron-h-moe · ready"
            assert not area.showing_setup and bar.run_button.isEnabled()
            folder = tmp_path / "data" / "models" / NAME
            assert (folder / MODEL_FILE).read_bytes() == tiny_omni.model.read_bytes()
            saved = load_settings(AppPaths(tmp_path / "config", tmp_path / "data", tmp_path / "run"), environment=False)
            assert saved.model.model == NAME and saved.model.mmproj is not None and saved.model.hub_endpoint == ""

            # A first task, as a dry run: the downloaded model sees the real screen and answers.
            bar.dry_run_box.setChecked(True)
            bar.task_edit.setText("press the OK button")
            with qtbot.waitSignal(window.controller.stepped, timeout=120_000) as stepped:
                qtbot.mouseClick(bar.run_button, Qt.MouseButton.LeftButton)
            step = stepped.args[0]
            assert isinstance(step, Step) and step.raw_output and step.prompt_tokens > 0
            assert step.observation is not None and step.observation.images[0].kind == "overview"
            assert step.status in ("planned", "model_error") and window.timeline.steps()[0] is step
            with qtbot.waitSignal(window.controller.run_finished, timeout=60_000):
                window.controller.stop()
        finally:
            window.close()
            session.close()
    assert any(r.startswith(f"GET /{REPO}/resolve/") and MODEL_FILE in r for r in requests)


def test_a_cancelled_download_continues_where_it_stopped(
    qtbot, qapp, tiny_omni: TinyModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = HubState()
    with hub_server(mirror_of(tiny_omni), state=state) as (endpoint, requests):
        session = open_first_run(qtbot, tmp_path, monkeypatch, endpoint)
        state.throttle = 120_000  # a slow mirror from now on: there is time to press Cancel
        window, panel, setup = session.window, session.window.model_area.panel, session.window.model_area.setup
        assert isinstance(setup, ModelSetup)
        try:
            with qtbot.waitSignal(setup.progress, check_params_cb=lambda p: p.done > 50_000, timeout=30_000):
                qtbot.mouseClick(panel.download_button, Qt.MouseButton.LeftButton)
            assert panel.cancel_button.isEnabled() and not panel.download_button.isEnabled()
            assert "KiB/s" in panel.progress_label.text() or "MiB/s" in panel.progress_label.text()
            with qtbot.waitSignals(
                [setup.download_ended, setup.busy_changed], check_params_cbs=[None, lambda busy: not busy]
            ) as ended:
                qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
            outcome = next(s.args for s in ended.all_signals_and_args if s.signal_name.startswith("download_ended"))
            assert outcome == ("cancelled", "") and "kept" in panel.progress_label.text()
            part = tmp_path / "data" / "models" / f".{NAME}.partial" / f"{MODEL_FILE}.part"
            kept = part.stat().st_size
            assert 50_000 < kept < tiny_omni.model.stat().st_size
            assert window.loader.state == "missing" and not window.task_bar.run_button.isEnabled()

            state.throttle = None
            with qtbot.waitSignals([setup.download_ended, window.loader.idle], order="strict", timeout=120_000):
                qtbot.mouseClick(panel.download_button, Qt.MouseButton.LeftButton)
            assert window.loader.state == "ready" and window.task_bar.run_button.isEnabled()
        finally:
            window.close()
            session.close()
    downloads = [
        r for r in requests if r.startswith(f"GET /{REPO}/resolve/") and MODEL_FILE in r and "-2097151" not in r
    ]
    assert downloads[-1].endswith(f"bytes={kept}-"), downloads  # continued, not started over


def test_an_engine_url_is_tested_on_the_spot_and_used(
    qtbot, qapp, tiny_omni: TinyModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Or a remote engine: the real llama.cpp server (xllamacpp) on loopback, and a URL nobody answers."""
    with (
        hub_server(mirror_of(tiny_omni)) as (endpoint, _),
        llama_server(tiny_omni.model, tiny_omni.mmproj, n_ctx=8192) as url,
    ):
        session = open_first_run(qtbot, tmp_path, monkeypatch, endpoint)
        window, panel, setup = session.window, session.window.model_area.panel, session.window.model_area.setup
        assert isinstance(setup, ModelSetup)
        try:
            qtbot.keyClicks(panel.url_edit, "http://127.0.0.1:9")
            with qtbot.waitSignals([setup.probe_failed, setup.busy_changed], check_params_cbs=[None, lambda b: not b]):
                qtbot.mouseClick(panel.test_button, Qt.MouseButton.LeftButton)
            assert "cannot reach http://127.0.0.1:9" in panel.engine_label.text()
            assert "check the URL and that the engine runs" in panel.engine_label.text()
            assert not panel.use_engine_button.isEnabled() and window.loader.state == "missing"

            panel.url_edit.clear()
            qtbot.keyClicks(panel.url_edit, url)
            with qtbot.waitSignals(
                [setup.probed, setup.busy_changed], check_params_cbs=[None, lambda b: not b], timeout=30_000
            ) as probed:
                qtbot.mouseClick(panel.test_button, Qt.MouseButton.LeftButton)
            served = next(s.args[1] for s in probed.all_signals_and_args if s.signal_name.startswith("probed"))
            assert served and f"{url} answers and serves {served[0]}" in panel.engine_label.text()
            # Loopback: the screen never leaves the machine, so no consent question; the engine is used.
            with qtbot.waitSignal(window.loader.idle, timeout=60_000):
                qtbot.mouseClick(panel.use_engine_button, Qt.MouseButton.LeftButton)
            assert window.loader.state == "ready" and window.task_bar.run_button.isEnabled()
            saved = load_settings(AppPaths(tmp_path / "config", tmp_path / "data", tmp_path / "run"), environment=False)
            assert saved.model.remote_url == url and saved.model.remote_model == served[0]

            window.task_bar.dry_run_box.setChecked(True)
            window.task_bar.task_edit.setText("press the OK button")
            with qtbot.waitSignal(window.controller.stepped, timeout=120_000) as stepped:
                qtbot.mouseClick(window.task_bar.run_button, Qt.MouseButton.LeftButton)
            step = stepped.args[0]
            assert (
                isinstance(step, Step) and step.prompt_tokens > 0 and step.completion_tokens > 0
            )  # the engine answered
            with qtbot.waitSignal(window.controller.run_finished, timeout=60_000):
                window.controller.stop()
        finally:
            window.close()
            session.close()
