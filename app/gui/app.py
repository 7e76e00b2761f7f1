"""Start the desktop app: check the display, create the QApplication, the tray and the main window.

``omnidesk`` with no sub-command lands here (``app/cli.py``). By default the agent is
:class:`GuiAgentRunner` over the composition root (model from settings, loaded on a worker once the
window shows), and with no model the window's first-run panel sets one up (:class:`ModelSetup`: downloads
from ``model.hub_endpoint`` or huggingface.co, engine tests). Tests and embedders pass
``build_runner(confirmer) -> Runner`` instead: it must be cheap (it runs on the GUI thread); slow loading
belongs in ``status_source``, which runs on a worker. :func:`open_gui` builds and wires everything without
running the event loop (what :func:`run_gui` and the window's end-to-end tests share).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from omnidesk.agent.errors import PerceptionError
from omnidesk.agent.geometry import MonitorInfo, Rect
from omnidesk.agent.ports import Microphone
from omnidesk.app.settings import AppPaths, Settings

__all__ = ["EXIT_NO_DISPLAY", "GuiSession", "open_gui", "qt_monitors", "run_gui"]

log = logging.getLogger(__name__)

EXIT_NO_DISPLAY = 2

if TYPE_CHECKING:  # PyQt6 stays out of this module's import (the display check comes first)
    from PyQt6.QtWidgets import QApplication

    from omnidesk.app.gui.agent_runner import GuiAgentRunner
    from omnidesk.app.gui.confirmer import QtConfirmer
    from omnidesk.app.gui.controller import Runner
    from omnidesk.app.gui.main_window import MainWindow
    from omnidesk.app.gui.model_loader import StatusSource
    from omnidesk.app.gui.single_instance import InstanceServer
    from omnidesk.app.gui.tray import TrayIcon
    from omnidesk.app.hotkeys import GlobalHotkeys
    from omnidesk.runtime.config import AudioConfig


def _check_display(environ: Mapping[str, str]) -> str | None:
    """None if there is a display Omnidesk can use, else the message to print (Qt would abort with exit 134)."""
    from omnidesk.app.compose import choose_platform

    try:
        choose_platform(environ)
    except PerceptionError as exc:
        return f"Omnidesk cannot open its window: {exc}"
    return None


def qt_monitors() -> list[MonitorInfo]:
    """Monitors as Qt sees them (RandR outputs, device pixels), numbered like mss: 1..n, left to right."""
    from PyQt6.QtGui import QGuiApplication

    primary = QGuiApplication.primaryScreen()
    screens = sorted(QGuiApplication.screens(), key=lambda s: (s.geometry().x(), s.geometry().y()))
    monitors = []
    for index, screen in enumerate(screens, start=1):
        g, ratio = screen.geometry(), screen.devicePixelRatio()
        rect = Rect(round(g.x() * ratio), round(g.y() * ratio), round(g.width() * ratio), round(g.height() * ratio))
        monitors.append(MonitorInfo(index, screen.name(), rect, ratio, primary=screen is primary))
    return monitors


def run_gui(
    settings: Settings,
    paths: AppPaths,
    *,
    build_runner: Callable[[QtConfirmer], Runner | None] | None = None,
    status_source: StatusSource | None = None,
    monitors: Sequence[MonitorInfo] | None = None,
    microphone: Microphone | None = None,
    environ: Mapping[str, str] | None = None,
    argv: Sequence[str] = ("omnidesk",),
    instance_socket: Path | None = None,
) -> int:
    """Open the window and run the event loop; returns the exit code (2: no usable display)."""
    problem = _check_display(os.environ if environ is None else environ)
    if problem is not None:
        print(problem, file=sys.stderr)
        return EXIT_NO_DISPLAY
    from PyQt6.QtCore import QTimer

    session = open_gui(
        settings,
        paths,
        build_runner=build_runner,
        status_source=status_source,
        monitors=monitors,
        microphone=microphone,
        argv=argv,
        instance_socket=instance_socket,
    )
    restore = _close_on_signals(session.window.close)
    # Python runs signal handlers only when it gets control; a slow timer gives it some.
    ticker = QTimer()
    ticker.timeout.connect(lambda: None)
    ticker.start(200)
    try:
        session.start()
        return int(session.app.exec())
    finally:
        ticker.stop()
        session.close()
        restore()


@dataclass
class GuiSession:
    """The opened app: the window and what it holds open; :meth:`start` shows it, :meth:`close` ends it."""

    app: QApplication
    window: MainWindow
    tray: TrayIcon | None
    hotkeys: GlobalHotkeys
    agent_runner: GuiAgentRunner | None
    microphone: Microphone | None
    instance_server: InstanceServer | None

    def start(self) -> None:
        """Show the tray and the window and start loading the model (on a worker)."""
        if self.tray is not None:
            self.tray.show()
        self.window.show()
        self.window.start_status_source()

    def close(self) -> None:
        """Free what the session holds (after the event loop, or at the end of a test)."""
        if self.instance_server is not None:
            self.instance_server.close()
        self.hotkeys.stop()
        if self.agent_runner is not None:
            self.agent_runner.close()
        current = self.window.voice.microphone if self.window.voice is not None else self.microphone
        close_microphone = getattr(current, "close", None)
        if close_microphone is not None:
            close_microphone()
        self.window.reporter.uninstall()
        log.info("GUI closed")


def open_gui(
    settings: Settings,
    paths: AppPaths,
    *,
    build_runner: Callable[[QtConfirmer], Runner | None] | None = None,
    status_source: StatusSource | None = None,
    monitors: Sequence[MonitorInfo] | None = None,
    microphone: Microphone | None = None,
    argv: Sequence[str] = ("omnidesk",),
    instance_socket: Path | None = None,
) -> GuiSession:
    """The GUI's composition: the QApplication, the agent runner, the model setup, the tray, the hotkeys and
    the window, wired but not shown (the display must have been checked)."""
    from PyQt6.QtWidgets import QApplication, QSystemTrayIcon

    from omnidesk.app.compose import build_api_key_store, build_hotkeys, build_microphone, build_model_store
    from omnidesk.app.doctor_model import measure_machine
    from omnidesk.app.gui.agent_runner import GuiAgentRunner
    from omnidesk.app.gui.confirmer import QtConfirmer
    from omnidesk.app.gui.main_window import MainWindow
    from omnidesk.app.gui.model_setup import ModelSetup
    from omnidesk.app.gui.style import apply_style
    from omnidesk.app.gui.tray import TrayIcon, app_icon
    from omnidesk.runtime.system_probe import probe_remote

    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(list(argv))
    app.setApplicationName("Omnidesk")
    app.setDesktopFileName("omnidesk")
    app.setWindowIcon(app_icon())
    apply_style(app)
    confirmer = QtConfirmer()
    api_keys = build_api_key_store()
    shown = qt_monitors() if monitors is None else list(monitors)
    primary = next((m for m in shown if m.primary), shown[0] if shown else None)
    screen = (primary.geometry.width, primary.geometry.height) if primary is not None else (1920, 1080)
    agent_runner: GuiAgentRunner | None = None
    setup: ModelSetup | None = None
    microphone_factory: Callable[[AudioConfig], Microphone] | None = None
    if build_runner is not None:
        runner = build_runner(confirmer)
    else:  # the real agent: model from settings, loaded on a worker once the window shows
        agent_runner = GuiAgentRunner(settings, paths, confirmer)
        runner = agent_runner
        status_source = status_source or agent_runner.load
        # Opened on first push-to-talk, on the recorder's worker; no microphone = a message then.
        if microphone is None:  # built here, so reopened here with changed audio settings
            microphone = build_microphone(settings)
            microphone_factory = _microphone_factory(settings)
        setup = ModelSetup(
            lambda: agent_runner.settings if agent_runner is not None else settings,
            paths,
            lambda current: build_model_store(current, paths),
            probe_remote,
            machine=lambda: measure_machine(screen),  # the step estimate counts this monitor's screenshots
            api_keys=api_keys,
        )
    tray = TrayIcon() if QSystemTrayIcon.isSystemTrayAvailable() else None
    hotkeys = build_hotkeys(settings)
    hotkeys_problem = hotkeys.start()
    window = MainWindow(
        settings,
        runner,
        monitors=shown,
        confirmer=confirmer,
        status_source=status_source,
        tray=tray,
        hotkeys=None if hotkeys_problem else hotkeys,
        paths=paths,
        microphone=microphone,
        microphone_factory=microphone_factory,
        interpreter=agent_runner,
        setup=setup,
        on_settings_changed=agent_runner.update_settings if agent_runner is not None else None,
        api_keys=api_keys,
        recording_asker=agent_runner.ask_recording if agent_runner is not None else None,
        teach_describer=agent_runner.describe_demonstration if agent_runner is not None else None,
    )
    if setup is not None:
        setup.setParent(window)
    if hotkeys_problem is not None:
        window.state_label.setText(f"No global hotkeys: {hotkeys_problem}")
    log.info("GUI started (settings in %s, tray: %s)", paths.settings_file, tray is not None)
    window.reporter.install()
    instance_server = None
    if instance_socket is not None:  # the caller holds the instance lock: a second launch knocks here
        from omnidesk.app.gui.single_instance import InstanceServer

        instance_server = InstanceServer(instance_socket)
        instance_server.activation_requested.connect(window.come_back)
        instance_server.listen()
    return GuiSession(app, window, tray, hotkeys, agent_runner, microphone, instance_server)


def _close_on_signals(close: Callable[[], object]) -> Callable[[], None]:
    """SIGINT/SIGTERM close the window (stopping a run cleanly) instead of killing the process."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: closing the window", signum)
        close()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore


def _microphone_factory(settings: Settings) -> Callable[[AudioConfig], Microphone]:
    """How the session's microphone is opened again when the audio settings change."""
    from omnidesk.app.compose import build_microphone

    return lambda audio: build_microphone(settings.model_copy(update={"audio": audio}))
