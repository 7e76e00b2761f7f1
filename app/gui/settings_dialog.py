"""The settings dialog: a form generated from the typed settings, so it never drifts from them.

Each section of :class:`Settings` becomes a tab; each field a row with its description as tooltip: a
check box, a number, a choice, a text — a list of strings (the deny-list, confirm patterns) as a list
editor, a number-or-``auto`` (GPU layers) as a spin box whose lowest value reads "auto", and a secret (the
remote API key) as a password field that is never shown in clear. Dicts and other optional values stay in
the TOML file / ``omnidesk config``. Saving validates the whole object with pydantic first (and the
regular expressions of the safety lists) and names the offending key on error.
"""

from __future__ import annotations

import logging
import re
import types
import typing
from collections.abc import Collection
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QScrollArea,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from omnidesk.app.gui.list_editor import ListEditor
from omnidesk.app.settings import Settings, environment_keys

__all__ = ["SettingsDialog", "editable_fields"]

log = logging.getLogger(__name__)

_SECTIONS = {
    "agent": "Agent",
    "safety": "Safety",
    "model": "Model",
    "capture": "Capture",
    "evs": "Video sampling",
    "audio": "Audio",
    "hotkeys": "Hotkeys",
    "gui": "Window",
    "recording": "Recording",
    "accessibility": "Accessibility",
}
_SECRETS = {"remote_api_key"}  # never shown in clear
_REGEX_LISTS = {"safety.confirm_patterns", "safety.deny_windows"}
_AUTO = -1  # the spin box value that stands for "auto"


def _plain(annotation: Any) -> tuple[Any, bool]:
    """The field's type without ``| None``, and whether None is allowed."""
    origin = get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return annotation, False


def _is_str_list(kind: Any) -> bool:
    return get_origin(kind) is list and get_args(kind) == (str,)


def _is_int_or_auto(kind: Any) -> bool:
    if get_origin(kind) not in (typing.Union, types.UnionType):
        return False
    args = get_args(kind)
    return int in args and any(get_origin(a) is Literal and get_args(a) == ("auto",) for a in args)


def editable_fields(section: type[BaseModel]) -> list[tuple[str, FieldInfo, Any]]:
    """(name, field, plain type) of the fields the dialog can edit in ``section``."""
    fields = []
    for name, info in section.model_fields.items():
        kind, optional = _plain(info.annotation)
        simple = kind in (bool, int, float, str, Path) or get_origin(kind) is Literal
        simple = simple or _is_str_list(kind) or _is_int_or_auto(kind)
        if optional and kind is not Path:
            simple = False  # "unset" has no widget; such fields stay in the file
        if simple:
            fields.append((name, info, kind))
    return fields


def _bounds(info: FieldInfo) -> tuple[float | None, float | None]:
    low = high = None
    for meta in info.metadata:
        if isinstance(meta, Ge | Gt):
            low = float(meta.ge if isinstance(meta, Ge) else meta.gt)  # type: ignore[arg-type]
        if isinstance(meta, Le | Lt):
            high = float(meta.le if isinstance(meta, Le) else meta.lt)  # type: ignore[arg-type]
    return low, high


