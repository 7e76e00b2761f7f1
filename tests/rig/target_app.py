"""A real PyQt6 application that desktop tests act on and that reports what it received.

Run as its own process (`python -u target_app.py --x 100 --y 100 ...`). Every report is one JSON
object per line on stdout. Positions and rects are in device pixels of the X virtual desktop: Qt works
in logical pixels under `QT_SCALE_FACTOR`, so they are mapped back (Qt 6 keeps each screen's logical
origin at its native origin and scales only the offset from it). Once the window is exposed and
painted it prints a `ready` line with every widget's rect, checked against where X really put the
window. JSON commands on stdin move it, retitle it, recolour a widget (`set_color`, reported as `painted`
once X has the pixels), give a widget the keyboard focus (`focus`), report geometry or quit; EOF on stdin
quits. Every change of the keyboard focus is reported (`focus_changed`). Its widgets carry accessible
names (the password field, `echoMode` Password, is the AT-SPI role password_text), and an accessibility
bus started before it (`tests/rig/a11y.py`) shows them to the accessibility tests.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from PyQt6.QtCore import QEvent, QObject, QPoint, QPointF, QRect, QSize, QSocketNotifier, Qt, QTimer
from PyQt6.QtGui import QAction, QGuiApplication, QKeyEvent, QMouseEvent, QScreen, QWheelEvent
from PyQt6.QtWidgets import (
    QApplication,
    QDialog,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QMainWindow,
    QMenu,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

COLORS: dict[str, str] = {
    "central": "#2b2b2b",
    "ok_button": "#00c800",
    "cancel_button": "#c80000",
    "big_button": "#0000c8",
    "text_field": "#ffff00",
    "password_field": "#ffffc0",
    "item_list": "#00c8c8",
    "dialog_button": "#c800c8",
    "dialog": "#404040",
    "dialog_ok": "#ff8000",
}
MENUS: dict[str, list[str]] = {
    "File": ["Open", "Save", "Quit"],
    "Edit": ["Copy", "Paste", "Select All"],
}
SOLID_WIDGETS = [
    "ok_button",
    "cancel_button",
    "big_button",
    "text_field",
    "password_field",
    "item_list",
    "dialog_button",
    "dialog_ok",
]
LIST_ITEMS = ["Alpha", "Bravo", "Charlie", "Delta"]
MAIN_WIDGETS = [
    "menu_bar",
    "central",
    "ok_button",
    "cancel_button",
    "text_field",
    "password_field",
    "item_list",
    "big_button",
    "dialog_button",
]
_MOUSE_TYPES = {
    QEvent.Type.MouseButtonPress: "mouse_press",
    QEvent.Type.MouseButtonRelease: "mouse_release",
    QEvent.Type.MouseButtonDblClick: "mouse_double_click",
}
_BUTTONS = {
    Qt.MouseButton.LeftButton: "left",
    Qt.MouseButton.RightButton: "right",
    Qt.MouseButton.MiddleButton: "middle",
    Qt.MouseButton.BackButton: "back",
    Qt.MouseButton.ForwardButton: "forward",
}
_MODIFIERS = {
    Qt.KeyboardModifier.ShiftModifier: "shift",
    Qt.KeyboardModifier.ControlModifier: "ctrl",
    Qt.KeyboardModifier.AltModifier: "alt",
    Qt.KeyboardModifier.MetaModifier: "meta",
}


def emit(kind: str, **fields: Any) -> None:
    """Write one report line and flush it, so the test sees it at once."""
    print(json.dumps({"type": kind, "t": time.monotonic(), **fields}), flush=True)


def _stylesheet() -> str:
    rules = [f"#{name} {{ background-color: {color}; }}" for name, color in COLORS.items()]
    rules += [
        f"QPushButton#{name}, QLineEdit#{name}, QListWidget#{name} "
        f"{{ background-color: {COLORS[name]}; border: none; color: black; }}"
        for name in SOLID_WIDGETS
    ]
    rules.append("QListWidget#item_list::item { padding-left: 6px; color: black; }")
    return "\n".join(rules)


def _screen_at_device(x: int, y: int) -> QScreen:
    for screen in QGuiApplication.screens():
        geo, dpr = screen.geometry(), screen.devicePixelRatio()
        if 0 <= x - geo.x() < geo.width() * dpr and 0 <= y - geo.y() < geo.height() * dpr:
            return screen
    primary = QGuiApplication.primaryScreen()
    assert primary is not None
    return primary


def to_device(point: QPointF, screen: QScreen | None) -> tuple[float, float]:
    """Map a logical global point to device pixels of the X virtual desktop."""
    screen = screen or QGuiApplication.screenAt(point.toPoint()) or QGuiApplication.primaryScreen()
    assert screen is not None
    origin, dpr = screen.geometry().topLeft(), screen.devicePixelRatio()
    return origin.x() + (point.x() - origin.x()) * dpr, origin.y() + (point.y() - origin.y()) * dpr


def to_logical(x: int, y: int) -> QPoint:
    """Map a device point of the virtual desktop to Qt's logical global coordinates."""
    screen = _screen_at_device(x, y)
    origin, dpr = screen.geometry().topLeft(), screen.devicePixelRatio()
    return QPoint(round(origin.x() + (x - origin.x()) / dpr), round(origin.y() + (y - origin.y()) / dpr))


