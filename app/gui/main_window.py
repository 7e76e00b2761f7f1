"""The main window: builds the widgets, wires every signal in ``_connect_signals``, keeps slots short.

The window never runs the agent itself: :class:`RunController` runs it on a worker thread and the
window only reacts to signals. Questions from the agent arrive through :class:`QtConfirmer`, which blocks
the worker (never this thread) until the confirmation bar answers. The model is loaded by
:class:`ModelLoader` on a worker; until it is ready Run is disabled with the reason, and without one the
:class:`ModelArea` shows the first-run setup panel. Settings changes apply without a restart
(``settings_apply.py``). Push-to-talk, spoken commands and the global hotkeys are wired and handled by
:class:`VoiceAndHotkeys` (``main_window_voice.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QCloseEvent
from PyQt6.QtWidgets import QLabel, QMainWindow, QSplitter, QTabWidget, QVBoxLayout, QWidget

from omnidesk.agent.describe import describe_actions
from omnidesk.agent.errors import ConfigError, OmnideskError
from omnidesk.agent.geometry import MonitorInfo
from omnidesk.agent.ports import AudioClip, ConfirmationRequest, Microphone, ModelImage, Step
from omnidesk.agent.safety import SafetyPolicy
from omnidesk.app.gui.automation_store import Automation, AutomationStore
from omnidesk.app.gui.automations import AutomationsPanel
from omnidesk.app.gui.confirm_bar import ConfirmBar
from omnidesk.app.gui.confirmer import QtConfirmer
from omnidesk.app.gui.controller import RunController, Runner, RunRequest
from omnidesk.app.gui.crash import CrashReporter, ErrorView, message_box_view
from omnidesk.app.gui.history import HistoryPanel
from omnidesk.app.gui.main_window_voice import SPOKEN_TASK, VoiceAndHotkeys
from omnidesk.app.gui.model_area import ModelArea
from omnidesk.app.gui.model_loader import ModelLoader, ModelStatus, StatusSource
from omnidesk.app.gui.model_setup import ModelSetup
from omnidesk.app.gui.out_of_the_way import OutOfTheWay
from omnidesk.app.gui.overlay import build_overlay
from omnidesk.app.gui.preview import PreviewWidget
from omnidesk.app.gui.recording_ask import RecordingAsker
from omnidesk.app.gui.saved_automations import SavedAutomations, automation_request
from omnidesk.app.gui.settings_apply import save_edited, settings_change
from omnidesk.app.gui.settings_dialog import SettingsDialog
from omnidesk.app.gui.step_details import StepDetails
from omnidesk.app.gui.style import titled
from omnidesk.app.gui.task_bar import TaskBar
from omnidesk.app.gui.teach_flow import TeachDescriber, TeachFlow
from omnidesk.app.gui.timeline import TimelineWidget
from omnidesk.app.gui.tray import TrayIcon, app_icon
from omnidesk.app.gui.voice import VoiceRecorder
from omnidesk.app.gui.voice_bar import VoiceBar
from omnidesk.app.gui.voice_command import VoiceCommands, VoiceInterpreter
from omnidesk.app.hotkeys import GlobalHotkeys
from omnidesk.app.settings import ApiKeys, AppPaths, Settings

if TYPE_CHECKING:
    from omnidesk.runtime.config import AudioConfig

__all__ = ["SPOKEN_TASK", "MainWindow", "StatusSource"]

log = logging.getLogger(__name__)


def _model_busy(controller: RunController, teach: TeachFlow | None) -> str | None:
    """Why History cannot ask the model now (None: it can)."""
    if controller.running:
        return "A run is using the model; ask when it ends"
    if teach is not None and teach.state == "describing":
        return "The model is watching your demonstration; ask when its review opens"
    return None


class MainWindow(QMainWindow):
    """Omnidesk's window. Everything it needs comes through the constructor (see ``app.run_gui``)."""

    def __init__(
        self,
        settings: Settings,
        runner: Runner | None,
        *,
        monitors: Sequence[MonitorInfo] = (),
        confirmer: QtConfirmer | None = None,
        error_view: ErrorView | None = None,
        status_source: StatusSource | None = None,
        unavailable_reason: str = "No agent is configured: set a model with `omnidesk models pull`.",
        tray: TrayIcon | None = None,
        hotkeys: GlobalHotkeys | None = None,
        microphone: Microphone | None = None,
        microphone_factory: Callable[[AudioConfig], Microphone] | None = None,
        paths: AppPaths | None = None,
        interpreter: VoiceInterpreter | None = None,
        setup: ModelSetup | None = None,
        on_settings_changed: Callable[[Settings], None] | None = None,
        api_keys: ApiKeys | None = None,
        recording_asker: RecordingAsker | None = None,
        teach_describer: TeachDescriber | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.paths = paths
        self._api_keys = api_keys
        self.settings_dialog: SettingsDialog | None = None
        self.setWindowTitle("Omnidesk")
        self.setWindowIcon(app_icon())
        self.confirmer = confirmer or QtConfirmer(self)
        self.controller = controller = RunController(runner, self.confirmer, self)
        self.reporter = CrashReporter(error_view or message_box_view(self), self)
        self.tray = tray
        self.hotkeys = hotkeys
        max_seconds = settings.audio.max_utterance_seconds
        self.voice = VoiceRecorder(microphone, max_seconds, self, reopen=microphone_factory) if microphone else None
        self.voice_commands = VoiceCommands(interpreter, SafetyPolicy(settings.safety), self) if interpreter else None
        self.task_bar = TaskBar(monitors, self)
        self.confirm_bar = ConfirmBar(self)
        self.voice_bar = VoiceBar(self)
        self.preview = PreviewWidget(self)
        self.timeline = TimelineWidget(self)
        self.details = StepDetails(self)
        self.automations = AutomationsPanel(self)
        self.automation_store = AutomationStore(paths.automations_dir) if paths is not None else None
        runs_dir = paths.runs_dir if paths is not None else None
        self.saved = SavedAutomations(self.automation_store, self.automations, tray, runs_dir, self)
        store = self.automation_store
        self.teach = teach = (
            TeachFlow(settings, paths, store, describer=teach_describer, parent=self) if paths and store else None
        )
        self.history = HistoryPanel(  # its busy check holds the controller and teach flow, never the window
            paths.runs_dir if paths is not None else None,
            self,
            recordings_dir=paths.recordings_dir if paths is not None else None,
            asker=recording_asker,
            busy=lambda: _model_busy(controller, teach),
        )
        self.side_tabs = QTabWidget(self)
        self.state_label = QLabel("Idle", self)
        self.model_label = QLabel("Model: —", self)
        self.model_label.setObjectName("model_status")
        self.loader = ModelLoader(status_source, self.confirmer, self)
        self.model_area = ModelArea(titled("Live view", self.preview), self.loader, setup, self)
        self._on_settings_changed = on_settings_changed
        self._reload_after_run = False
        self._unavailable_reason = unavailable_reason
        self.out_of_the_way = OutOfTheWay(self, tray, enabled=settings.gui.hide_during_run)
        self._closing = False
        self._latest_overview: ModelImage | None = None
        self.voice_hotkeys = VoiceAndHotkeys(self)
        self._layout()
        self._connect_signals()
        self._set_idle()
        if settings.capture.monitor:
            self.task_bar.select_monitor(settings.capture.monitor)
        self.task_bar.dry_run_box.setChecked(settings.safety.dry_run)
        self.task_bar.set_mic_available(self.voice is not None, "No microphone configured")
        self.saved.refresh()

    # --- construction -------------------------------------------------------------------------------

    def _layout(self) -> None:
        central = QWidget(self)
        central.setObjectName("central")
        side = QSplitter(Qt.Orientation.Vertical, self)
        side.addWidget(titled("Steps", self.timeline))
        side.addWidget(titled("Selected step", self.details))
        side.setSizes([520, 300])
        self.side_tabs.addTab(side, "This run")
        self.side_tabs.addTab(self.automations, "Automations")
        self.side_tabs.addTab(self.history, "History")
        split = QSplitter(Qt.Orientation.Horizontal, self)
        split.addWidget(self.model_area)
        split.addWidget(self.side_tabs)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([1150, 700])
        layout = QVBoxLayout(central)
        layout.setContentsMargins(14, 12, 14, 8)
        layout.setSpacing(10)
        layout.addWidget(self.task_bar)
        layout.addWidget(self.confirm_bar)
        layout.addWidget(self.voice_bar)
        layout.addWidget(split, 1)
        self.setCentralWidget(central)
        status = self.statusBar()
        assert status is not None
        status.addWidget(self.state_label, 1)
        status.addPermanentWidget(self.model_label)
        status.addPermanentWidget(self.model_area.change_button)
        self.resize(1280, 800)

    def _connect_signals(self) -> None:
        """Every connection of the window, in one place."""
        bar, controller, confirmer = self.task_bar, self.controller, self.confirmer
        bar.run_requested.connect(self.start_run)
        bar.pause_toggled.connect(controller.set_paused)
        bar.stop_requested.connect(controller.stop)
        bar.settings_requested.connect(self._on_settings_requested)
        controller.run_started.connect(self._on_run_started)
        controller.stepped.connect(self._on_stepped)
        controller.errored.connect(self._on_run_error)
        controller.pause_changed.connect(self._on_pause_changed)
        controller.run_finished.connect(self._on_run_finished)
        confirmer.confirmation_requested.connect(self._on_confirmation_requested)
        confirmer.question_asked.connect(self._on_question_asked)
        confirmer.settled.connect(self._on_confirmation_settled)
        self.confirm_bar.confirmed.connect(confirmer.reply_confirmation)
        self.confirm_bar.answered.connect(confirmer.reply_question)
        self.timeline.step_selected.connect(self._on_step_selected)
        self.history.rerun_requested.connect(self._on_rerun_requested)
        self.automations.run_requested.connect(self._on_run_automation)
        self.automations.save_requested.connect(self._on_save_automation)
        self.automations.save_replay_requested.connect(self._on_save_replay)
        self.automations.delete_requested.connect(self.saved.delete)
        self.saved.status.connect(self.state_label.setText)
        if self.teach is not None:
            self.automations.show_me_requested.connect(self.teach.toggle)
            self.teach.status.connect(self.state_label.setText)
            self.teach.state_changed.connect(self.automations.set_teaching)
            self.teach.state_changed.connect(self.close_if_closing)
            self.teach.saved.connect(self._on_taught)
        self.side_tabs.currentChanged.connect(self._on_side_tab_changed)
        self.loader.status.connect(self._on_model_status)
        self.loader.errored.connect(self._on_model_error)
        self.loader.idle.connect(self.close_if_closing)
        self.history.ask.finished.connect(self.close_if_closing)
        self.model_area.configured.connect(self.apply_settings)
        if self.model_area.setup is not None:
            self.model_area.setup.busy_changed.connect(self.close_if_closing)
        if self.tray is not None:
            self.tray.show_requested.connect(self.come_back)
            self.tray.pause_toggled.connect(controller.set_paused)
            self.tray.stop_requested.connect(controller.stop)
            self.tray.quit_requested.connect(self.close)
            self.tray.automation_requested.connect(self.run_automation_named)
        if self.hotkeys is not None and self.teach is not None:
            self.hotkeys.teach_toggled.connect(self.teach.toggle)
        self.voice_hotkeys.connect_signals()

    # --- the model -----------------------------------------------------------------------------------

    def start_status_source(self) -> None:
        """Load the model on a worker (the status source); its lines go to the status bar."""
        self.loader.load()

    def set_model_status(self, text: object) -> None:
        self.model_label.setText(f"Model: {text}")

    def _on_model_status(self, status: ModelStatus) -> None:
        self.set_model_status(status.text)
        if not self.controller.running:
            self._set_idle("Model ready — type a task and press Run" if status.state == "ready" else "Idle")
        if status.state == "ready":
            self.voice_hotkeys.model_ready()

    def _on_model_error(self, exc: object) -> None:
        log.warning("the model failed to load: %s", exc)
        if not isinstance(exc, OmnideskError) and isinstance(exc, BaseException):
            self.reporter.report(exc)  # a bug, not a bad file: the crash dialog with the trace

    def close_if_closing(self, *_args: object) -> None:
        """A worker ended: if the person asked to close meanwhile, close now (see ``closeEvent``)."""
        if self._closing:
            self.close()

    def _run_blocked(self) -> str | None:
        """Why a task cannot run now (None: it can)."""
        if self.history.ask.asking:
            return "The model is answering a question about a recording; wait or stop it in History"
        if self.teach is not None and self.teach.state == "describing":
            return "The model is watching your demonstration; wait for its review"
        return self.loader.waiting_reason() if self.controller.available else self._unavailable_reason

    # --- runs -----------------------------------------------------------------------------------------

    def start_run(self, task: str, voice: AudioClip | None = None) -> None:
        blocked = self._run_blocked()
        request = RunRequest(task, self.task_bar.dry_run, self.task_bar.selected_monitor(), voice)
        if blocked is not None or not self.controller.start(request):
            self.state_label.setText(blocked or self._unavailable_reason)

    def _on_run_started(self, request: RunRequest) -> None:
        self.timeline.clear()
        self.details.show_step(None)
        self.preview.clear("Waiting for the first step…")
        self._set_state("running", f"Running: {request.task}")
        self.out_of_the_way.run_started(request.monitor)

    def _on_stepped(self, step: Step) -> None:
        self.timeline.add_step(step)
        state = "paused" if self.controller.paused else "running"
        self._set_state(state, f"Step {step.index}: {describe_actions(step.actions, step.target)}")

    def _on_step_selected(self, step: Step) -> None:
        overlay = build_overlay(step, self._latest_overview)
        if overlay.image is not None:
            self._latest_overview = overlay.image
        self.preview.show_overlay(overlay)
        self.details.show_step(step)

    def _on_pause_changed(self, paused: bool) -> None:
        if paused:
            self._set_state("paused", "Paused — press Resume to go on")
            self.come_back(keep_hidden_flag=True)
        else:
            self._set_state("running", "Running")
            self.out_of_the_way.hide_again()

    def _on_run_error(self, exc: object) -> None:
        if isinstance(exc, BaseException):
            self.reporter.report(exc)

    def _on_rerun_requested(self, task: str) -> None:
        self.task_bar.task_edit.setText(task)
        self.side_tabs.setCurrentIndex(0)
        self.task_bar.task_edit.setFocus()

    def _on_side_tab_changed(self, index: int) -> None:
        if self.side_tabs.widget(index) is self.history:
            self.history.refresh()
        elif self.side_tabs.widget(index) is self.automations:
            self.saved.refresh()

    def _on_run_finished(self, outcome: str) -> None:
        self.confirm_bar.dismiss()
        if self.side_tabs.currentWidget() is self.history:
            self.history.refresh()
        steps = self.timeline.topLevelItemCount()
        self._set_idle(f"Run {outcome} after {steps} step{'s' if steps != 1 else ''}")
        if self.out_of_the_way.hidden_for_run:
            self.come_back()
        if self._closing:
            self.close()
        elif self._reload_after_run:
            self._reload_after_run = False
            self.loader.load()

    def _set_idle(self, status: str = "Idle") -> None:
        blocked = self._run_blocked()
        if blocked is not None:
            self._set_state("unavailable", blocked)
            self.task_bar.run_button.setEnabled(False)
            self.task_bar.run_button.setToolTip(blocked)
            return
        self.task_bar.run_button.setToolTip("")
        self._set_state("idle", status)

    def _set_state(self, state: str, status: str) -> None:
        self.task_bar.set_state(state)
        self.state_label.setText(status)
        if self.tray is not None:
            self.tray.set_state(state, f"Omnidesk — {status}")

    # --- automations ---------------------------------------------------------------------------------

    def _on_run_automation(self, automation: Automation) -> None:
        if self.controller.running:
            self.state_label.setText(f"A run is going; stop it before starting “{automation.name}”")
            return
        self.task_bar.dry_run_box.setChecked(automation.dry_run)
        if automation.monitor:
            self.task_bar.select_monitor(automation.monitor)
        if automation.kind == "prompt":
            self.task_bar.task_edit.setText(automation.task)
        blocked = self._run_blocked() if automation.kind == "prompt" else None  # a replay needs no model
        if blocked is not None or not self.controller.start(
            automation_request(automation, self.task_bar.selected_monitor())
        ):
            self.state_label.setText(blocked or self._unavailable_reason)

    def run_automation_named(self, name: str) -> None:
        automation = self.saved.get(name)
        if automation is not None:
            self._on_run_automation(automation)

    def _on_taught(self, name: str) -> None:
        self.saved.refresh()
        self.automations.select(name)

    def _on_save_automation(self, name: str) -> None:
        task, monitor = self.task_bar.task_edit.text().strip(), self.task_bar.selected_monitor()
        self.saved.save_prompt(name, task, dry_run=self.task_bar.dry_run, monitor=monitor.name if monitor else "")

    def _on_save_replay(self, name: str) -> None:
        chosen = self.history.bundle
        self.saved.save_replay(name, chosen.folder if chosen is not None else None)

    # --- settings ------------------------------------------------------------------------------------

    def _on_settings_requested(self) -> None:
        dialog = SettingsDialog(self.settings, self)
        dialog.accepted.connect(self._on_settings_saved)
        self.settings_dialog = dialog
        dialog.open()

    def _on_settings_saved(self) -> None:
        dialog = self.settings_dialog
        result = dialog.result_settings() if dialog is not None else None
        if dialog is None or result is None:
            return
        if self.paths is not None:
            try:
                result = save_edited(result, self.paths, dialog.fixed, self._api_keys, forget_key=dialog.forget_key())
            except ConfigError as exc:
                self.reporter.report(exc)
                return
        self.apply_settings(result)
        if self.paths is None:
            self.state_label.setText(self.state_label.text() + " (for this session: no settings file)")

    def apply_settings(self, settings: object) -> None:
        """Put new settings in force without a restart: the runner's next runs, hotkeys, the model."""
        assert isinstance(settings, Settings)
        change = settings_change(self.settings, settings)
        self.settings = settings
        self.out_of_the_way.enabled = settings.gui.hide_during_run
        if self.teach is not None:
            self.teach.settings = settings  # the next demonstration (its hotkey, deny-list, recording)
        if self._on_settings_changed is not None:
            self._on_settings_changed(settings)
        audio_live, problem = self.voice_hotkeys.apply_settings(settings, audio=change.audio, hotkeys=change.hotkeys)
        message = change.describe(running=self.controller.running, audio_live=audio_live)
        if problem is not None:
            message += f" — but no global hotkeys: {problem}"
        if change.model:
            if self.controller.running:
                self._reload_after_run = True
            else:
                self.loader.load()
        self.state_label.setText(message)

    # --- confirmations --------------------------------------------------------------------------------

    def _on_confirmation_requested(self, request: ConfirmationRequest) -> None:
        self.come_back(keep_hidden_flag=True)
        self.confirm_bar.ask_confirmation(request)
        self.state_label.setText("Waiting for your answer — the run holds until you choose")

    def _on_question_asked(self, question: str) -> None:
        self.come_back(keep_hidden_flag=True)
        self.confirm_bar.ask_question(question)
        self.state_label.setText("The agent asked you something — answer above to go on")

    def _on_confirmation_settled(self) -> None:
        self.confirm_bar.dismiss()
        if self.controller.running and not self.controller.paused:
            self.out_of_the_way.hide_again()

    # --- getting out of the way -----------------------------------------------------------------------

    def come_back(self, keep_hidden_flag: bool = False) -> None:
        """Show the window again (tray Show, run end, a question that needs the person)."""
        self.out_of_the_way.come_back(keep_hidden_flag)

    @property
    def hidden_for_run(self) -> bool:
        return self.out_of_the_way.hidden_for_run

    # --- closing --------------------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent | None) -> None:  # noqa: N802 - Qt override
        """Closing during a run stops it first and closes once the worker has ended (never blocks)."""
        assert event is not None
        setup = self.model_area.setup
        teaching = self.teach is not None and self.teach.busy
        busy = self.controller.running or self.loader.busy or self.voice_hotkeys.busy or teaching
        busy = busy or (setup is not None and setup.busy) or self.history.ask.asking
        if busy:
            self._closing = True
            self.state_label.setText("Stopping the run before closing…")
            self.controller.stop()
            self.loader.abort()
            self.history.ask.stop()
            if setup is not None:
                setup.cancel()
            self.voice_hotkeys.abort()
            if self.teach is not None:
                self.teach.abort()
            event.ignore()
            return
        if self.tray is not None:
            self.tray.hide()
        if self.hotkeys is not None:
            self.hotkeys.stop()
        event.accept()
