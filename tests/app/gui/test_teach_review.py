"""The teach review panel: delete a step, mark a typed text as a secret, rename, describe, then save."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from omnidesk.agent.actions import Click, Hotkey, Point, TypeText
from omnidesk.agent.geometry import MonitorInfo, Rect
from omnidesk.agent.ports import WindowInfo
from omnidesk.agent.replay import load_replay
from omnidesk.agent.secrets import SecretBinding
from omnidesk.app.gui.automation_store import AutomationStore
from omnidesk.app.gui.teach_review import TeachReview
from omnidesk.app.teaching.draft import DraftStep, TargetCut, TeachDraft
from omnidesk.app.teaching.save import save_draft
from omnidesk.runtime.png import CvPngEncoder

pytestmark = pytest.mark.desktop

TEXT = "Grüße <ok> 東京"
FORM = WindowInfo(9, "Form", ("form", "Form"), Rect(100, 100, 700, 500), pid=42)


class Keyring:
    def __init__(self) -> None:
        self.saved: dict[str, tuple[str, SecretBinding | None]] = {}

    def set(self, name: str, value: str, binding: SecretBinding | None = None) -> None:
        self.saved[name] = (value, binding)


def _draft() -> TeachDraft:
    patch = np.zeros((48, 48, 3), dtype=np.uint8)
    patch[8:40, 8:40] = (0, 200, 0)
    png = CvPngEncoder().encode_png(patch)

    def click(x: int) -> DraftStep:
        return DraftStep(
            Click(point=Point(x=x, y=300, space="desktop")), 1.0, FORM, [TargetCut(png, (24, 24), 1920)], png
        )

    steps = [
        click(200),
        DraftStep(TypeText(text=TEXT), 2.0, FORM, [], png),
        DraftStep(Hotkey(keys=("enter",)), 3.0, FORM, [], png),
        click(400),
    ]
    monitor = MonitorInfo(1, "screen", Rect(0, 0, 1920, 1080))
    return TeachDraft(
        "form",
        Path("rec"),
        monitor,
        steps,
        notes=["2 input events in deny-listed windows were not recorded"],
        wall_start=time.time(),
    )


def test_review_edits_then_saves_a_replayable_automation(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    review = TeachReview()
    qtbot.addWidget(review)
    original = _draft()
    review.show_draft(original)
    assert review.steps.count() == 4 and not review.notes_label.isHidden()
    assert f"type “{TEXT}”" in review.steps.item(1).text()  # the person sees what they typed
    assert not review.steps.item(0).icon().isNull()

    review.steps.setCurrentRow(0)
    review.mark_secret("nope")
    assert "Only a typed text" in review.error_label.text()
    review.steps.setCurrentRow(1)
    review.secret_edit.setText("bad name!")
    review.secret_button.click()
    assert "secret's name" in review.error_label.text()
    review.secret_edit.setText("form_greeting")
    review.secret_button.click()
    assert "type secret 'form_greeting'" in review.steps.item(1).text() and TEXT not in review.steps.item(1).text()
    review.steps.setCurrentRow(2)
    review.delete_button.click()
    assert review.steps.count() == 3
    review.name_edit.setText("Greet the form")
    review.description_edit.setPlainText("Type the greeting into the form and press OK.")

    with qtbot.waitSignal(review.save_requested, timeout=5000) as signal:
        review.save_button.click()
    draft = signal.args[0]
    assert isinstance(draft, TeachDraft) and len(original.steps) == 4  # the shown draft itself is left alone
    assert (draft.name, [s.action.kind for s in draft.steps]) == ("Greet the form", ["click", "type", "click"])

    keyring = Keyring()
    store = AutomationStore(tmp_path / "automations")
    automation = save_draft(draft, store=store, taught_dir=tmp_path / "taught", secrets=keyring)
    assert automation.description.startswith("Type the greeting into the form and press OK.")
    assert load_replay(Path(automation.bundle)).steps[1].actions == (TypeText(text="{{secret:form_greeting}}"),)
    assert keyring.saved["form_greeting"][0] == TEXT


def test_an_empty_name_or_no_steps_cannot_be_saved(qtbot) -> None:  # type: ignore[no-untyped-def]
    review = TeachReview()
    qtbot.addWidget(review)
    review.show_draft(_draft())
    review.name_edit.setText("  ")
    with qtbot.assertNotEmitted(review.save_requested):
        review.save_button.click()
    assert "name" in review.error_label.text()
    for _ in range(4):
        review.steps.setCurrentRow(0)
        review.delete_selected()
    assert review.steps.count() == 0 and not review.save_button.isEnabled()
    with qtbot.waitSignal(review.discarded, timeout=5000):
        review.discard_button.click()
