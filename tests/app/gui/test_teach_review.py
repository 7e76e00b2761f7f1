"""The teach review panel: delete a step, mark a typed text as a secret, rename, describe, then save; the
model's description and steps shown, or why there are none."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QWidget

from omnidesk.agent.actions import Click, Hotkey, Point, TypeText
from omnidesk.agent.errors import ConfigError
from omnidesk.agent.geometry import MonitorInfo, Rect
from omnidesk.agent.ports import CancelToken, WindowInfo
from omnidesk.agent.replay import load_replay
from omnidesk.agent.secrets import SecretBinding
from omnidesk.app.gui.automation_store import AutomationStore
from omnidesk.app.gui.teach_flow import NO_MODEL, TeachFlow, describe_draft
from omnidesk.app.gui.teach_review import TeachReview
from omnidesk.app.settings import AppPaths, Settings
from omnidesk.app.teaching.describe import TaskDescription, parse_description
from omnidesk.app.teaching.draft import DraftStep, TargetCut, TeachDraft
from omnidesk.app.teaching.save import fallback_task, save_draft
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


class SlowKeyring(Keyring):
    """A keyring that holds each write until the test lets it go (a keyring may prompt the person)."""

    def __init__(self, error: Exception | None = None) -> None:
        super().__init__()
        self.entered, self.go_on, self.error = threading.Event(), threading.Event(), error

    def set(self, name: str, value: str, binding: SecretBinding | None = None) -> None:
        self.entered.set()
        if not self.go_on.wait(30):
            raise ConfigError("the test never let the keyring go on")
        if self.error is not None:
            raise self.error
        super().set(name, value, binding)


def _flow_review(qtbot, tmp_path: Path, keyring: Keyring) -> tuple[QWidget, TeachFlow, TeachReview]:  # type: ignore[no-untyped-def]
    paths = AppPaths(tmp_path / "c", tmp_path / "d", tmp_path / "r")
    owner = QWidget()
    qtbot.addWidget(owner)
    flow = TeachFlow(
        Settings(), paths, AutomationStore(paths.data_dir / "automations"), secrets=lambda: keyring, parent=owner
    )
    with qtbot.waitSignal(flow.review_opened, timeout=5000) as opened:
        flow.review(_draft())
    review = opened.args[0]
    assert isinstance(review, TeachReview)
    review.steps.setCurrentRow(1)
    review.mark_secret("form_greeting")
    review.name_edit.setText("Greet the form")
    return owner, flow, review  # the window owns the flow and the dialog: keep it alive


def test_saving_runs_off_the_window_thread_and_the_review_waits_for_it(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    keyring = SlowKeyring()
    _window, flow, review = _flow_review(qtbot, tmp_path, keyring)
    review.save_button.click()  # returns at once: the keyring is still holding the save
    assert keyring.entered.wait(30) and flow.state == "saving"
    assert not review.isEnabled() and review.save_button.text() == "Saving…"
    with qtbot.waitSignal(flow.saved, timeout=30_000) as saved:
        keyring.go_on.set()
    assert saved.args == ["Greet the form"] and flow.state == "idle" and not flow.busy
    assert keyring.saved["form_greeting"][0] == TEXT
    assert [a.name for a in AutomationStore(tmp_path / "d" / "automations").list()] == ["Greet the form"]


def test_a_save_that_fails_keeps_the_review_open_with_the_reason(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    keyring = SlowKeyring(ConfigError("the keyring is locked; unlock it and save again"))
    _window, flow, review = _flow_review(qtbot, tmp_path, keyring)
    keyring.go_on.set()
    with qtbot.waitSignal(flow.state_changed, timeout=30_000, check_params_cb=lambda s: s == "reviewing"):
        review.save_button.click()
    assert "the keyring is locked" in review.error_label.text()
    assert review.isEnabled() and review.save_button.isEnabled() and review.save_button.text() == "Save automation"
    assert AutomationStore(tmp_path / "d" / "automations").list() == []
    assert not list((tmp_path / "d").rglob("steps.jsonl"))  # nothing half-saved


def test_an_answer_off_the_asked_form_leaves_no_description_and_the_review_says_why(qtbot) -> None:  # type: ignore[no-untyped-def]
    asked: list[Path] = []

    def off_form(folder: Path, cancel: CancelToken) -> TaskDescription | None:
        asked.append(folder)
        return parse_description("I cannot see a task here.")  # the real reader refuses it

    draft = _draft()
    describe_draft(draft, off_form, CancelToken())
    assert asked == [Path("rec")] and draft.description == "" and draft.model_steps == []
    review = TeachReview()
    qtbot.addWidget(review)
    review.show_draft(draft)
    assert review.steps.count() == 4 and review.model_steps_label.isHidden()
    assert review.description_note.text() == (
        "No description: the model's description of the task is not in the asked form (no 'TASK:' line); the "
        "steps replay without a model fallback. Write one above to have one."
    )


def test_the_models_description_and_steps_are_shown_and_kept(qtbot) -> None:  # type: ignore[no-untyped-def]
    def described(folder: Path, cancel: CancelToken) -> TaskDescription | None:
        return parse_description("TASK: Greet the form.\nSTEPS:\n1. Click <b>the field</b>.\n2. Type the greeting.")

    draft = _draft()
    describe_draft(draft, described, CancelToken())
    review = TeachReview()
    qtbot.addWidget(review)
    review.show_draft(draft)
    assert review.description_edit.toPlainText() == "Greet the form." and review.description_note.isHidden()
    assert review.model_steps_label.text() == "As the model saw it:\n1. Click <b>the field</b>.\n2. Type the greeting."
    assert review.model_steps_label.textFormat() == Qt.TextFormat.PlainText  # the model's words, not markup
    review.description_edit.setPlainText("Greet the form politely.")  # edited: the person's words are kept
    edited = review.draft()
    assert edited is not None and edited.description == "Greet the form politely."
    assert edited.model_steps == ["Click <b>the field</b>.", "Type the greeting."]
    assert fallback_task(edited).startswith("Greet the form politely.\n\nAs it was shown:\n1. Click <b>the field")
    none = _draft()
    describe_draft(none, None, CancelToken())
    assert none.description_problem == NO_MODEL
