"""The settings dialog: generated from the typed settings, validated before it saves the TOML file."""

from __future__ import annotations

from pathlib import Path

import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QLineEdit, QSpinBox

from omnidesk.agent.config import SafetyConfig
from omnidesk.app.gui.list_editor import ListEditor
from omnidesk.app.gui.main_window import MainWindow
from omnidesk.app.gui.model_loader import ModelStatus
from omnidesk.app.gui.settings_dialog import SettingsDialog, editable_fields
from omnidesk.app.settings import AppPaths, GuiConfig, Settings, environment_keys, load_settings, save_settings
from omnidesk.runtime.api_keys import SERVICE, ApiKeyStore
from omnidesk.runtime.config import CaptureConfig, EvsConfig, ModelConfig
from tests.app.gui.scripts import MONITOR, ScriptedRun
from tests.runtime.test_secrets_keyring import MemoryKeyring

pytestmark = pytest.mark.desktop


def test_fields_the_form_can_edit() -> None:
    gui = [name for name, _info, _kind in editable_fields(GuiConfig)]
    assert gui == ["preview_fps", "hide_during_run", "voice_countdown_seconds"]
    model = [name for name, _info, _kind in editable_fields(ModelConfig)]
    assert {"gpu_layers", "remote_confirmed", "remote_api_key", "hub_endpoint"} <= set(model)
    assert "mmproj" in model  # an optional path is a text field (empty = unset)
    assert "prune_rate" not in [n for n, _i, _k in editable_fields(EvsConfig)]  # optional number
    assert "scale" not in [n for n, _i, _k in editable_fields(CaptureConfig)]  # a dict: the file only


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
    deny = dialog.editors["safety.deny_windows"]
    assert isinstance(deny, ListEditor) and deny.values() == SafetyConfig().deny_windows
    layers = dialog.editors["model.gpu_layers"]
    assert isinstance(layers, QSpinBox) and layers.text() == "auto"
    key = dialog.editors["model.remote_api_key"]
    assert isinstance(key, QLineEdit) and key.echoMode() == QLineEdit.EchoMode.Password


def _window(qtbot, tmp_path: Path, api_keys: ApiKeyStore | None = None) -> tuple[MainWindow, AppPaths]:
    paths = AppPaths(tmp_path / "config", tmp_path / "data", tmp_path / "run")
    window = MainWindow(Settings(), ScriptedRun([]), monitors=[MONITOR], paths=paths, api_keys=api_keys)
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


def test_lists_gpu_layers_and_the_api_key_are_edited_and_saved(qtbot, tmp_path: Path) -> None:
    keyring = MemoryKeyring()
    window, paths = _window(qtbot, tmp_path, ApiKeyStore(backend=keyring))
    window.task_bar.settings_button.click()
    dialog = window.settings_dialog
    assert dialog is not None
    deny = dialog.editors["safety.deny_windows"]
    patterns = dialog.editors["safety.confirm_patterns"]
    assert isinstance(deny, ListEditor) and isinstance(patterns, ListEditor)
    deny.add_row("Secret Notes")
    deny.list.setCurrentRow(0)  # "KeePass"
    qtbot.mouseClick(deny.remove_button, Qt.MouseButton.LeftButton)
    item = patterns.add_row()
    item.setText(r"\btransfer\b")
    patterns.add_row("   ")  # an empty row is dropped, not saved as a pattern that matches everything
    dialog.editors["model.gpu_layers"].setValue(12)
    dialog.editors["model.remote_url"].setText("http://gpu-server.invalid:8000")
    dialog.editors["model.remote_api_key"].setText("sk-test")
    with qtbot.waitSignal(dialog.accepted, timeout=2000):
        dialog.save_button.click()
    saved = load_settings(paths)
    # The key goes into the keyring for that engine, never into the settings file (issue 14, finding 11).
    assert keyring.data == {(SERVICE, "http://gpu-server.invalid:8000"): "sk-test"}
    assert "sk-test" not in paths.settings_file.read_text()
    assert saved.safety.deny_windows == [*SafetyConfig().deny_windows[1:], "Secret Notes"]
    assert saved.safety.confirm_patterns == [*SafetyConfig().confirm_patterns, r"\btransfer\b"]
    assert saved.model.gpu_layers == 12 and saved.model.remote_api_key == ""
    assert window.settings.safety.deny_windows == saved.safety.deny_windows

    window.task_bar.settings_button.click()
    dialog = window.settings_dialog
    assert dialog is not None and dialog.editors["model.gpu_layers"].value() == 12
    # The key is not held in the window's settings: the field shows none, and pointing the engine URL
    # elsewhere does not take the key along (it stays stored for the engine it was typed for).
    key = dialog.editors["model.remote_api_key"]
    assert isinstance(key, QLineEdit) and key.text() == "" and "system keyring" in key.placeholderText()
    assert window.settings.model.remote_api_key == ""
    dialog.editors["model.gpu_layers"].setValue(-1)  # the lowest value reads "auto"
    dialog.editors["model.remote_url"].setText("http://other-server.invalid:8000")
    with qtbot.waitSignal(dialog.accepted, timeout=2000):
        dialog.save_button.click()
    assert load_settings(paths).model.gpu_layers == "auto"
    assert keyring.data == {(SERVICE, "http://gpu-server.invalid:8000"): "sk-test"}

    # Back on the first engine, the person removes its stored key: ticking the box greys the field out.
    window.task_bar.settings_button.click()
    dialog = window.settings_dialog
    assert dialog is not None and dialog.forget_key_box is not None
    dialog.editors["model.remote_url"].setText("http://gpu-server.invalid:8000")
    dialog.forget_key_box.setChecked(True)
    assert not dialog.editors["model.remote_api_key"].isEnabled()
    dialog.forget_key_box.setChecked(False)
    assert dialog.editors["model.remote_api_key"].isEnabled()
    dialog.forget_key_box.setChecked(True)
    with qtbot.waitSignal(dialog.accepted, timeout=2000):
        dialog.save_button.click()
    assert keyring.data == {} and load_settings(paths).model.remote_url == "http://gpu-server.invalid:8000"


