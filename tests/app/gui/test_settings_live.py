"""Settings changes apply without a restart, in the window built by the GUI's composition root.

The real pieces: the tiny llama.cpp model loaded in-process, the privacy-masked capture of the rig's X
server, a real window of another program (the Qt target app), the settings dialog clicked through.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QLineEdit

from omnidesk.agent.ports import Step
from omnidesk.app.gui.app import GuiSession, open_gui
from omnidesk.app.gui.list_editor import ListEditor
from omnidesk.app.gui.settings_dialog import SettingsDialog
from omnidesk.app.settings import AppPaths, Settings, load_settings, save_settings
from tests.models.plugin import TinyModel
from tests.rig.plugin import Launcher
from tests.rig.target_client import TargetApp

pytestmark = [pytest.mark.desktop, pytest.mark.model]


def _open(qtbot, tmp_path: Path, tiny: TinyModel) -> GuiSession:  # type: ignore[no-untyped-def]
    """The window with the tiny model set up in the settings file (as the first run leaves it), loaded."""
    assert tiny.mmproj is not None
    paths = AppPaths(tmp_path / "config", tmp_path / "data", tmp_path / "run")
    settings = Settings()
    settings.model.model, settings.model.mmproj = str(tiny.model), tiny.mmproj
    settings.agent.max_output_tokens = 16  # short answers keep the test lean
    settings.gui.hide_during_run = False
    save_settings(settings, paths)
    session = open_gui(load_settings(paths), paths)
    with qtbot.waitSignal(session.window.loader.idle, timeout=60_000):
        session.start()
    assert session.window.loader.state == "ready", session.window.model_label.text()
    return session


def _first_step(qtbot, session: GuiSession) -> Step:  # type: ignore[no-untyped-def]
    """Run a dry-run task, take its first step, stop the run."""
    window = session.window
    window.task_bar.dry_run_box.setChecked(True)
    window.task_bar.task_edit.setText("look at the screen")
    with qtbot.waitSignal(window.controller.stepped, timeout=120_000) as stepped:
        qtbot.mouseClick(window.task_bar.run_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(window.controller.run_finished, timeout=60_000):
        window.controller.stop()
    step = stepped.args[0]
    assert isinstance(step, Step)
    return step


def _window_centre(step: Step, app: TargetApp) -> np.ndarray:
    """The overview's pixel at the centre of the target app's window."""
    assert step.observation is not None
    overview = step.observation.images[0]
    x, y, w, h = app.widget_rect("window")
    ix, iy = overview.transform.desktop_to_image(x + w / 2, y + h / 2)
    return overview.pixels[int(iy), int(ix)]


def _edit_settings(qtbot, session: GuiSession) -> SettingsDialog:  # type: ignore[no-untyped-def]
    qtbot.mouseClick(session.window.task_bar.settings_button, Qt.MouseButton.LeftButton)
    dialog = session.window.settings_dialog
    assert isinstance(dialog, SettingsDialog) and dialog.isVisible()
    return dialog


def test_a_deny_list_change_masks_the_next_frame_and_a_model_change_reloads(
    qtbot,
    qapp,
    tiny_omni: TinyModel,
    tiny_omni_vision_only: TinyModel,
    target_app: Launcher,
    tmp_path: Path,
) -> None:
    app = target_app(x=1320, y=600, width=560, height=400, title="Secret Notes")  # beside Omnidesk (masked)
    session = _open(qtbot, tmp_path, tiny_omni)
    window = session.window
    try:
        before = _window_centre(_first_step(qtbot, session), app)
        assert before.max() > 0  # the other program's window is in the picture the model sees

        # Settings → Safety: add the window to the deny-list, save. No restart.
        dialog = _edit_settings(qtbot, session)
        deny = dialog.editors["safety.deny_windows"]
        assert isinstance(deny, ListEditor)
        deny.add_row("Secret Notes")
        with qtbot.waitSignal(dialog.accepted, timeout=5000):
            qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
        assert "changes to safety apply from the next run" in window.state_label.text()
        after = _window_centre(_first_step(qtbot, session), app)
        assert after.max() == 0  # blacked out in the very next frame

        # Settings → Model: another mmproj (vision only). The model reloads on its worker.
        assert tiny_omni_vision_only.mmproj is not None
        dialog = _edit_settings(qtbot, session)
        mmproj = dialog.editors["model.mmproj"]
        assert isinstance(mmproj, QLineEdit)
        mmproj.setText(str(tiny_omni_vision_only.mmproj))
        statuses: list[str] = []
        window.loader.status.connect(lambda status: statuses.append(f"{status.state}: {status.text}"))
        with qtbot.waitSignals([dialog.accepted, window.loader.idle], order="strict", timeout=60_000):
            qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
        assert statuses[0].startswith("loading") and statuses[-1].endswith("· ready"), statuses
        assert any("unloading" in s for s in statuses)
        assert session.agent_runner is not None
        problem = session.agent_runner.hearing_problem()
        assert problem is not None and "no audio encoder" in problem  # the new mmproj is in use
        assert window.task_bar.run_button.isEnabled()
    finally:
        window.close()
        session.close()
