"""Errors the person must see: a crash dialog, and a global excepthook that logs and shows the trace.

``ErrorView`` is the injectable seam: ``(title, message, details) -> None``. The real one opens a
non-modal message box; tests pass a recorder. :class:`CrashReporter` takes exceptions from any thread
(``sys.excepthook``, ``threading.excepthook``, worker ``errored`` signals), logs the trace, and hands
a readable message to the view on the GUI thread through a queued signal.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
import weakref
from collections.abc import Callable
from types import TracebackType

from PyQt6.QtCore import QObject, Qt, pyqtSignal
from PyQt6.QtWidgets import QMessageBox, QWidget

from omnidesk.agent.errors import OmnideskError

__all__ = ["CrashReporter", "ErrorView", "describe_exception", "message_box_view"]

log = logging.getLogger(__name__)

ErrorView = Callable[[str, str, str], None]
"""Shows ``(title, message, details)`` without blocking the caller."""


def describe_exception(exc: BaseException) -> tuple[str, str, str]:
    """Title, message and details for ``exc``: our own errors say what to do; others are bugs."""
    details = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    if isinstance(exc, OmnideskError):
        return "Omnidesk stopped", str(exc), details
    return (
        "Omnidesk hit a bug",
        f"An unexpected error happened: {type(exc).__name__}: {exc}\n\n"
        "The run was stopped. The details are in the log; please report them.",
        details,
    )


def message_box_view(parent: QWidget | None) -> ErrorView:
    """An :data:`ErrorView` that opens a non-modal message box over ``parent``.

    ``parent`` is held weakly: the window keeps its reporter, which keeps this view, and a strong reference
    back would leave the window to the garbage collector.
    """
    parent_ref = weakref.ref(parent) if parent is not None else None

    def show(title: str, message: str, details: str) -> None:
        box = QMessageBox(parent_ref() if parent_ref is not None else None)
        box.setIcon(QMessageBox.Icon.Critical)
        box.setWindowTitle(title)
        box.setText(message)
        if details:
            box.setDetailedText(details)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    return show


class CrashReporter(QObject):
    """Logs every uncaught exception and shows it through an :data:`ErrorView` on the GUI thread.

    Signals:
        reported(str, str, str): title, message, details (queued to the GUI thread).
    """

    reported = pyqtSignal(str, str, str)

    def __init__(self, view: ErrorView, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._view = view
        self._previous: tuple[object, object] | None = None
        self.reported.connect(self._show)

    def report(self, exc: BaseException) -> None:
        """Log ``exc`` with its trace and show it; safe from any thread."""
        title, message, details = describe_exception(exc)
        if isinstance(exc, OmnideskError):
            log.error("%s: %s", type(exc).__name__, exc)
        else:
            log.critical("uncaught %s", type(exc).__name__, exc_info=(type(exc), exc, exc.__traceback__))
        self.reported.emit(title, message, details)

    def install(self) -> None:
        """Route ``sys.excepthook`` and ``threading.excepthook`` here (undo with :meth:`uninstall`)."""
        self._previous = (sys.excepthook, threading.excepthook)
        sys.excepthook = self._sys_hook
        threading.excepthook = self._thread_hook

    def uninstall(self) -> None:
        if self._previous is not None:
            sys.excepthook, threading.excepthook = self._previous  # type: ignore[assignment]
            self._previous = None

    def _sys_hook(self, kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, exc, tb)
            return
        self.report(exc.with_traceback(tb))

    def _thread_hook(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_value is not None:
            self.report(args.exc_value)

    def _show(self, title: str, message: str, details: str) -> None:
        self._view(title, message, details)
