"""An editor for a list of short strings (the deny-list, confirm patterns): add, edit in place, remove."""

from __future__ import annotations

from collections.abc import Sequence

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QHBoxLayout, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget

__all__ = ["ListEditor"]

_EDITABLE = Qt.ItemFlag.ItemIsEditable | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEnabled


class ListEditor(QWidget):
    """One entry per row; double-click (or Add) edits a row; empty rows are dropped by :meth:`values`."""

    def __init__(self, values: Sequence[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.list = QListWidget(self)
        self.list.setAlternatingRowColors(True)
        self.add_button = QPushButton("Add", self)
        self.remove_button = QPushButton("Remove", self)
        buttons = QVBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        self.add_button.clicked.connect(self._on_add)
        self.remove_button.clicked.connect(self.remove_selected)
        self.list.currentRowChanged.connect(lambda row: self.remove_button.setEnabled(row >= 0))
        self.set_values(values)

    def set_values(self, values: Sequence[str]) -> None:
        self.list.clear()
        for value in values:
            self._append(value)
        self.remove_button.setEnabled(False)
        row = max(self.list.sizeHintForRow(0), self.fontMetrics().height() + 6)
        self.list.setFixedHeight(row * min(6, max(3, len(values) + 1)) + 2 * self.list.frameWidth() + 4)

    def values(self) -> list[str]:
        rows = (self.list.item(i) for i in range(self.list.count()))
        return [text for item in rows if item is not None and (text := item.text().strip())]

    def add_row(self, text: str = "") -> QListWidgetItem:
        """Append a row and start editing it (``text`` prefilled)."""
        item = self._append(text)
        self.list.setCurrentItem(item)
        self.list.editItem(item)
        return item

    def _on_add(self) -> None:
        self.add_row()

    def remove_selected(self) -> None:
        row = self.list.currentRow()
        if row >= 0:
            self.list.takeItem(row)

    def _append(self, text: str) -> QListWidgetItem:
        item = QListWidgetItem(text, self.list)
        item.setFlags(_EDITABLE)
        return item
