"""The first-run panel: pick a download that fits this machine and watch it arrive, or use an engine you run.

A view only: it shows what :class:`~omnidesk.app.gui.model_setup.ModelSetup` and the model loader report
and turns clicks into signals; the work happens on their worker threads.
"""

from __future__ import annotations

from collections.abc import Sequence

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from omnidesk.app.doctor_model import Machine
from omnidesk.app.model_choices import ModelChoice
from omnidesk.app.model_files import describe_progress, format_bytes
from omnidesk.runtime.hub_download import DownloadProgress
from omnidesk.runtime.urls import redact_url

__all__ = ["SetupPanel"]

_ROLE = Qt.ItemDataRole.UserRole


class SetupPanel(QWidget):
    """Signals:
    refresh_requested(): list the downloads again (after a network error).
    download_requested(object): download and load this :class:`ModelChoice`.
    cancel_requested(): stop the download in progress (what arrived is kept).
    test_requested(str, str): probe the engine at this URL with this API key.
    use_engine_requested(str, str, str): use the engine (URL, API key, model id it serves).
    back_requested(): back to the live view (a model is ready).
    """

    refresh_requested = pyqtSignal()
    download_requested = pyqtSignal(object)
    cancel_requested = pyqtSignal()
    test_requested = pyqtSignal(str, str)
    use_engine_requested = pyqtSignal(str, str, str)
    back_requested = pyqtSignal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("setup_panel")
        self.title = QLabel("Set up a model", self)
        self.title.setObjectName("setup_title")
        self.back_button = QPushButton("Back to the live view", self)
        self.back_button.setObjectName("setup_back")
        self.intro = QLabel(
            "Omnidesk runs its model on this machine. Pick a download that fits — or use an engine you "
            "already run. Nothing else to install, no restart.",
            self,
        )
        self.intro.setWordWrap(True)
        self.machine_label = QLabel("Measuring this machine and listing the downloads…", self)
        self.machine_label.setObjectName("setup_machine")
        self.machine_label.setWordWrap(True)
        self.choices = QTreeWidget(self)
        self.choices.setObjectName("setup_choices")
        self.choices.setHeaderLabels(["Model", "Download", "This machine", "One step"])
        self.choices.setRootIsDecorated(False)
        self.choices.setAlternatingRowColors(True)
        self.choices.setColumnWidth(0, 400)
        self.choices.setColumnWidth(1, 190)
        self.choices.setColumnWidth(2, 150)
        self.choices.setMinimumHeight(110)
        self.choices.setMaximumHeight(220)
        self.choice_detail = QLabel(self)
        self.choice_detail.setObjectName("setup_detail")
        self.choice_detail.setWordWrap(True)
        self.download_button = QPushButton("Download and use", self)
        self.download_button.setObjectName("download_button")
        self.cancel_button = QPushButton("Cancel download", self)
        self.cancel_button.setObjectName("cancel_download")
        self.retry_button = QPushButton("List again", self)
        self.source_label = QLabel(self)
        self.source_label.setObjectName("setup_source")
        self.progress_bar = QProgressBar(self)
        self.progress_bar.setObjectName("download_progress")
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setTextVisible(False)
        self.progress_label = QLabel(self)
        self.progress_label.setObjectName("download_status")
        self.progress_label.setWordWrap(True)
        self.url_edit = QLineEdit(self)
        self.url_edit.setObjectName("engine_url")
        self.url_edit.setPlaceholderText("http://gpu-server:8080  (llama.cpp server, vLLM, NIM — OpenAI-compatible)")
        self.key_edit = QLineEdit(self)
        self.key_edit.setObjectName("engine_key")
        self.key_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.key_edit.setPlaceholderText("API key (if it needs one)")
        self.test_button = QPushButton("Test", self)
        self.test_button.setObjectName("test_engine")
        self.use_engine_button = QPushButton("Use this engine", self)
        self.use_engine_button.setObjectName("use_engine")
        self.engine_label = QLabel(self)
        self.engine_label.setObjectName("engine_status")
        self.engine_label.setWordWrap(True)
        self.error_label = QLabel(self)
        self.error_label.setObjectName("setup_error")
        self.error_label.setWordWrap(True)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._served: tuple[str, str] | None = None  # (url, model id) of the last good test
        self._downloading = False
        self._busy = False
        self._layout()
        self.choices.currentItemChanged.connect(self._on_choice_changed)
        self.download_button.clicked.connect(self._on_download)
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.retry_button.clicked.connect(self.refresh_requested)
        self.test_button.clicked.connect(self._on_test)
        self.url_edit.returnPressed.connect(self._on_test)
        self.url_edit.textChanged.connect(self._on_url_edited)
        self.use_engine_button.clicked.connect(self._on_use_engine)
        self.back_button.clicked.connect(self.back_requested)
        self._set_download_controls()
        self.use_engine_button.setEnabled(False)
        self.progress_bar.hide()
        self.retry_button.hide()
        self.back_button.hide()

    def _layout(self) -> None:
        download = QGroupBox("Download a model", self)
        grid = QVBoxLayout(download)
        grid.addWidget(self.choices)
        grid.addWidget(self.choice_detail)
        buttons = QHBoxLayout()
        buttons.addWidget(self.download_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.retry_button)
        buttons.addStretch(1)
        buttons.addWidget(self.source_label)
        grid.addLayout(buttons)
        grid.addWidget(self.progress_bar)
        grid.addWidget(self.progress_label)
        engine = QGroupBox("Or use an engine you run", self)
        form = QGridLayout(engine)
        form.addWidget(QLabel("URL", engine), 0, 0)
        form.addWidget(self.url_edit, 0, 1)
        form.addWidget(self.key_edit, 0, 2)
        form.addWidget(self.test_button, 0, 3)
        form.addWidget(self.engine_label, 1, 1, 1, 2)
        form.addWidget(self.use_engine_button, 1, 3)
        form.setColumnStretch(1, 3)
        form.setColumnStretch(2, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 14, 18, 14)
        layout.setSpacing(10)
        header = QHBoxLayout()
        header.addWidget(self.title, 1)
        header.addWidget(self.back_button)
        layout.addLayout(header)
        layout.addWidget(self.intro)
        layout.addWidget(self.machine_label)
        layout.addWidget(download)
        layout.addWidget(engine)
        layout.addWidget(self.error_label)
        layout.addStretch(1)

    # --- what the workers report ---------------------------------------------------------------------

    def set_busy(self, busy: bool) -> None:
        """A setup job runs (listing, download, engine test): one at a time, so the others wait."""
        self._busy = busy
        self.test_button.setEnabled(not busy)
        self.retry_button.setEnabled(not busy)
        self._set_download_controls()

    def set_model_ready(self, ready: bool) -> None:
        """With a model ready the panel is a place to change it: offer the way back."""
        self.back_button.setVisible(ready)

    def show_listing(self, source: str) -> None:
        """A listing started (on a worker)."""
        self.source_label.setText(f"from {source}")
        self.machine_label.setText("Measuring this machine and listing the downloads…")
        self.retry_button.hide()
        self.error_label.clear()

    def show_choices(self, choices: Sequence[ModelChoice], machine: Machine) -> None:
        self.machine_label.setText(_describe_machine(machine))
        self.choices.clear()
        chosen: QTreeWidgetItem | None = None
        for choice in choices:
            title = choice.title + (" — recommended" if choice.recommended else "")
            item = QTreeWidgetItem([title, choice.size_text, choice.fit_text, choice.speed_text])
            item.setData(0, _ROLE, choice)
            item.setToolTip(0, choice.explanation)
            if not choice.fits:
                for column in range(4):
                    item.setForeground(column, self.palette().placeholderText())
            self.choices.addTopLevelItem(item)
            if choice.recommended or (chosen is None and choice.fits):
                chosen = item
        if chosen is not None:
            self.choices.setCurrentItem(chosen)
        self._set_download_controls()

    def show_listing_error(self, message: str) -> None:
        self.machine_label.setText("The downloads could not be listed.")
        self.error_label.setText(message)
        self.retry_button.show()

    def show_progress(self, progress: DownloadProgress) -> None:
        self.progress_bar.show()
        self.progress_bar.setValue(round(progress.fraction * 1000))
        self.progress_label.setText(describe_progress(progress))

    def show_stage(self, text: str) -> None:
        self.progress_label.setText(text)

    def download_started(self) -> None:
        self._downloading = True
        self.error_label.clear()
        self.progress_bar.show()
        self.progress_bar.setValue(0)
        self.progress_label.setText("Starting the download…")
        self._set_download_controls()

    def download_ended(self, outcome: str, message: str = "") -> None:
        """``installed``, ``cancelled`` (the part is kept) or ``failed`` (``message`` says what to do)."""
        self._downloading = False
        if outcome == "cancelled":
            self.progress_label.setText(
                "Download cancelled — what arrived is kept; Download continues where it stopped."
            )
        elif outcome == "failed":
            self.progress_label.setText("The download stopped.")
            self.error_label.setText(message)
        self._set_download_controls()

    def show_model_status(self, text: str, failed: bool = False) -> None:
        """The loader's line (``Loading …``, ``ready``), or why loading failed."""
        if failed:
            self.error_label.setText(text)
        else:
            self.progress_label.setText(text)

    def show_probe_result(self, url: str, models: Sequence[str]) -> None:
        model = models[0] if models else ""
        self._served = (url, model)
        served = ", ".join(models[:3]) or "no model listed"
        self.engine_label.setText(f"✓ {redact_url(url)} answers and serves {served}.")  # shown: no credentials
        self.use_engine_button.setEnabled(True)

    def show_probe_error(self, message: str) -> None:
        self._served = None
        self.engine_label.setText(f"✗ {message}")
        self.use_engine_button.setEnabled(False)

    # --- clicks ----------------------------------------------------------------------------------------

    def selected_choice(self) -> ModelChoice | None:
        item = self.choices.currentItem()
        choice = item.data(0, _ROLE) if item is not None else None
        return choice if isinstance(choice, ModelChoice) else None

    def _on_choice_changed(self) -> None:
        choice = self.selected_choice()
        self.choice_detail.setText(choice.explanation if choice is not None else "")
        self._set_download_controls()

    def _on_download(self) -> None:
        choice = self.selected_choice()
        if choice is not None and not self._downloading:
            self.download_requested.emit(choice)

    def _on_test(self) -> None:
        url = self.url_edit.text().strip()
        if not url:
            self.show_probe_error("type the engine's URL first, e.g. http://127.0.0.1:8080")
            return
        self.engine_label.setText(f"Asking {redact_url(url)} which models it serves…")
        self.use_engine_button.setEnabled(False)
        self.test_requested.emit(url, self.key_edit.text())

    def _on_url_edited(self) -> None:
        self._served = None
        self.use_engine_button.setEnabled(False)

    def _on_use_engine(self) -> None:
        if self._served is not None:
            url, model = self._served
            self.use_engine_requested.emit(url, self.key_edit.text(), model)

    def _set_download_controls(self) -> None:
        self.download_button.setEnabled(not self._busy and self.selected_choice() is not None)
        self.cancel_button.setEnabled(self._downloading)
        self.choices.setEnabled(not self._downloading)


def _describe_machine(machine: Machine) -> str:
    memory = machine.memory
    gpu = (
        f"{memory.gpu_name or 'a GPU'} with {format_bytes(memory.free_vram)} free"
        if memory.gpu_offload_supported and memory.free_vram
        else "no GPU llama.cpp can use"
    )
    return (
        f"This machine: {format_bytes(memory.free_ram)} of free RAM, {gpu}, about "
        f"{machine.speed.cpu_gflops:.0f} GFLOP/s on the CPU. Each download below is judged from its "
        "file headers: whether it fits, and how long one agent step would take with screenshots of a "
        f"{machine.screen[0]}×{machine.screen[1]} monitor."
    )