def device_rect(widget: QWidget, local: QRect | None = None) -> list[int]:
    """A widget's (or a sub-rect's) global rect in device pixels: [x, y, w, h]."""
    local = local if local is not None else widget.rect()
    screen = widget.screen()
    x0, y0 = to_device(QPointF(widget.mapToGlobal(local.topLeft())), screen)
    dpr = widget.devicePixelRatio()
    return [round(x0), round(y0), round(local.width() * dpr), round(local.height() * dpr)]


def x_window_origin(widget: QWidget) -> list[int] | None:
    """Where the X server says the widget's native window is, in root coordinates."""
    try:
        from Xlib import display as xdisplay
    except ImportError:
        return None
    conn = xdisplay.Display()
    try:
        window = conn.create_resource_object("window", int(widget.winId()))
        reply = window.translate_coords(conn.screen().root, 0, 0)
        return [-reply.x, -reply.y]
    finally:
        conn.close()


def _named(widget: QObject | None) -> str:
    while widget is not None and not widget.objectName():
        widget = widget.parent()
    return widget.objectName() if widget is not None else ""


def _modifiers(mods: Qt.KeyboardModifier) -> list[str]:
    return [name for flag, name in _MODIFIERS.items() if mods & flag]


class InputReporter(QObject):
    """Application-wide event filter that reports mouse, wheel and key events once each.

    Qt re-sends an ignored event to each parent in turn; those copies share the original's
    timestamp, so one report per (type, timestamp, button/key) is kept.
    """

    def __init__(self) -> None:
        super().__init__()
        self._seen: set[tuple[int, int, int, float, float]] = set()

    def _first(self, key: tuple[int, int, int, float, float]) -> bool:
        if key in self._seen:
            return False
        if len(self._seen) > 1000:
            self._seen.clear()
        self._seen.add(key)
        return True

    def eventFilter(self, obj: QObject | None, event: QEvent | None) -> bool:
        if event is None or not isinstance(obj, QWidget):
            return False
        kind = event.type()
        if kind in _MOUSE_TYPES and isinstance(event, QMouseEvent):
            pos = event.globalPosition()
            if self._first((kind.value, event.timestamp(), event.button().value, pos.x(), pos.y())):
                x, y = to_device(pos, obj.screen())
                emit(
                    _MOUSE_TYPES[kind],
                    widget=_named(obj),
                    cls=type(obj).__name__,
                    button=_BUTTONS.get(event.button(), str(event.button().value)),
                    modifiers=_modifiers(event.modifiers()),
                    x=round(x, 2),
                    y=round(y, 2),
                    logical=[pos.x(), pos.y()],
                )
        elif kind == QEvent.Type.Wheel and isinstance(event, QWheelEvent):
            pos = event.globalPosition()
            if self._first((kind.value, event.timestamp(), 0, pos.x(), pos.y())):
                x, y = to_device(pos, obj.screen())
                delta = event.angleDelta()
                emit("wheel", widget=_named(obj), x=round(x, 2), y=round(y, 2), dx=delta.x(), dy=delta.y())
        elif (
            kind == QEvent.Type.KeyPress
            and isinstance(event, QKeyEvent)
            and self._first((kind.value, event.timestamp(), event.key(), 0.0, 0.0))
        ):
            emit(
                "key_press",
                widget=_named(obj),
                key=event.key(),
                text=event.text(),
                modifiers=_modifiers(event.modifiers()),
                auto_repeat=event.isAutoRepeat(),
            )
        return False


