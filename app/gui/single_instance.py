"""The first Omnidesk's end of the single-instance socket: a knock brings the window forward."""

from __future__ import annotations

import logging
from pathlib import Path

from PyQt6.QtCore import QObject, pyqtSignal
from PyQt6.QtNetwork import QLocalServer, QLocalSocket

from omnidesk.app.instance_socket import RAISE_MESSAGE

__all__ = ["InstanceServer"]

log = logging.getLogger(__name__)


class InstanceServer(QObject):
    """Listens on the instance socket; call :meth:`listen` only while holding the instance lock.

    Signals:
        activation_requested(): a second launch asked for this window.
    """

    activation_requested = pyqtSignal()

    def __init__(self, path: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._path = path
        self._server = QLocalServer(self)
        self._server.newConnection.connect(self._on_connection)

    def listen(self) -> bool:
        """Start listening; a socket left by a crashed instance is removed first (we hold the lock)."""
        self._path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        QLocalServer.removeServer(str(self._path))
        self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        if not self._server.listen(str(self._path)):
            log.warning("cannot listen on %s: %s", self._path, self._server.errorString())
            return False
        return True

    def close(self) -> None:
        self._server.close()

    def _on_connection(self) -> None:
        while (connection := self._server.nextPendingConnection()) is not None:
            connection.readyRead.connect(lambda c=connection: self._on_ready(c))
            connection.disconnected.connect(connection.deleteLater)

    def _on_ready(self, connection: QLocalSocket) -> None:
        data = bytes(connection.readAll().data())
        if data.startswith(RAISE_MESSAGE.strip()):
            log.info("a second launch asked for the window")
            connection.write(b"ok\n")
            connection.flush()
            self.activation_requested.emit()
        connection.disconnectFromServer()
