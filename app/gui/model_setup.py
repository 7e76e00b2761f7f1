"""Setting a model up from inside the window: list what fits, download, check, configure — or test an
engine URL — each on a worker thread, reported through signals.

One job at a time. A download reports progress from its worker (at most ten times a second); ``cancel``
reaches into it between network reads, and what arrived is kept for the next try. When a model is
configured, :attr:`ModelSetup.configured` carries the settings now in force: the window hands them to the
runner and loads the model (``model_loader.py``) — no terminal, no restart.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from PyQt6.QtCore import QObject, QThread, pyqtSignal

from omnidesk.agent.errors import ModelError, OmnideskError
from omnidesk.agent.ports import CancelToken
from omnidesk.app.doctor_model import Machine, measure_machine
from omnidesk.app.gui.worker import GeneratorWorker, start_worker
from omnidesk.app.model_choices import ModelChoice, list_choices
from omnidesk.app.model_files import configure_model
from omnidesk.app.settings import ApiKeys, AppPaths, Settings
from omnidesk.runtime.hub_download import DownloadProgress
from omnidesk.runtime.model_store import ModelStore

__all__ = ["EngineProbe", "ModelSetup", "StoreFactory"]

log = logging.getLogger(__name__)

StoreFactory = Callable[[Settings], ModelStore]
"""``compose.build_model_store`` bound to the data dir: the store for the settings now in force."""
EngineProbe = Callable[[str, str], list[str]]
"""``(url, api key) -> model ids`` the OpenAI-compatible engine serves (``system_probe.probe_remote``)."""

_PROGRESS_EVERY = 0.1


@dataclass(frozen=True, slots=True)
class _Event:
    kind: str
    value: object = None


class ModelSetup(QObject):
    """Signals:
    listing(str): a listing started, from this Hub or mirror.
    choices_listed(object, object): the ``list[ModelChoice]`` and the :class:`Machine` they were judged on.
    listing_failed(str): why nothing could be listed, and what to do.
    download_started(): a download began.
    progress(object): a :class:`DownloadProgress`.
    stage(str): what the download job does now (checking the files, saving the choice).
    download_ended(str, str): outcome ``installed``, ``cancelled`` or ``failed``, and the message.
    probed(str, object): the URL and the model ids it serves.
    probe_failed(str): why the engine did not answer as it should, and what to do.
    configured(object): the :class:`Settings` now in force, with the new model or engine set.
    busy_changed(bool): a job started (True) or ended (False).
    """

    listing = pyqtSignal(str)
    choices_listed = pyqtSignal(object, object)
    listing_failed = pyqtSignal(str)
    download_started = pyqtSignal()
    progress = pyqtSignal(object)
    stage = pyqtSignal(str)
    download_ended = pyqtSignal(str, str)
    probed = pyqtSignal(str, object)
    probe_failed = pyqtSignal(str)
    configured = pyqtSignal(object)
    busy_changed = pyqtSignal(bool)

    def __init__(
        self,
        settings: Callable[[], Settings],
        paths: AppPaths,
        store_factory: StoreFactory,
        probe: EngineProbe,
        *,
        machine: Callable[[], Machine] = measure_machine,
        api_keys: ApiKeys | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._api_keys = api_keys
        self._settings = settings
        self._paths = paths
        self._store_factory = store_factory
        self._probe = probe
        self._measure = machine
        self._machine: Machine | None = None
        self._worker: GeneratorWorker | None = None
        self._thread: QThread | None = None
        self._job = ""
        self._failure = ""
        self._last_progress = 0.0
        self._progress_lock = threading.Lock()

    @property
    def busy(self) -> bool:
        return self._thread is not None

    # --- jobs (GUI thread starts them, workers run them) -----------------------------------------------

    def list_choices(self) -> bool:
        """List the downloads with their fit; False if another job runs."""
        settings = self._settings()
        started = self._start("list", lambda cancel: self._list(settings))
        if started:
            self.listing.emit(settings.model.hub_endpoint or "huggingface.co")
        return started

    def download(self, choice: ModelChoice) -> bool:
        """Download, check and configure ``choice``; False if another job runs."""
        settings = self._settings()
        started = self._start("download", lambda cancel: self._download(settings, choice, cancel))
        if started:
            self.download_started.emit()
        return started

    def probe(self, url: str, api_key: str) -> bool:
        """Ask the engine at ``url`` which models it serves; False if another job runs."""
        if not url.startswith(("http://", "https://")):
            self.probe_failed.emit(f"{url} is not an engine URL: it starts with http:// or https://")
            return False
        return self._start("probe", lambda cancel: self._probe_job(url, api_key))

    def use_engine(self, url: str, api_key: str, model: str) -> None:
        """Make the tested engine the model (a small settings write; the load happens on the loader)."""
        try:
            settings = configure_model(
                self._paths, api_keys=self._api_keys, remote_url=url, remote_model=model, remote_api_key=api_key
            )
        except OmnideskError as exc:
            self.probe_failed.emit(str(exc))
            return
        self.configured.emit(settings)

    def cancel(self) -> None:
        """Stop the job in progress (a download keeps what arrived)."""
        if self._worker is not None:
            self._worker.abort()

    def wait(self, timeout_ms: int) -> bool:
        """Block until the job's thread ends (only for shutdown); True if it has."""
        return self._thread is None or self._thread.wait(timeout_ms)

    # --- the jobs themselves (worker thread) -----------------------------------------------------------

    def _list(self, settings: Settings) -> Iterator[_Event]:
        if self._machine is None:
            self._machine = self._measure()
        choices = list_choices(settings, self._store_factory(settings), self._machine)
        yield _Event("choices", (choices, self._machine))

    def _download(self, settings: Settings, choice: ModelChoice, cancel: CancelToken) -> Iterator[_Event]:
        store = self._store_factory(settings)
        downloaded = store.download(choice.offer, progress=self._on_progress, cancel=cancel)
        if downloaded is None:
            yield _Event("cancelled")
            return
        yield _Event("stage", "Checking the model files (architecture, mmproj, completeness)…")
        stored = store.finish(downloaded)
        yield _Event("stage", "Saving the choice…")
        configured = configure_model(
            self._paths,
            model=stored.name,
            mmproj=stored.mmproj,
            profile=choice.offer.profile.name,
            quant=choice.offer.quant,
            remote_url="",
        )
        yield _Event("installed", configured)

    def _probe_job(self, url: str, api_key: str) -> Iterator[_Event]:
        yield _Event("probed", (url, self._probe(url, api_key)))

    def _on_progress(self, progress: DownloadProgress) -> None:
        """Runs on the download's worker: at most ten signals a second, and always the last bytes."""
        now = time.monotonic()
        with self._progress_lock:
            if now - self._last_progress < _PROGRESS_EVERY and progress.done < progress.total:
                return
            self._last_progress = now
        self.progress.emit(progress)

    # --- plumbing (GUI thread) -------------------------------------------------------------------------

    def _start(self, job: str, func: Callable[[CancelToken], Iterator[_Event]]) -> bool:
        if self._thread is not None:
            return False
        worker = GeneratorWorker(func)
        worker.yielded.connect(self._on_event)
        worker.errored.connect(self._on_errored)
        self._worker, self._job, self._failure = worker, job, ""
        self._thread = start_worker(worker, self._on_finished)
        self.busy_changed.emit(True)
        return True

    def _on_event(self, event: object) -> None:
        assert isinstance(event, _Event)
        if event.kind == "choices":
            assert isinstance(event.value, tuple)
            self.choices_listed.emit(*event.value)
        elif event.kind == "stage":
            self.stage.emit(str(event.value))
        elif event.kind == "cancelled":
            self.download_ended.emit("cancelled", "")
        elif event.kind == "installed":
            self.download_ended.emit("installed", "")
            self.configured.emit(event.value)
        elif event.kind == "probed":
            assert isinstance(event.value, tuple)
            self.probed.emit(*event.value)

    def _on_errored(self, exc: object) -> None:
        message = str(exc) if isinstance(exc, OmnideskError) else f"{type(exc).__name__}: {exc}"
        if isinstance(exc, OSError):
            message = f"{exc.strerror or exc} ({getattr(exc, 'filename', '') or 'the data dir'}); check the disk"
        if not isinstance(exc, OmnideskError | OSError):
            log.error("model setup job %s failed", self._job, exc_info=exc if isinstance(exc, BaseException) else None)
        elif isinstance(exc, ModelError | OSError):
            log.warning("model setup %s: %s", self._job, message)
        self._failure = message
        if self._job == "list":
            self.listing_failed.emit(message)
        elif self._job == "download":
            self.download_ended.emit("failed", message)
        elif self._job == "probe":
            self.probe_failed.emit(message)

    def _on_finished(self) -> None:
        if self._thread is not None:
            self._thread.wait()
        self._thread = self._worker = None
        self._job = ""
        self.busy_changed.emit(False)
