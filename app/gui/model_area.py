"""The window's left side: the live view once a model is ready, the first-run setup panel until then.

It wires the setup panel to :class:`ModelSetup` (downloads, engine tests) and follows the model loader:
with no model, or after a failed load, the panel shows (with the reason); once the model is ready the live
view comes back. A newly configured model or engine goes out through :attr:`ModelArea.configured`, which the
window applies like any settings change (the runner gets the settings, the loader loads).
"""

from __future__ import annotations

import logging

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import QPushButton, QStackedWidget, QWidget

from omnidesk.app.gui.model_loader import ModelLoader, ModelStatus
from omnidesk.app.gui.model_setup import ModelSetup
from omnidesk.app.gui.setup_panel import SetupPanel

__all__ = ["ModelArea"]

log = logging.getLogger(__name__)


class ModelArea(QStackedWidget):
    """Signals:
    configured(object): settings with a new model or engine, saved; the window applies them.
    """

    configured = pyqtSignal(object)

    def __init__(
        self, live_view: QWidget, loader: ModelLoader, setup: ModelSetup | None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.live_view = live_view
        self.panel = SetupPanel(self)
        self.change_button = QPushButton("Change model…", self)  # for the status bar
        self.change_button.setObjectName("change_model")
        self.change_button.setFlat(True)
        self.change_button.setVisible(setup is not None)
        self.loader = loader
        self.setup = setup
        self._listed = False
        self.addWidget(live_view)
        self.addWidget(self.panel)
        self._connect()

    def _connect(self) -> None:
        self.loader.status.connect(self._on_model_status)
        self.panel.back_requested.connect(self.show_live_view)
        self.change_button.clicked.connect(self.show_setup)
        setup, panel = self.setup, self.panel
        if setup is None:
            return
        panel.refresh_requested.connect(setup.list_choices)
        panel.download_requested.connect(setup.download)
        panel.cancel_requested.connect(setup.cancel)
        panel.test_requested.connect(setup.probe)
        panel.use_engine_requested.connect(setup.use_engine)
        setup.listing.connect(panel.show_listing)
        setup.choices_listed.connect(panel.show_choices)
        setup.listing_failed.connect(panel.show_listing_error)
        setup.download_started.connect(panel.download_started)
        setup.progress.connect(panel.show_progress)
        setup.stage.connect(panel.show_stage)
        setup.download_ended.connect(self._on_download_ended)
        setup.probed.connect(panel.show_probe_result)
        setup.probe_failed.connect(panel.show_probe_error)
        setup.configured.connect(self._on_configured)
        setup.busy_changed.connect(panel.set_busy)

    @property
    def showing_setup(self) -> bool:
        return self.currentWidget() is self.panel

    def show_setup(self) -> None:
        """Show the panel (listing the downloads the first time)."""
        self.panel.set_model_ready(self.loader.state == "ready")
        self.setCurrentWidget(self.panel)
        if self.setup is not None and not self._listed and self.setup.list_choices():
            self._listed = True

    def show_live_view(self) -> None:
        self.setCurrentWidget(self.live_view)

    def _on_model_status(self, status: ModelStatus) -> None:
        self.panel.set_model_ready(status.state == "ready")
        if status.state == "ready":
            if self.showing_setup:
                self.panel.show_model_status(f"Ready: {status.text}")
            self.show_live_view()
        elif status.state == "loading":
            self.panel.show_model_status(f"Model: {status.text}")
        elif status.state == "missing":
            self.show_setup()
        else:
            reason = status.text.removeprefix("failed to load: ")
            self.panel.show_model_status(
                f"The model could not be loaded: {reason} — choose another below, or fix it in Settings.",
                failed=True,
            )
            self.show_setup()

    def _on_download_ended(self, outcome: str, message: str) -> None:
        self.panel.download_ended(outcome, message)

    def _on_configured(self, settings: object) -> None:
        self.panel.show_model_status("Loading the model…")
        self.configured.emit(settings)
