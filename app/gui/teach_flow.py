"""Teach mode in the window ("Show me"): record on a worker, review in a dialog, save on the person's word.

:meth:`TeachFlow.toggle` (the "Show me" button, the teach hotkey) starts a demonstration when nothing else
is going on and stops the one being recorded; the input recorder also notices the teach hotkey itself
anywhere, so a second toggle that arrives after the recording ended is ignored. Recording, reading the
recording back and cutting targets run on a worker thread (``app/teaching``). With a describer (the
window's loaded model, :meth:`GuiAgentRunner.describe_demonstration`), the same worker then has the model
watch the recording and write what the task is and its steps
(:func:`~omnidesk.app.teaching.describe.describe_demonstration`, as ``omnidesk teach --describe`` does);
without one, or when the model's answer is off the asked form, the draft says why and the review opens all
the same. The review (:class:`TeachReview`) opens in a dialog when the draft is ready and the automation is
written only when the person presses Save. A typed text marked as a secret goes to the keyring.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

from PyQt6.QtCore import QObject, QThread, pyqtSignal
from PyQt6.QtWidgets import QDialog, QVBoxLayout, QWidget

from omnidesk.agent.errors import ConfigError, OmnideskError
from omnidesk.agent.geometry import MonitorInfo
from omnidesk.agent.ports import CancelToken
from omnidesk.app.gui.automation_store import Automation, AutomationStore
from omnidesk.app.gui.teach_review import TeachReview
from omnidesk.app.gui.worker import GeneratorWorker, start_worker
from omnidesk.app.settings import AppPaths, Settings
from omnidesk.app.teaching.describe import TaskDescription
from omnidesk.app.teaching.draft import TeachDraft
from omnidesk.app.teaching.save import SecretWriter

__all__ = ["NO_MODEL", "TeachDescriber", "TeachFlow", "describe_draft"]

log = logging.getLogger(__name__)

TeachDescriber = Callable[[Path, CancelToken], "TaskDescription | None"]
"""``(recording folder, cancel) -> description`` (None: stopped); runs on the teach worker."""

NO_MODEL = "no model is set up in the window"


def describe_draft(draft: TeachDraft, describer: TeachDescriber | None, cancel: CancelToken) -> None:
    """The model's description and steps into ``draft``; or, without them, why not in
    ``draft.description_problem`` (the steps are kept either way). Runs on the teach worker."""
    if describer is None:
        draft.description_problem = NO_MODEL
        return
    try:
        described = describer(draft.recording, cancel)
    except OmnideskError as exc:
        log.warning("teach: no description of the task: %s", type(exc).__name__)
        draft.description_problem = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return
    if described is None:
        draft.description_problem = "stopped before the model answered"
        return
    draft.description, draft.model_steps = described.description, list(described.steps)


class TeachFlow(QObject):
    """Signals:
    state_changed(str): "idle", "recording", "reading" (cutting targets), "describing" (the model watches
        the recording), "reviewing" or "saving".
    recording_started(): the first frame is written (from now on what the person does has a picture).
    status(str): a line for the status bar.
    review_opened(object): the :class:`TeachReview` now shown (tests drive it).
    saved(str): the automation with this name was saved.
    """

    state_changed = pyqtSignal(str)
    recording_started = pyqtSignal()
    status = pyqtSignal(str)
    review_opened = pyqtSignal(object)
    saved = pyqtSignal(str)

    def __init__(
        self,
        settings: Settings,
        paths: AppPaths,
        store: AutomationStore,
        *,
        secrets: Callable[[], SecretWriter] | None = None,
        narration: bool = True,
        describer: TeachDescriber | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.settings = settings
        self._describer = describer
        self._paths = paths
        self._store = store
        self._secrets = secrets
        self._narration = narration
        self.state = "idle"
        self._worker: GeneratorWorker | None = None
        self._thread: QThread | None = None
        self._dialog: QDialog | None = None
        self._draft: TeachDraft | None = None
        self._panel: TeachReview | None = None
        self._recording: Path | None = None
        self._stop = CancelToken()
        self._aborted = False
        self._saving: tuple[TeachDraft, object] | None = None  # the draft being saved, and how it ended

    def toggle(self) -> None:
        """Start showing a task, or stop the demonstration being recorded."""
        if self.state == "recording":
            self._stop.cancel()  # ends the recording; the worker goes on to read it (abort would end it too)
        elif self.state == "idle" and self._worker is None:
            self._start()

    @property
    def busy(self) -> bool:
        """A demonstration is being recorded or read (closing the window waits for it)."""
        return self._worker is not None

    def abort(self) -> None:
        """End the demonstration without a review (the window is closing); the recording is kept."""
        self._aborted = True
        self._stop.cancel()
        if self._worker is not None:
            self._worker.abort()

    def _set_state(self, state: str) -> None:
        self.state = state
        self.state_changed.emit(state)

    def _start(self) -> None:
        from omnidesk.app.teaching.session import teach_folder

        folder = teach_folder(self._paths.recordings_dir, "shown")
        settings, narration, describer = self.settings, self._narration, self._describer
        stop = self._stop = CancelToken()

        def work(cancel: CancelToken) -> Iterator[object]:
            from omnidesk.app.compose import build_png_encoder
            from omnidesk.app.teaching.draft import build_draft
            from omnidesk.app.teaching.session import record_demonstration, stop_combos

            def started(monitor: MonitorInfo, audio: bool) -> None:
                self.recording_started.emit()  # queued to the GUI thread

            cancel.on_cancel(stop.cancel)  # closing the window aborts the worker: the recording ends too
            demo = record_demonstration(settings, folder, stop=stop, audio=narration, on_started=started)
            yield "reading"
            draft = build_draft(demo, "Shown task", encoder=build_png_encoder(), stop_combos=stop_combos(settings))
            if draft.steps and not cancel.cancelled:
                if describer is not None:
                    yield "describing"
                describe_draft(draft, describer, cancel)
            yield draft

        self._worker = GeneratorWorker(work)
        self._worker.yielded.connect(self._on_yielded)
        self._worker.errored.connect(self._on_error)
        self._set_state("recording")
        self.status.emit(f"Showing: do the task, then press {settings.hotkeys.teach} or Show me again")
        self._thread = start_worker(self._worker, self._on_finished)

    def _on_yielded(self, item: object) -> None:
        if item == "reading":
            self._set_state("reading")
            self.status.emit("Reading what you showed…")
        elif item == "describing":
            self._set_state("describing")
            self.status.emit("The model is watching the recording…")
        elif isinstance(item, TeachDraft):
            self._draft = item

    def _on_error(self, exc: object) -> None:
        log.warning("teach mode failed: %s", exc)
        self.status.emit(f"Could not record what you showed: {exc}")

    def _on_finished(self) -> None:
        if self._thread is not None:
            self._thread.wait()
        self._thread = self._worker = None
        draft, self._draft = self._draft, None
        if draft is None or self._aborted:
            self._set_state("idle")
            return
        if not draft.steps:
            self.status.emit(
                f"Nothing to save: no clicks or keys were recorded (the recording is in {draft.recording})"
            )
            self._set_state("idle")
            return
        self.review(draft)

    def review(self, draft: TeachDraft) -> None:
        """Open the review dialog for ``draft`` (a demonstration ends here; the docs screenshot starts here)."""
        # The dialog's parent is this object's Qt parent (the window), never a Python reference to it: the
        # window owns this flow, and a reference back would put the window in a cycle that only the garbage
        # collector frees, at any moment, even during the window's own paint event. Bound methods, not
        # lambdas, connect the dialog for the same reason (PyQt holds a lambda strongly).
        owner = self.parent()
        dialog = QDialog(owner if isinstance(owner, QWidget) else None)
        dialog.setWindowTitle("Omnidesk — review what you showed")
        dialog.resize(960, 820)
        review = TeachReview(dialog)
        review.show_draft(draft)
        layout = QVBoxLayout(dialog)
        layout.addWidget(review)
        review.save_requested.connect(self._on_save_requested)
        review.discarded.connect(dialog.reject)
        dialog.rejected.connect(self._on_rejected)
        self._dialog, self._panel, self._recording = dialog, review, draft.recording
        self._set_state("reviewing")
        self.status.emit(f"{len(draft.steps)} steps shown: review them and save")
        dialog.show()
        self.review_opened.emit(review)

    def _on_save_requested(self, draft: object) -> None:
        """Save on a worker: writing the bundle waits on the disk (fsync) and a keyring may prompt, and
        neither may freeze the window. The review stays open, its Save disabled, until the save ends."""
        review = self._panel
        if review is None or not isinstance(draft, TeachDraft) or self._worker is not None:
            return
        store, taught_dir, secrets_factory = self._store, self._paths.taught_dir, self._secrets

        def work(cancel: CancelToken) -> Iterator[object]:
            from omnidesk.app.teaching.save import save_draft

            secrets = None
            if any(step.secret for step in draft.steps):
                from omnidesk.app.compose import build_secret_store

                secrets = secrets_factory() if secrets_factory is not None else build_secret_store()
            yield save_draft(draft, store=store, taught_dir=taught_dir, secrets=secrets)

        review.set_saving(True)
        self.status.emit("Saving…")
        self._saving = (draft, None)
        self._worker = GeneratorWorker(work)
        self._worker.yielded.connect(self._on_save_yielded)
        self._worker.errored.connect(self._on_save_error)
        self._set_state("saving")
        self._thread = start_worker(self._worker, self._on_save_finished)

    def _on_save_yielded(self, item: object) -> None:
        if isinstance(item, Automation) and self._saving is not None:
            self._saving = (self._saving[0], item)

    def _on_save_error(self, exc: object) -> None:
        if self._saving is not None:
            self._saving = (self._saving[0], exc if isinstance(exc, Exception) else RuntimeError(str(exc)))

    def _on_save_finished(self) -> None:
        if self._thread is not None:
            self._thread.wait()
        self._thread = self._worker = None
        saving, self._saving = self._saving, None
        if saving is None:
            return
        draft, outcome = saving
        if isinstance(outcome, Automation):
            self._closed(f"Saved “{outcome.name}” ({len(draft.steps)} steps)")
            self.saved.emit(outcome.name)
            return
        if not isinstance(outcome, ConfigError):
            log.warning("saving the taught automation failed: %s", outcome)
        reason = str(outcome) if outcome is not None else "the save ended without a result"
        review = self._panel
        if review is None:  # the review was closed while saving
            self.status.emit(f"Not saved ({reason}); the recording is kept in {draft.recording}")
            self._set_state("idle")
            return
        self._set_state("reviewing")
        review.set_saving(False)
        review.show_error(reason if isinstance(outcome, ConfigError) else f"Could not save: {reason}")
        self.status.emit("Not saved yet: see the review")

    def _on_rejected(self) -> None:
        if self._saving is not None:  # the save goes on; its end says how it went
            self._drop_dialog()
            return
        self._closed(f"Not saved; the recording is kept in {self._recording}")

    def _closed(self, message: str) -> None:
        self._drop_dialog()
        self.status.emit(message)
        self._set_state("idle")

    def _drop_dialog(self) -> None:
        """Close the review dialog (if open) and forget it and its panel."""
        dialog, self._dialog, self._panel = self._dialog, None, None
        if dialog is not None:
            dialog.rejected.disconnect(self._on_rejected)
            dialog.hide()
            dialog.deleteLater()