class TargetWindow(QMainWindow):
    """The main window: menus, buttons, a line edit, a list, and a button opening a dialog."""

    def __init__(self, title: str) -> None:
        super().__init__()
        self.setObjectName("main_window")
        self.setWindowTitle(title)
        self.dialog: QDialog | None = None
        menu_bar = self.menuBar()
        assert menu_bar is not None
        menu_bar.setObjectName("menu_bar")
        for menu_title, items in MENUS.items():
            menu = menu_bar.addMenu(menu_title)
            assert menu is not None
            menu.setObjectName(f"{menu_title.lower()}_menu")
            for text in items:
                action = menu.addAction(text)
                assert action is not None
                action.triggered.connect(lambda _=False, a=action, m=menu_title: self._on_action(m, a))
            menu.aboutToShow.connect(lambda m=menu: QTimer.singleShot(50, lambda: self._report_menu(m)))
        central = QWidget(objectName="central")
        self.setCentralWidget(central)
        self.ok_button = QPushButton("OK", objectName="ok_button")
        self.cancel_button = QPushButton("Cancel", objectName="cancel_button")
        self.text_field = QLineEdit(objectName="text_field")
        self.text_field.setAccessibleName("Text")
        self.password_field = QLineEdit(objectName="password_field")
        self.password_field.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_field.setAccessibleName("Password")
        self.item_list = QListWidget(objectName="item_list")
        self.item_list.setAccessibleName("Items")
        self.item_list.addItems(LIST_ITEMS)
        for row in range(self.item_list.count()):
            self.item_list.item(row).setSizeHint(QSize(0, 28))  # type: ignore[union-attr]
        self.big_button = QPushButton("Big", objectName="big_button")
        self.dialog_button = QPushButton("Dialog…", objectName="dialog_button")
        for widget, height in (
            (self.ok_button, 40),
            (self.cancel_button, 40),
            (self.text_field, 32),
            (self.password_field, 32),
        ):
            widget.setMinimumHeight(height)
        self.big_button.setMinimumHeight(80)
        self.dialog_button.setMinimumHeight(40)
        row = QHBoxLayout()
        row.addWidget(self.ok_button)
        row.addWidget(self.cancel_button)
        layout = QVBoxLayout(central)
        layout.addLayout(row)
        layout.addWidget(self.text_field)
        layout.addWidget(self.password_field)
        layout.addWidget(self.item_list, 1)
        layout.addWidget(self.big_button)
        layout.addWidget(self.dialog_button)
        for button in (self.ok_button, self.cancel_button, self.big_button):
            button.clicked.connect(lambda _=False, b=button: emit("clicked", widget=b.objectName()))
        self.dialog_button.clicked.connect(self._open_dialog)
        self.text_field.textChanged.connect(lambda text: emit("text", widget="text_field", text=text))
        self.text_field.textEdited.connect(lambda text: emit("text_edited", widget="text_field", text=text))
        self.password_field.textChanged.connect(lambda text: emit("text", widget="password_field", text=text))
        self.item_list.currentTextChanged.connect(lambda text: emit("select", widget="item_list", text=text))

    def _on_action(self, menu: str, action: QAction) -> None:
        emit("menu", menu=menu, text=action.text())
        if action.text() == "Quit":
            QTimer.singleShot(0, QApplication.quit)

    def _report_menu(self, menu: QMenu) -> None:
        items = {a.text(): device_rect(menu, menu.actionGeometry(a)) for a in menu.actions()}
        emit("menu_shown", menu=menu.title(), rect=device_rect(menu), items=items)

    def _open_dialog(self) -> None:
        emit("clicked", widget="dialog_button")
        dialog = QDialog(self, objectName="dialog")
        dialog.setWindowTitle("Omnidesk Target Dialog")
        ok = QPushButton("Dialog OK", dialog, objectName="dialog_ok")
        ok.setMinimumSize(160, 60)
        QVBoxLayout(dialog).addWidget(ok)
        ok.clicked.connect(lambda: (emit("clicked", widget="dialog_ok"), dialog.accept()))
        dialog.finished.connect(lambda result: emit("dialog_closed", result=result))
        self.dialog = dialog
        when_exposed(dialog, lambda: emit("dialog_shown", **self.geometry_report()))
        dialog.open()

    def widgets(self) -> dict[str, QWidget]:
        """Named widgets whose rects are reported, including the dialog's while it is open."""
        found: dict[str, QWidget] = {
            name: w for name in MAIN_WIDGETS if (w := self.findChild(QWidget, name)) is not None
        }
        if self.dialog is not None and self.dialog.isVisible():
            found["dialog"] = self.dialog
            found["dialog_ok"] = self.dialog.findChild(QWidget, "dialog_ok") or self.dialog
        return found

    def geometry_report(self) -> dict[str, Any]:
        """Rects in device pixels, checked against the X server's idea of the window's origin."""
        QGuiApplication.sync()
        window = device_rect(self)
        x_origin = x_window_origin(self)
        items = {
            self.item_list.item(i).text(): device_rect(  # type: ignore[union-attr]
                self.item_list.viewport(),  # type: ignore[arg-type]
                self.item_list.visualItemRect(self.item_list.item(i)),
            )
            for i in range(self.item_list.count())
        }
        return {
            "widgets": {name: device_rect(w) for name, w in self.widgets().items()},
            "items": items,
            "window": window,
            "x_origin": x_origin,
            "geometry_ok": x_origin is None or x_origin == window[:2],
            "dpr": self.devicePixelRatio(),
            "title": self.windowTitle(),
            "active": self.isActiveWindow(),
            "focus": _named(QApplication.focusWidget()),
        }


