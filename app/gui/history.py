"""The History panel: past runs from the trajectory bundles in the data dir, step by step, with pictures,
and the recordings, which can be asked a question (:class:`RecordingAskPanel`)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtGui import QPixmap
from PyQt6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from omnidesk.agent.errors import RecordingError
from omnidesk.agent.trajectory import Bundle, load_bundle
from omnidesk.app.gui.recording_ask import Busy, RecordingAsker, RecordingAskPanel

__all__ = ["HistoryPanel", "list_runs"]

log = logging.getLogger(__name__)

_PICTURE_HEIGHT = 260


def list_runs(runs_dir: Path) -> list[Path]:
    """Bundle folders, newest first (their names start with a sortable time stamp)."""
    if not runs_dir.is_dir():
        return []
    return sorted((p for p in runs_dir.iterdir() if (p / "run.json").is_file()), reverse=True)


def _when(folder: Path) -> str:
    stamp = folder.name[:15]  # 20260514-101502
    if len(stamp) == 15 and stamp[8] == "-" and stamp.replace("-", "").isdigit():
        return f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]} {stamp[9:11]}:{stamp[11:13]}"
    return ""


def _action_text(record: dict[str, Any]) -> str:
    actions = record.get("actions") or [record.get("action") or {}]
    text = _one_action_text(actions[0] if isinstance(actions[0], dict) else {})
    return text if len(actions) == 1 else f"{text} (+{len(actions) - 1} more)"


def _one_action_text(action: dict[str, Any]) -> str:
    kind = action.get("kind", "no action")
    if kind == "type":
        return f"type {len(action.get('text', ''))} characters"
    if kind == "hotkey":
        return "press " + "+".join(action.get("keys", []))
    return str(kind)


class HistoryPanel(QWidget):
    """Signals:
    rerun_requested(str): the person wants to run this task again (it goes into the task box).
    """

    rerun_requested = pyqtSignal(str)

    def __init__(
        self,
        runs_dir: Path | None,
        parent: QWidget | None = None,
        *,
        recordings_dir: Path | None = None,
        asker: RecordingAsker | None = None,
        busy: Busy | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("history")
        self._runs_dir = runs_dir
        self._bundle: Bundle | None = None
        self.runs = QTreeWidget(self)
        self.runs.setHeaderLabels(["When", "Task", "Status", "Steps"])
        self.runs.setRootIsDecorated(False)
        self.steps = QTreeWidget(self)
        self.steps.setHeaderLabels(["#", "Action", "Status"])
        self.steps.setRootIsDecorated(False)
        for tree, stretch in ((self.runs, 1), (self.steps, 1)):
            header = tree.header()
            assert header is not None
            header.setStretchLastSection(False)
            for column in range(tree.columnCount()):
                mode = QHeaderView.ResizeMode.Stretch if column == stretch else QHeaderView.ResizeMode.ResizeToContents
                header.setSectionResizeMode(column, mode)
        self.picture = QLabel("Select a run, then a step", self)
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setMinimumHeight(_PICTURE_HEIGHT)
        self.rerun_button = QPushButton("Run this task again", self)
        self.rerun_button.setEnabled(False)
        self.refresh_button = QPushButton("Refresh", self)
        split = QSplitter(Qt.Orientation.Vertical, self)
        split.addWidget(self.runs)
        split.addWidget(self.steps)
        split.addWidget(self.picture)
        self.ask = RecordingAskPanel(recordings_dir, asker, self, busy=busy)
        split.addWidget(self.ask)
        for index, stretch in enumerate((1, 1, 1, 2)):  # the recordings and the answer get the most room
            split.setStretchFactor(index, stretch)
        buttons = QHBoxLayout()
        buttons.addWidget(self.refresh_button)
        buttons.addStretch(1)
        buttons.addWidget(self.rerun_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(split, 1)
        layout.addLayout(buttons)
        self.runs.currentItemChanged.connect(self._on_run_selected)
        self.steps.currentItemChanged.connect(self._on_step_selected)
        self.refresh_button.clicked.connect(self.refresh)
        self.rerun_button.clicked.connect(self._on_rerun)

    def refresh(self) -> None:
        """Re-read the list of runs (summaries only; steps load when a run is selected) and of recordings."""
        self.ask.refresh()
        self.runs.clear()
        for folder in list_runs(self._runs_dir) if self._runs_dir is not None else []:
            try:
                summary = load_bundle(folder).summary
            except RecordingError as exc:
                log.warning("skipping unreadable run %s: %s", folder.name, exc)
                continue
            item = QTreeWidgetItem(
                [
                    _when(folder),
                    str(summary.get("task", "")),
                    str(summary.get("status", "")),
                    str(summary.get("steps", 0)),
                ]
            )
            item.setData(0, Qt.ItemDataRole.UserRole, str(folder))
            item.setToolTip(1, str(summary.get("task", "")))
            self.runs.addTopLevelItem(item)

    @property
    def bundle(self) -> Bundle | None:
        return self._bundle

    def _on_run_selected(self, item: QTreeWidgetItem | None, _previous: object) -> None:
        self.steps.clear()
        self._bundle = None
        self.rerun_button.setEnabled(item is not None)
        if item is None:
            return
        try:
            self._bundle = load_bundle(Path(item.data(0, Qt.ItemDataRole.UserRole)))
        except RecordingError as exc:
            self.picture.setText(str(exc))
            return
        for record in self._bundle.steps:
            row = QTreeWidgetItem([str(record.get("index", "")), _action_text(record), str(record.get("status", ""))])
            row.setToolTip(1, str(record.get("reasoning") or record.get("raw_output") or ""))
            row.setData(0, Qt.ItemDataRole.UserRole, record.get("png") or "")
            self.steps.addTopLevelItem(row)
        self.picture.setText(f"{len(self._bundle.steps)} steps — select one to see what the model saw")

    def _on_step_selected(self, item: QTreeWidgetItem | None, _previous: object) -> None:
        if item is None or self._bundle is None:
            return
        png = item.data(0, Qt.ItemDataRole.UserRole)
        pixmap = QPixmap(str(self._bundle.folder / png)) if png else QPixmap()
        if pixmap.isNull():
            self.picture.setText("No picture for this step")
            return
        self.picture.setPixmap(pixmap.scaledToHeight(_PICTURE_HEIGHT, Qt.TransformationMode.SmoothTransformation))

    def _on_rerun(self) -> None:
        if self._bundle is not None:
            self.rerun_requested.emit(str(self._bundle.summary.get("task", "")))
