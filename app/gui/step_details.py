"""Details of the selected step: thought, result, timings, tokens, and the EVS crops it sent."""

from __future__ import annotations

import html

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QPixmap
from PyQt6.QtWidgets import QHBoxLayout, QLabel, QTextBrowser, QVBoxLayout, QWidget

from omnidesk.agent.describe import describe_actions
from omnidesk.agent.ports import Step
from omnidesk.app.gui.describe import describe_timings
from omnidesk.app.gui.preview import to_qimage

__all__ = ["StepDetails"]

_THUMB_HEIGHT = 72


class StepDetails(QWidget):
    """Read-only view of one step."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("step_details")
        self._text = QTextBrowser(self)
        self._text.setOpenLinks(False)
        self._crops = QHBoxLayout()
        self._crops.setContentsMargins(0, 0, 0, 0)
        self._crops.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._text, 1)
        layout.addLayout(self._crops)
        self.show_step(None)

    def text(self) -> str:
        return self._text.toPlainText()

    def crop_count(self) -> int:
        return self._crops.count() - 1

    def show_step(self, step: Step | None) -> None:
        self._set_crops(step)
        if step is None:
            self._text.setHtml("<p style='color:#8a8f98'>Select a step to see what the agent thought.</p>")
            return
        rows = [
            ("Action", describe_actions(step.actions, step.target)),
            ("Status", step.status.replace("_", " ")),
            ("Thought", step.reasoning),
            ("Result", step.result),
            ("Error", step.error),
            ("Time", describe_timings(step.timings)),
            ("Tokens", _tokens(step)),
        ]
        body = "".join(
            f"<tr><td style='color:#8a8f98;padding-right:10px;vertical-align:top'>{name}</td>"
            f"<td>{html.escape(value)}</td></tr>"
            for name, value in rows
            if value
        )
        output = ""
        if step.raw_output:
            output = (
                "<p style='color:#8a8f98;margin-bottom:2px'>Model output</p>"
                f"<pre style='white-space:pre-wrap;margin-top:0'>{html.escape(step.raw_output)}</pre>"
            )
        self._text.setHtml(f"<b>Step {step.index}</b><table>{body}</table>{output}")

    def _set_crops(self, step: Step | None) -> None:
        while self._crops.count() > 1:
            item = self._crops.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.hide()
                widget.setParent(None)
                widget.deleteLater()
        if step is None or step.observation is None:
            return
        for image in step.observation.images:
            if image.kind != "crop":
                continue
            thumb = QLabel(self)
            pixmap = QPixmap.fromImage(to_qimage(image))
            thumb.setPixmap(pixmap.scaledToHeight(_THUMB_HEIGHT, Qt.TransformationMode.SmoothTransformation))
            thumb.setToolTip(image.label or "EVS crop")
            self._crops.insertWidget(self._crops.count() - 1, thumb)


def _tokens(step: Step) -> str:
    if not (step.prompt_tokens or step.completion_tokens):
        return ""
    return f"{step.prompt_tokens} in ({step.reused_tokens} reused), {step.completion_tokens} out"