def when_exposed(widget: QWidget, callback: Any) -> None:
    """Call `callback` once `widget`'s native window is exposed and has been painted and flushed."""

    def check() -> None:
        handle = widget.windowHandle()
        if handle is not None and handle.isExposed():
            widget.repaint()
            QGuiApplication.sync()
            callback()
        else:
            QTimer.singleShot(10, check)

    QTimer.singleShot(0, check)


class CommandReader(QObject):
    """Reads JSON commands from stdin without blocking the event loop; EOF quits the app."""

    def __init__(self, window: TargetWindow) -> None:
        super().__init__()
        self._window = window
        self._buffer = b""
        os.set_blocking(sys.stdin.fileno(), False)
        self._notifier = QSocketNotifier(sys.stdin.fileno(), QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._read)

    def _read(self) -> None:
        try:
            chunk = os.read(sys.stdin.fileno(), 65536)
        except BlockingIOError:
            return
        if not chunk:
            self._notifier.setEnabled(False)
            QApplication.quit()
            return
        self._buffer += chunk
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            if line.strip():
                self._handle(json.loads(line))

    def _set_color(self, name: str, color: str, reply_id: Any) -> None:
        """Repaint a named widget in one solid colour; `painted` is reported once X has the new pixels."""
        widget = self._window.findChild(QWidget, name)
        if widget is None:
            emit("error", message=f"no widget {name!r}", id=reply_id)
            return
        widget.setStyleSheet(f"background-color: {color}; border: none;")
        self._window.repaint()
        QGuiApplication.sync()
        emit("painted", cmd="set_color", widget=name, color=color, id=reply_id)

    def _handle(self, command: dict[str, Any]) -> None:
        window, name, reply_id = self._window, command.get("cmd"), command.get("id")
        if name == "quit":
            QApplication.quit()
            return
        if name == "move":
            window.move(to_logical(int(command["x"]), int(command["y"])))
        elif name == "resize":
            dpr = window.devicePixelRatio()
            window.resize(round(int(command["width"]) / dpr), round(int(command["height"]) / dpr))
        elif name == "set_title":
            window.setWindowTitle(str(command["title"]))
        elif name == "set_text":
            window.text_field.setText(str(command["text"]))
        elif name == "activate":
            window.raise_()
            window.activateWindow()
        elif name == "focus":
            target = window.findChild(QWidget, str(command["widget"]))
            if target is None:
                emit("error", message=f"no widget {command['widget']!r}", id=reply_id)
                return
            target.setFocus(Qt.FocusReason.OtherFocusReason)
        elif name == "set_color":
            self._set_color(str(command.get("widget", "item_list")), str(command["color"]), reply_id)
        elif name not in ("widgets", "ping"):
            emit("error", message=f"unknown command {name!r}", id=reply_id)
            return
        when_exposed(window, lambda: emit("reply", cmd=name, id=reply_id, **window.geometry_report()))


