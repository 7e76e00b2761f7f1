"""The review step of teach mode: the shown steps with thumbnails, edited before anything is saved.

The person renames the automation, edits the description the model falls back on (the model's own, with
the steps as it saw them, when the window had one to ask, shown as plain text, never markup; else a note
says why there is none), deletes steps (a stray click, a step whose target cannot be found again) and
marks a typed text as a secret: it goes to the keyring, bound to the window it was typed into, and the
automation keeps only ``{{secret:NAME}}``. The panel only edits the draft; whoever owns it saves it
(``app/teaching/save.py``) on :attr:`save_requested` and shows a refusal with :meth:`show_error`. Typed
text is shown here, on the person's own screen, and never logged.
"""

from __future__ import annotations

import dataclasses
import logging

from PyQt6.QtCore import QSize, Qt, pyqtSignal
from PyQt6.QtGui import QIcon, QPixmap
from PyQt6.QtWidgets import (
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from omnidesk.agent.actions import TypeText
from omnidesk.agent.secrets import NAME_PATTERN
from omnidesk.app.teaching.draft import DraftStep, TeachDraft

__all__ = ["TeachReview", "step_text"]

log = logging.getLogger(__name__)

THUMB = QSize(192, 120)


def step_text(number: int, step: DraftStep) -> str:
    """The list line of a step: what it does (typed text in full: this is the person's screen), when, and
    why it may not replay."""
    what = f"type “{step.action.text}”" if isinstance(step.action, TypeText) and not step.secret else step.summary
    line = f"{number}.  {what}\n     at {step.at:.1f} s"
    if step.window is not None and step.window.title:
        line += f" in “{step.window.title}”"
    if step.problem:
        line += f"\n     ⚠ {step.problem}"
    return line


class TeachReview(QWidget):
    """Signals:
    save_requested(TeachDraft): the person wants the edited draft saved.
    discarded(): the person threw the demonstration away (its recording stays).
    """

    save_requested = pyqtSignal(object)
    discarded = pyqtSignal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("teach_review")
        self._draft: TeachDraft | None = None
        self._steps: list[DraftStep] = []
        title = QLabel("<b>Review what you showed</b> — nothing is saved until you press Save", self)
        self.name_edit = QLineEdit(self)
        self.name_edit.setObjectName("teach_name")
        self.description_edit = QPlainTextEdit(self)
        self.description_edit.setObjectName("teach_description")
        self.description_edit.setPlaceholderText(
            "What the task is. When a step's target cannot be found, the model does the task from this."
        )
        self.description_edit.setMaximumHeight(90)
        self.description_edit.textChanged.connect(self._description_changed)
        self.model_steps_label = QLabel(self)
        self.model_steps_label.setObjectName("teach_model_steps")
        self.model_steps_label.setWordWrap(True)
        self.model_steps_label.setTextFormat(Qt.TextFormat.PlainText)  # the model's words are data, not markup
        self._model_steps_box = QScrollArea(self)  # up to 60 steps: they scroll instead of pushing the list down
        self._model_steps_box.setWidget(self.model_steps_label)
        self._model_steps_box.setWidgetResizable(True)
        self._model_steps_box.setFrameShape(QFrame.Shape.NoFrame)
        self._model_steps_box.setMaximumHeight(110)
        self.description_note = QLabel(self)
        self.description_note.setObjectName("teach_description_note")
        self.description_note.setWordWrap(True)
        self.description_note.setTextFormat(Qt.TextFormat.PlainText)
        self.description_note.setStyleSheet("color: #b08000")
        self.notes_label = QLabel(self)
        self.notes_label.setWordWrap(True)
        self.steps = QListWidget(self)
        self.steps.setObjectName("teach_steps")
        self.steps.setIconSize(THUMB)
        self.steps.setSpacing(4)
        self.steps.currentRowChanged.connect(self._selection_changed)
        self.delete_button = QPushButton("Delete step", self)
        self.delete_button.clicked.connect(self.delete_selected)
        self.secret_edit = QLineEdit(self)
        self.secret_edit.setPlaceholderText("secret name, e.g. bank_password")
        self.secret_button = QPushButton("Keep this text as a secret", self)
        self.secret_button.clicked.connect(lambda: self.mark_secret(self.secret_edit.text()))
        self.error_label = QLabel(self)
        self.error_label.setObjectName("teach_error")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #d04040")
        self.save_button = QPushButton("Save automation", self)
        self.save_button.setDefault(True)
        self.save_button.clicked.connect(self._save)
        self.discard_button = QPushButton("Discard", self)
        self.discard_button.clicked.connect(self.discarded.emit)

        form = QFormLayout()
        form.addRow("Name", self.name_edit)
        form.addRow("Description", self.description_edit)
        form.addRow("", self._model_steps_box)
        form.addRow("", self.description_note)
        edit_row = QHBoxLayout()
        edit_row.addWidget(self.delete_button)
        edit_row.addStretch(1)
        edit_row.addWidget(self.secret_edit, 1)
        edit_row.addWidget(self.secret_button)
        buttons = QHBoxLayout()
        buttons.addWidget(self.error_label, 1)
        buttons.addWidget(self.discard_button)
        buttons.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addLayout(form)
        layout.addWidget(self.notes_label)
        layout.addWidget(self.steps, 1)
        layout.addLayout(edit_row)
        layout.addLayout(buttons)
        self._selection_changed(-1)

    def show_draft(self, draft: TeachDraft) -> None:
        """Show ``draft`` for review (the panel edits a copy; the draft itself is left as it is)."""
        self._draft = draft
        self._steps = [dataclasses.replace(step) for step in draft.steps]
        self.name_edit.setText(draft.name)
        steps = "\n".join(f"{n}. {text}" for n, text in enumerate(draft.model_steps, 1))
        self.model_steps_label.setText(f"As the model saw it:\n{steps}" if steps else "")
        self.model_steps_label.setVisible(bool(steps))
        self._model_steps_box.setVisible(bool(steps))
        self.description_edit.setPlainText(draft.description)
        self._description_changed()
        self.notes_label.setText("\n".join(f"• {note}" for note in draft.notes))
        self.notes_label.setVisible(bool(draft.notes))
        self.error_label.clear()
        self._fill()

    def draft(self) -> TeachDraft | None:
        """The draft with the person's edits (None before one is shown)."""
        if self._draft is None:
            return None
        return dataclasses.replace(
            self._draft,
            name=self.name_edit.text().strip(),
            description=self.description_edit.toPlainText().strip(),
            steps=list(self._steps),
        )

    def description_note_text(self) -> str:
        """Why there is no description, and what that means (empty while there is one)."""
        if self.description_edit.toPlainText().strip() or self._draft is None:
            return ""
        why = self._draft.description_problem or "none was written"
        return f"No description: {why}; the steps replay without a model fallback. Write one above to have one."

    def _description_changed(self) -> None:
        note = self.description_note_text()
        self.description_note.setText(note)
        self.description_note.setVisible(bool(note))

    def show_error(self, text: str) -> None:
        self.error_label.setText(text)

    def set_saving(self, saving: bool) -> None:
        """While the draft is being saved nothing in it can change, and Save cannot be pressed twice."""
        self.save_button.setText("Saving…" if saving else "Save automation")
        self.setEnabled(not saving)
        if not saving:
            self.save_button.setEnabled(bool(self._steps))

    def delete_selected(self) -> None:
        row = self.steps.currentRow()
        if 0 <= row < len(self._steps):
            del self._steps[row]
            self._fill(select=min(row, len(self._steps) - 1))

    def mark_secret(self, name: str) -> None:
        """Keep the selected step's typed text as the secret ``name`` (an empty name unmarks it)."""
        row = self.steps.currentRow()
        if not 0 <= row < len(self._steps):
            return
        step = self._steps[row]
        name = name.strip()
        if not isinstance(step.action, TypeText):
            self.show_error("Only a typed text can be kept as a secret")
            return
        if name and NAME_PATTERN.fullmatch(name) is None:
            self.show_error("A secret's name is 1-64 letters, digits, '_', '.' or '-'")
            return
        self._steps[row] = dataclasses.replace(step, secret=name)
        self.error_label.clear()
        self._fill(select=row)

    def _fill(self, select: int = -1) -> None:
        self.steps.clear()
        for number, step in enumerate(self._steps, 1):
            item = QListWidgetItem(step_text(number, step))
            pixmap = QPixmap()
            if step.thumbnail and pixmap.loadFromData(step.thumbnail, "PNG"):
                item.setIcon(QIcon(pixmap))
            if step.problem:
                item.setForeground(Qt.GlobalColor.darkYellow)
            self.steps.addItem(item)
        self.steps.setCurrentRow(select)
        self.save_button.setEnabled(bool(self._steps))

    def _selection_changed(self, row: int) -> None:
        step = self._steps[row] if 0 <= row < len(self._steps) else None
        self.delete_button.setEnabled(step is not None)
        typed = step is not None and isinstance(step.action, TypeText)
        self.secret_edit.setEnabled(typed)
        self.secret_button.setEnabled(typed)
        self.secret_edit.setText(step.secret if step is not None else "")

    def _save(self) -> None:
        draft = self.draft()
        if draft is None:
            return
        if not draft.name:
            self.show_error("Give the automation a name")
            return
        self.error_label.clear()
        log.info("teach review: save %r with %d steps", draft.name, len(draft.steps))
        self.save_requested.emit(draft)