def test_a_bad_regular_expression_is_named_and_not_saved(qtbot, tmp_path: Path) -> None:
    window, paths = _window(qtbot, tmp_path)
    window.task_bar.settings_button.click()
    dialog = window.settings_dialog
    assert dialog is not None
    deny = dialog.editors["safety.deny_windows"]
    assert isinstance(deny, ListEditor)
    deny.add_row("Vault (")
    dialog.save_button.click()
    assert dialog.isVisible() and not paths.settings_file.exists()
    assert "safety.deny_windows: 'Vault (' is not a valid regular expression" in dialog.error_label.text()


class CountingLoads:
    """A status source that counts its loads and says which settings it loaded."""

    def __init__(self) -> None:
        self.loads = 0

    def __call__(self, cancel):  # type: ignore[no-untyped-def]
        self.loads += 1
        yield ModelStatus("ready", f"model #{self.loads} · ready")


def test_a_model_change_reloads_now_or_after_the_run(qtbot, tmp_path: Path) -> None:
    paths = AppPaths(tmp_path / "config", tmp_path / "data", tmp_path / "run")
    source, given = CountingLoads(), []
    run = ScriptedRun([], hang=True)
    window = MainWindow(
        Settings(), run, monitors=[MONITOR], paths=paths, status_source=source, on_settings_changed=given.append
    )
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.loader.idle, timeout=5000):
        window.start_status_source()
    changed = Settings()
    changed.model.gpu_layers = 8
    with qtbot.waitSignal(window.loader.idle, timeout=5000):
        window.apply_settings(changed)
        said = window.state_label.text()
    assert source.loads == 2 and given == [changed] and "the model is reloading" in said
    assert window.model_label.text() == "Model: model #2 · ready"

    only_quant = changed.model_copy(deep=True)
    only_quant.model.quant = "Q8_0"  # the next download's choice: the loaded model stays
    window.apply_settings(only_quant)
    assert source.loads == 2

    window.task_bar.task_edit.setText("go")
    window.task_bar.run_button.click()
    qtbot.waitUntil(run.generating.is_set, timeout=5000)
    during = only_quant.model_copy(deep=True)
    during.model.context_length = 4096
    window.apply_settings(during)
    assert "the model reloads after this run" in window.state_label.text() and source.loads == 2
    with qtbot.waitSignals([window.controller.run_finished, window.loader.idle], order="strict", timeout=5000):
        window.controller.stop()
    assert source.loads == 3


def test_a_setting_fixed_by_the_environment_is_shown_fixed(qtbot) -> None:
    dialog = SettingsDialog(Settings(), fixed=environment_keys({"OMNIDESK_MODEL__MMPROJ": "/m.gguf", "HOME": "/x"}))
    qtbot.addWidget(dialog)
    mmproj = dialog.editors["model.mmproj"]
    assert not mmproj.isEnabled() and "OMNIDESK_MODEL__MMPROJ" in mmproj.toolTip()
    assert dialog.editors["model.model"].isEnabled()
    assert "model.mmproj (OMNIDESK_MODEL__MMPROJ)" in dialog.fixed_label.text()
    assert not dialog.fixed_label.isHidden()


def test_a_save_keeps_the_files_own_value_where_the_environment_sets_one(
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The environment wins while it is set; saving other settings never writes its value into the file."""
    paths = AppPaths(tmp_path / "config", tmp_path / "data", tmp_path / "run")
    on_file = Settings()
    on_file.model.model = "nemotron-omni"
    save_settings(on_file, paths)
    monkeypatch.setenv("OMNIDESK_MODEL__MODEL", "/elsewhere/other.gguf")
    window = MainWindow(load_settings(paths), ScriptedRun([]), monitors=[MONITOR], paths=paths)
    qtbot.addWidget(window)
    window.task_bar.settings_button.click()
    dialog = window.settings_dialog
    assert dialog is not None
    fixed = dialog.editors["model.model"]
    assert isinstance(fixed, QLineEdit) and fixed.text() == "/elsewhere/other.gguf" and not fixed.isEnabled()
    assert "OMNIDESK_MODEL__MODEL" in dialog.fixed_label.text()
    dialog.editors["safety.max_steps"].setValue(12)
    dialog.editors["accessibility.enabled"].setChecked(False)
    with qtbot.waitSignal(dialog.accepted, timeout=2000):
        dialog.save_button.click()
    saved = load_settings(paths, environment=False)
    assert saved.model.model == "nemotron-omni" and saved.safety.max_steps == 12
    assert saved.accessibility.enabled is False
    assert window.settings.model.model == "/elsewhere/other.gguf" and window.settings.safety.max_steps == 12
    assert "changes to safety, accessibility apply from the next run" in window.state_label.text()
    assert "the model is reloading" not in window.state_label.text()
