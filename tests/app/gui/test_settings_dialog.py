"""The settings dialog: generated from the typed settings, validated before it saves the TOML file."""

from __future__ import annotations

from pathlib import Path

import pytest
from PyQt6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QLineEdit, QSpinBox

from omnidesk.app.gui.main_window import MainWindow
from omnidesk.app.gui.settings_dialog import SettingsDialog, editable_fields
from omnidesk.app.settings import AppPaths, GuiConfig, Settings, load_settings
from omnidesk.runtime.config import EvsConfig, ModelConfig
from tests.app.gui.scripts import MONITOR, ScriptedRun

pytestmark = pytest.mark.desktop


def test_fields_the_form_can_edit() -> None:
    gui = [name for name, _info, _kind in editable_fields(GuiConfig)]
    assert gui == ["preview_fps", "hide_during_run", "voice_countdown_seconds"]
    model = [name for name, _info, _kind in editable_fields(ModelConfig)]
    assert "remote_api_key" not in model  # never shown in clear
    assert "gpu_layers" not in model and "remote_confirmed" not in model  # int|"auto", lists: file only
    assert "mmproj" in model  # an optional path is a text field (empty = unset)
    assert "prune_rate" not in [n for n, _i, _k in editable_fields(EvsConfig)]  # optional number


def test_widgets_match_types_and_bounds(qtbot) -> None:
    dialog = SettingsDialog(Settings())
    qtbot.addWidget(dialog)
    assert isinstance(dialog.editors["gui.hide_during_run"], QCheckBox)
    steps = dialog.editors["safety.max_steps"]
    assert isinstance(steps, QSpinBox) and (steps.minimum(), steps.maximum(), steps.value()) == (1, 1000, 30)
    assert isinstance(dialog.editors["gui.preview_fps"], QDoubleSpinBox)
    assert isinstance(dialog.editors["recording.codec"], QComboBox)
    assert isinstance(dialog.editors["model.mmproj"], QLineEdit)
    assert dialog.editors["safety.max_steps"].toolTip() == "Stop a run after this many steps."


def _window(qtbot, tmp_path: Path) -> tuple[MainWindow, AppPaths]:
    paths = AppPaths(tmp_path / "config", tmp_path / "data", tmp_path / "run")
    window = MainWindow(Settings(), ScriptedRun([]), monitors=[MONITOR], paths=paths)
    qtbot.addWidget(window)
    window.show()
    return window, paths


def test_save_writes_the_settings_file_and_the_window_uses_them(qtbot, tmp_path: Path) -> None:
    window, paths = _window(qtbot, tmp_path)
    window.task_bar.settings_button.click()
    dialog = window.settings_dialog
    assert dialog is not None and dialog.isVisible()
    dialog.editors["gui.hide_during_run"].setChecked(False)
    dialog.editors["safety.max_steps"].setValue(12)
    dialog.editors["model.model"].setText("nemotron-omni")
    with qtbot.waitSignal(dialog.accepted, timeout=2000):
        dialog.save_button.click()
    saved = load_settings(paths)
    assert saved.gui.hide_during_run is False and saved.safety.max_steps == 12
    assert saved.model.model == "nemotron-omni" and saved.model.mmproj is None
    assert window.settings.safety.max_steps == 12
    assert "Settings saved" in window.state_label.text()


def test_invalid_values_name_the_key_and_nothing_is_saved(qtbot, tmp_path: Path) -> None:
    window, paths = _window(qtbot, tmp_path)
    window.task_bar.settings_button.click()
    dialog = window.settings_dialog
    assert dialog is not None
    dialog.editors["model.remote_url"].setText("ftp://example.org")
    dialog.editors["hotkeys.pause_resume"].setText("shift+alt+ctrl+k")  # the kill switch's keys
    dialog.save_button.click()
    assert dialog.isVisible()
    assert "model.remote_url" in dialog.error_label.text() and "hotkeys" in dialog.error_label.text()
    assert not paths.settings_file.exists()