class SettingsDialog(QDialog):
    """Edits a copy of the settings; :meth:`result_settings` holds the validated result after Save."""

    def __init__(
        self, settings: Settings, parent: QWidget | None = None, *, fixed: Collection[str] | None = None
    ) -> None:
        """``fixed``: keys set by ``OMNIDESK_*`` variables (default: this process's environment); they win
        over the file, so their editors are shown disabled, saying which variable sets them, and a save
        keeps the file's own values for them (see ``settings_apply.for_the_file``)."""
        super().__init__(parent)
        self.fixed = frozenset(environment_keys() if fixed is None else fixed)
        self.setWindowTitle("Omnidesk settings")
        self.setMinimumSize(640, 480)
        self._original = settings
        self._result: Settings | None = None
        self.editors: dict[str, QWidget] = {}
        self.forget_key_box: QCheckBox | None = None  # under the API key field
        self.tabs = QTabWidget(self)
        for section, title in _SECTIONS.items():
            self.tabs.addTab(self._section_page(section), title)
        bar = self.tabs.tabBar()
        assert bar is not None  # a QTabWidget always has its bar
        self.setMinimumWidth(max(640, bar.sizeHint().width() + 40))  # every tab in sight
        self.fixed_label = QLabel(self)
        self.fixed_label.setObjectName("settings_fixed")
        self.fixed_label.setWordWrap(True)
        shown = sorted(self.fixed & self.editors.keys())
        if shown:
            self.fixed_label.setText(
                "Set by environment variables, which win over this dialog: "
                + ", ".join(f"{key} ({_variable(key)})" for key in shown)
                + ". Their fields are greyed out; unset the variables and start Omnidesk again to edit them here."
            )
        self.fixed_label.setVisible(bool(shown))
        self.error_label = QLabel(self)
        self.error_label.setObjectName("settings_error")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #ff8a80")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, self)
        self.save_button = buttons.button(QDialogButtonBox.StandardButton.Save)
        buttons.accepted.connect(self._on_save)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.fixed_label)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.error_label)
        layout.addWidget(buttons)

    def result_settings(self) -> Settings | None:
        return self._result

    def forget_key(self) -> bool:
        """Whether the person asked to remove the engine URL's stored API key."""
        return self.forget_key_box is not None and self.forget_key_box.isChecked()

    def _section_page(self, section: str) -> QWidget:
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        page = QWidget(scroll)
        scroll.setWidget(page)
        form = QFormLayout(page)
        model = getattr(self._original, section)
        for name, info, kind in editable_fields(type(model)):
            editor = _editor(kind, info, getattr(model, name), page)
            if name in _SECRETS and isinstance(editor, QLineEdit):
                editor.setEchoMode(QLineEdit.EchoMode.Password)
                # The key lives in the system keyring (runtime/api_keys.py), kept per engine: the field shows
                # none, a typed one is stored for the engine URL on Save, an empty field leaves it as it is.
                editor.setPlaceholderText("kept in the system keyring: type a key to store it for this URL")
            editor.setObjectName(f"{section}.{name}")
            editor.setToolTip(info.description or "")
            label = QLabel(name.replace("_", " ").capitalize(), page)
            label.setToolTip(info.description or "")
            if f"{section}.{name}" in self.fixed:
                editor.setEnabled(False)
                editor.setToolTip(f"Set by {_variable(f'{section}.{name}')}; unset it to change this here.")
                label.setText(f"{label.text()} (set by the environment)")
                label.setToolTip(editor.toolTip())
            form.addRow(label, editor)
            self.editors[f"{section}.{name}"] = editor
            if name in _SECRETS and isinstance(editor, QLineEdit):
                forget = QCheckBox("Remove the key stored in the keyring for this engine URL", page)
                forget.setObjectName(f"{section}.{name}.forget")
                fixed = f"{section}.{name}" in self.fixed
                forget.toggled.connect(lambda on, e=editor, f=fixed: e.setEnabled(not on and not f))
                form.addRow("", forget)
                self.forget_key_box = forget
        return scroll

    def values(self) -> dict[str, Any]:
        """The settings as a dict with the edited values put in."""
        data = self._original.model_dump(mode="python")
        for key, editor in self.editors.items():
            section, name = key.split(".")
            data[section][name] = _value(editor, data[section][name])
        return data

    def _on_save(self) -> None:
        problems = self._regex_problems()
        try:
            self._result = Settings.model_validate(self.values())
        except ValidationError as exc:
            problems += [".".join(str(p) for p in e["loc"]) + ": " + e["msg"] for e in exc.errors()]
        if problems:
            self._result = None
            self.error_label.setText(f"Not saved — {'; '.join(problems)}")
            return
        self.accept()

    def _regex_problems(self) -> list[str]:
        problems = []
        for key in sorted(_REGEX_LISTS & self.editors.keys()):
            editor = self.editors[key]
            assert isinstance(editor, ListEditor)
            for pattern in editor.values():
                try:
                    re.compile(pattern)
                except re.error as exc:
                    problems.append(f"{key}: {pattern!r} is not a valid regular expression ({exc})")
        return problems


def _variable(key: str) -> str:
    """The environment variable that sets ``section.name``."""
    section, _, name = key.partition(".")
    return f"OMNIDESK_{section.upper()}__{name.upper()}"


def _editor(kind: Any, info: FieldInfo, value: Any, parent: QWidget) -> QWidget:
    if _is_str_list(kind):
        return ListEditor([str(v) for v in value], parent)
    if _is_int_or_auto(kind):
        auto = QSpinBox(parent)
        auto.setRange(_AUTO, 999)
        auto.setSpecialValueText("auto")
        auto.setValue(_AUTO if value == "auto" else int(value))
        return auto
    if kind is bool:
        box = QCheckBox(parent)
        box.setChecked(bool(value))
        return box
    if get_origin(kind) is Literal:
        combo = QComboBox(parent)
        combo.addItems([str(choice) for choice in get_args(kind)])
        combo.setCurrentText(str(value))
        return combo
    low, high = _bounds(info)
    if kind is int:
        spin = QSpinBox(parent)
        spin.setRange(int(low if low is not None else -(2**31)), int(high if high is not None else 2**31 - 1))
        spin.setValue(int(value))
        return spin
    if kind is float:
        dspin = QDoubleSpinBox(parent)
        dspin.setDecimals(3)
        dspin.setRange(low if low is not None else -1e9, high if high is not None else 1e9)
        dspin.setValue(float(value))
        return dspin
    edit = QLineEdit("" if value is None else str(value), parent)
    return edit


def _value(editor: QWidget, old: Any) -> Any:
    if isinstance(editor, ListEditor):
        return editor.values()
    if isinstance(editor, QSpinBox) and editor.specialValueText() == "auto":
        return "auto" if editor.value() == _AUTO else editor.value()
    if isinstance(editor, QCheckBox):
        return editor.isChecked()
    if isinstance(editor, QComboBox):
        return editor.currentText()
    if isinstance(editor, QSpinBox | QDoubleSpinBox):
        return editor.value()
    assert isinstance(editor, QLineEdit)
    text = editor.text()
    if old is None or isinstance(old, Path):
        return Path(text) if text else None
    return text