def main() -> int:
    """Parse the geometry (device pixels), show the window, report `ready`, run the event loop."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--x", type=int, default=100)
    parser.add_argument("--y", type=int, default=100)
    parser.add_argument("--width", type=int, default=800)
    parser.add_argument("--height", type=int, default=600)
    parser.add_argument("--title", default="Omnidesk Target")
    parser.add_argument("--screen", default=None, help="output name or index; x, y are relative to it")
    parser.add_argument("--wm-class", default=None, help="WM_CLASS as 'instance,Class' (e.g. keepassxc,KeePassXC)")
    parser.add_argument("--font-px", type=int, default=None, help="the application font's pixel size (logical)")
    args = parser.parse_args()

    if args.wm_class:  # Qt's xcb plugin takes the instance from RESOURCE_NAME and the class from the app name
        instance, _, wm_class = args.wm_class.partition(",")
        os.environ["RESOURCE_NAME"] = instance
    app = QApplication(sys.argv[:1])
    if args.wm_class:
        app.setApplicationName(wm_class)
    app.setStyleSheet(_stylesheet())
    if args.font_px:
        font = app.font()
        font.setPixelSize(args.font_px)
        app.setFont(font)
    reporter = InputReporter()
    app.installEventFilter(reporter)
    app.focusChanged.connect(lambda _old, new: emit("focus_changed", widget=_named(new)))
    x, y = args.x, args.y
    if args.screen is not None:
        screens = QGuiApplication.screens()
        by_name = {s.name(): s for s in screens}
        screen = by_name.get(args.screen) or screens[int(args.screen)]
        x, y = x + screen.geometry().x(), y + screen.geometry().y()
    window = TargetWindow(args.title)
    top_left = to_logical(x, y)
    dpr = _screen_at_device(x, y).devicePixelRatio()
    window.setGeometry(QRect(top_left.x(), top_left.y(), round(args.width / dpr), round(args.height / dpr)))
    window.text_field.setFocus()
    window.show()
    window.activateWindow()
    screens_info = [
        {"name": s.name(), "logical": [*s.geometry().getRect()], "dpr": s.devicePixelRatio()}
        for s in QGuiApplication.screens()
    ]

    def ready() -> None:
        emit("ready", pid=os.getpid(), colors=COLORS, menus=MENUS, screens=screens_info, **window.geometry_report())

    when_exposed(window, ready)
    commands = CommandReader(window)
    code = app.exec()
    del commands, reporter
    emit("exit", code=code)
    return code


if __name__ == "__main__":
    sys.exit(main())
