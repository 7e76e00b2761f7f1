"""The confirmation bar: yes/no for a risky action, or a text answer to the model's question."""

from __future__ import annotations

import unicodedata
from html import escape

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import QFrame, QHBoxLayout, QLabel, QLineEdit, QPushButton, QWidget

from omnidesk.agent.actions import TypeText
from omnidesk.agent.describe import describe_action
from omnidesk.agent.ports import ConfirmationRequest

__all__ = ["ConfirmBar", "visible"]


def visible(text: str) -> str:
    """Typed text as the person must judge it: line breaks as ⏎, tabs as ⇥, and every invisible format
    character (zero-width, bidi controls) named, so nothing hides from the yes/no."""
    shown = []
    for ch in text:
        if ch in "\r\n\v\f\x85\u2028\u2029":
            shown.append("⏎")
        elif ch == "\t":
            shown.append("⇥")
        elif unicodedata.category(ch) in {"Cf", "Cc"}:
            shown.append(f"⟨U+{ord(ch):04X}⟩")
        else:
            shown.append(ch)
    return "".join(shown)


class ConfirmBar(QFrame):
    """Hidden until the agent asks; shows one question at a time.

    Signals:
        confirmed(bool): the person allowed (True) or denied (False) the action.
        answered(object): the person's answer (str), or None when they skipped the question.
    """

    confirmed = pyqtSignal(bool)
    answered = pyqtSignal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("confirm_bar")
        self._mode = ""
        self._question = ""
        self.message = QLabel(self)
        self.message.setWordWrap(True)
        self.answer_box = QLineEdit(self)
        self.answer_box.setPlaceholderText("Your answer…")
        self.accept_button = QPushButton("Allow", self)
        self.accept_button.setObjectName("accept")
        self.reject_button = QPushButton("Deny", self)
        self.reject_button.setObjectName("reject")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(14, 10, 14, 10)
        layout.addWidget(self.message, 1)
        layout.addWidget(self.answer_box, 1)
        layout.addWidget(self.accept_button)
        layout.addWidget(self.reject_button)
        self.accept_button.clicked.connect(self._on_accept)
        self.reject_button.clicked.connect(self._on_reject)
        self.answer_box.returnPressed.connect(self._on_accept)
        self.hide()

    @property
    def mode(self) -> str:
        """``confirm``, ``question`` or empty when hidden."""
        return self._mode

    @property
    def question(self) -> str:
        """The pending question in plain text (empty when hidden)."""
        return self._question

    def ask_confirmation(self, request: ConfirmationRequest) -> None:
        self._mode = "confirm"
        action = describe_action(request.action)
        if isinstance(request.action, TypeText):  # the person must see the text they are asked to allow
            action += f": “{visible(request.action.text)}”"
        question = request.question or "Allow this action?"
        self._question = f"{question} (It wants to {action}.)"
        self.message.setText(
            f"<b>{escape(question)}</b><br>The agent wants to {escape(action)}. {escape(request.reason)}"
        )
        self.answer_box.hide()
        self.accept_button.setText("Allow")
        self.reject_button.setText("Deny")
        self.show()
        self.reject_button.setFocus()

    def ask_question(self, question: str) -> None:
        self._mode = "question"
        self._question = question
        self.message.setText(f"<b>The agent asks:</b> {escape(question)}")
        self.answer_box.clear()
        self.answer_box.show()
        self.accept_button.setText("Answer")
        self.reject_button.setText("Skip")
        self.show()
        self.answer_box.setFocus()

    def dismiss(self) -> None:
        self._mode = self._question = ""
        self.hide()

    def _on_accept(self) -> None:
        mode = self._mode
        self.dismiss()
        if mode == "confirm":
            self.confirmed.emit(True)
        elif mode == "question":
            self.answered.emit(self.answer_box.text())

    def _on_reject(self) -> None:
        mode = self._mode
        self.dismiss()
        if mode == "confirm":
            self.confirmed.emit(False)
        elif mode == "question":
            self.answered.emit(None)
