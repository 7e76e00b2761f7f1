"""The Automations panel: saved tasks and recorded runs to start with one click (or a hotkey, or the tray)."""

from __future__ import annotations

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from omnidesk.app.gui.automation_store import Automation

__all__ = ["AutomationsPanel"]


class AutomationsPanel(QWidget):
    """Shows automations; the window owns the store and reacts to the signals.

    Signals:
        run_requested(object): run this :class:`Automation` now.
        save_requested(str): save the task in the task box under this name (a prompt automation).
        save_replay_requested(str): save the last finished run (or the one selected in History) under this
            name, to replay without the model.
        delete_requested(str): delete the automation with this name.
        show_me_requested(): start teaching by showing a task ("Show me"), or stop it.
    """

    run_requested = pyqtSignal(object)
    save_requested = pyqtSignal(str)
    save_replay_requested = pyqtSignal(str)
    delete_requested = pyqtSignal(str)
    show_me_requested = pyqtSignal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("automations")
        self.list = QListWidget(self)
        self.list.setAlternatingRowColors(True)
        self.run_button = QPushButton("Run", self)
        self.run_button.setObjectName("run_automation")
        self.delete_button = QPushButton("Delete", self)
        self.name_edit = QLineEdit(self)
        self.name_edit.setPlaceholderText("Name for the new automation…")
        self.kind_box = QComboBox(self)
        self.kind_box.addItem("Task in the task box (runs with the model)", "prompt")
        self.kind_box.addItem("Last finished run (replays without the model)", "replay")
        self.save_button = QPushButton("Save", self)
        self.show_me_button = QPushButton("Show me", self)
        self.show_me_button.setObjectName("show_me")
        self.show_me_button.setToolTip("Do a task once while Omnidesk watches and listens; it becomes an automation")
        self.show_me_button.clicked.connect(self.show_me_requested.emit)
        hint = QLabel("Bind one to a global hotkey in Settings → Hotkeys (automations).", self)
        hint.setObjectName("section_title")
        hint.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.run_button)
        row.addWidget(self.delete_button)
        row.addStretch(1)
        row.addWidget(self.show_me_button)
        save = QHBoxLayout()
        save.addWidget(self.name_edit, 1)
        save.addWidget(self.kind_box)
        save.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list, 1)
        layout.addLayout(row)
        layout.addLayout(save)
        layout.addWidget(hint)
        self.run_button.clicked.connect(self._on_run)
        self.list.itemDoubleClicked.connect(lambda _item: self._on_run())
        self.delete_button.clicked.connect(self._on_delete)
        self.save_button.clicked.connect(self._on_save)
        self.name_edit.returnPressed.connect(self._on_save)
        self.list.currentItemChanged.connect(lambda *_: self._update_buttons())
        self._update_buttons()

    def set_teaching(self, state: str) -> None:
        """Show me's label for teach mode's state: idle, recording, reading or reviewing."""
        self.show_me_button.setText("Stop showing" if state == "recording" else "Show me")
        self.show_me_button.setEnabled(state in ("idle", "recording"))

    def show_automations(self, automations: list[Automation]) -> None:
        self.list.clear()
        for automation in automations:
            flags = " · dry run" if automation.dry_run else ""
            flags += " · replay, no model" if automation.kind == "replay" else ""
            item = QListWidgetItem(f"{automation.name}{flags}\n    {automation.task}")
            item.setData(Qt.ItemDataRole.UserRole, automation)
            item.setToolTip(automation.task)
            self.list.addItem(item)
        self._update_buttons()

    def selected(self) -> Automation | None:
        item = self.list.currentItem()
        value = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        return value if isinstance(value, Automation) else None

    def select(self, name: str) -> None:
        for row in range(self.list.count()):
            item = self.list.item(row)
            automation = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
            if isinstance(automation, Automation) and automation.name == name:
                self.list.setCurrentRow(row)

    def _update_buttons(self) -> None:
        chosen = self.selected() is not None
        self.run_button.setEnabled(chosen)
        self.delete_button.setEnabled(chosen)

    def _on_run(self) -> None:
        automation = self.selected()
        if automation is not None:
            self.run_requested.emit(automation)

    def _on_delete(self) -> None:
        automation = self.selected()
        if automation is not None:
            self.delete_requested.emit(automation.name)

    def _on_save(self) -> None:
        name = self.name_edit.text().strip()
        if name:
            replay = self.kind_box.currentData() == "replay"
            (self.save_replay_requested if replay else self.save_requested).emit(name)
            self.name_edit.clear()
