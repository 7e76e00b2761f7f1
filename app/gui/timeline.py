"""The step timeline: one row per step (action, status, time); selecting a row shows that step."""

from __future__ import annotations

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtGui import QBrush, QColor
from PyQt6.QtWidgets import QAbstractItemView, QHeaderView, QTreeWidget, QTreeWidgetItem, QWidget

from omnidesk.agent.describe import describe_actions
from omnidesk.agent.ports import Step
from omnidesk.app.gui.describe import describe_timings

__all__ = ["TimelineWidget"]

_STATUS_COLOURS = {
    "acted": QColor(70, 170, 90),
    "planned": QColor(90, 140, 220),
    "refused": QColor(220, 120, 40),
    "model_error": QColor(210, 70, 70),
    "finished": QColor(70, 170, 90),
    "stopped": QColor(150, 150, 150),
    "handed_over": QColor(150, 110, 200),
}


class TimelineWidget(QTreeWidget):
    """Steps in order; follows the newest step unless the person selected an older one.

    Signals:
        step_selected(object): the :class:`Step` of the row the person selected.
    """

    step_selected = pyqtSignal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("timeline")
        self.setColumnCount(4)
        self.setHeaderLabels(["#", "Action", "Status", "Time"])
        self.setRootIsDecorated(False)
        self.setUniformRowHeights(True)
        self.setAlternatingRowColors(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.header()
        assert header is not None
        header.setStretchLastSection(False)
        # Fixed widths: ResizeToContents measures every row on each insert (cost grows with the run).
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        for column, sample in ((0, "000"), (2, "model error"), (3, "00.00 s")):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Fixed)
            self.setColumnWidth(column, self.fontMetrics().horizontalAdvance(sample) + 24)
        self.currentItemChanged.connect(self._on_current_changed)

    def add_step(self, step: Step) -> None:
        follow = self._following()
        item = QTreeWidgetItem(
            [
                str(step.index),
                describe_actions(step.actions, step.target),
                step.status.replace("_", " "),
                describe_timings(step.timings).split(" (")[0],
            ]
        )
        item.setData(0, Qt.ItemDataRole.UserRole, step)
        item.setForeground(2, QBrush(_STATUS_COLOURS.get(step.status, QColor(150, 150, 150))))
        tip = "\n\n".join(t for t in (step.reasoning, step.result, step.error) if t)
        for column in range(4):
            item.setToolTip(column, tip or describe_actions(step.actions, step.target))
        self.addTopLevelItem(item)
        if follow:
            self.setCurrentItem(item)
            self.scrollToItem(item)

    def steps(self) -> list[Step]:
        return [self._step(self.topLevelItem(i)) for i in range(self.topLevelItemCount())]

    def select_index(self, row: int) -> None:
        self.setCurrentItem(self.topLevelItem(row))

    def _following(self) -> bool:
        count = self.topLevelItemCount()
        current = self.currentItem()
        return current is None or self.indexOfTopLevelItem(current) == count - 1

    def _on_current_changed(self, current: QTreeWidgetItem | None, _previous: object) -> None:
        if current is not None:
            self.step_selected.emit(self._step(current))

    @staticmethod
    def _step(item: QTreeWidgetItem | None) -> Step:
        assert item is not None
        step = item.data(0, Qt.ItemDataRole.UserRole)
        assert isinstance(step, Step)
        return step
