"""AT-SPI over D-Bus with jeepney: the names and numbers of the protocol, finding the accessibility bus,
and one thread-safe connection that pipelines calls and hands signals to a callback.

The protocol is at-spi2-core's (``xml/*.xml`` and ``atspi/atspi-constants.h`` at tag
``AT_SPI2_CORE_2_46_0``, github.com/GNOME/at-spi2-core). Debian's pyatspi needs PyGObject, which does
not install into a virtual environment, so Omnidesk speaks D-Bus itself. Replies are other processes'
data: every value is checked for its type before use (:func:`as_int`, :func:`as_str`, :func:`as_refs`).

Why a receiver thread of our own rather than ``jeepney.io.threading.DBusRouter``: a tree dump sends a
whole level of the tree at once and collects the replies (2–3× faster than one call at a time), which the
router has no public way to do; the focus watcher's signals arrive on the same connection.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from omnidesk.agent.errors import AccessibilityError

__all__ = [
    "ACCESSIBLE",
    "APPLICATION",
    "COMPONENT",
    "NO_ANSWER",
    "NULL_PATH",
    "REGISTRY",
    "ROLE_NAMES",
    "ROOT_PATH",
    "STATE_NAMES",
    "AtspiLink",
    "Call",
    "Reply",
    "as_int",
    "as_ints",
    "as_ref",
    "as_refs",
    "as_str",
    "find_bus_address",
    "read_is_enabled",
    "role_name",
    "state_names",
]

log = logging.getLogger(__name__)

REGISTRY = "org.a11y.atspi.Registry"
ROOT_PATH = "/org/a11y/atspi/accessible/root"
NULL_PATH = "/org/a11y/atspi/null"
NO_ANSWER = "no answer in time"
ACCESSIBLE = "org.a11y.atspi.Accessible"
COMPONENT = "org.a11y.atspi.Component"
APPLICATION = "org.a11y.atspi.Application"

# AtspiRole, in order from 0 (atspi-constants.h); lower case as the port reports them.
_ROLES = (
    "invalid accelerator_label alert animation arrow calendar canvas check_box check_menu_item color_chooser "
    "column_header combo_box date_editor desktop_icon desktop_frame dial dialog directory_pane drawing_area "
    "file_chooser filler focus_traversable font_chooser frame glass_pane html_container icon image "
    "internal_frame label layered_pane list list_item menu menu_bar menu_item option_pane page_tab "
    "page_tab_list panel password_text popup_menu progress_bar push_button radio_button radio_menu_item "
    "root_pane row_header scroll_bar scroll_pane separator slider spin_button split_pane status_bar table "
    "table_cell table_column_header table_row_header tearoff_menu_item terminal text toggle_button tool_bar "
    "tool_tip tree tree_table unknown viewport window extended header footer paragraph ruler application "
    "autocomplete editbar embedded entry chart caption document_frame heading page section redundant_object "
    "form link input_method_window table_row tree_item document_spreadsheet document_presentation "
    "document_text document_web document_email comment list_box grouping image_map notification info_bar "
    "level_bar title_bar block_quote audio video definition article landmark log marquee math rating timer "
    "static math_fraction math_root subscript superscript description_list description_term "
    "description_value footnote content_deletion content_insertion mark suggestion push_button_menu"
)
ROLE_NAMES = tuple(_ROLES.split())
# AtspiStateType: bit n of GetState's 64-bit set (two uint32 words, low word first).
_STATES = (
    "invalid active armed busy checked collapsed defunct editable enabled expandable expanded focusable "
    "focused has_tooltip horizontal iconified modal multi_line multiselectable opaque pressed resizable "
    "selectable selected sensitive showing single_line stale transient vertical visible manages_descendants "
    "indeterminate required truncated animated invalid_entry supports_autocompletion selectable_text "
    "is_default visited checkable has_popup read_only"
)
STATE_NAMES = tuple(_STATES.split())

Ref = tuple[str, str]
"""An object on the bus: (unique connection name, object path)."""


def role_name(number: int) -> str:
    """The port's name of an AtspiRole number (``role_N`` for one newer than this table)."""
    return ROLE_NAMES[number] if 0 <= number < len(ROLE_NAMES) else f"role_{number}"


def state_names(words: Sequence[int]) -> frozenset[str]:
    """The state names set in GetState's ``au`` reply."""
    bits = 0
    for shift, word in enumerate(words[:2]):
        bits |= (int(word) & 0xFFFFFFFF) << (32 * shift)
    return frozenset(name for index, name in enumerate(STATE_NAMES) if bits >> index & 1)


# --- checked values from replies -----------------------------------------------------------------------


def as_int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise AccessibilityError(f"an application sent {type(value).__name__} where the protocol has a number")
    return value


def as_str(value: object) -> str:
    if not isinstance(value, str):
        raise AccessibilityError(f"an application sent {type(value).__name__} where the protocol has a string")
    return value


def as_ints(value: object) -> list[int]:
    if not isinstance(value, list | tuple):
        raise AccessibilityError(f"an application sent {type(value).__name__} where the protocol has numbers")
    return [as_int(v) for v in value]


def as_ref(value: object) -> Ref:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise AccessibilityError("an application sent a malformed object reference")
    return as_str(value[0]), as_str(value[1])


def as_refs(value: object) -> list[Ref]:
    """Object references, the null reference left out."""
    if not isinstance(value, list | tuple):
        raise AccessibilityError("an application sent a malformed list of object references")
    return [ref for ref in (as_ref(v) for v in value) if ref[1] != NULL_PATH]


# --- finding the bus -----------------------------------------------------------------------------------


def _session_get_address(session_address: str, timeout: float) -> str:
    from jeepney import DBusAddress, MessageType, new_method_call
    from jeepney.io.blocking import open_dbus_connection

    bus = DBusAddress("/org/a11y/bus", bus_name="org.a11y.Bus", interface="org.a11y.Bus")
    try:
        with open_dbus_connection(session_address, auth_timeout=timeout) as session:
            reply = session.send_and_get_reply(new_method_call(bus, "GetAddress"), timeout=timeout)
    except (OSError, TimeoutError, RuntimeError, ValueError) as exc:
        raise AccessibilityError(f"the session D-Bus does not answer ({exc}); is the desktop session running?") from exc
    if reply.header.message_type == MessageType.error:
        raise AccessibilityError(
            f"no accessibility bus: the session D-Bus says {_error_text(reply)}; install at-spi2-core "
            "(it provides org.a11y.Bus)"
        )
    return as_str(reply.body[0])


def read_is_enabled(session_address: str, timeout: float) -> bool | None:
    """``org.a11y.Status.IsEnabled`` (Qt reads it once at start-up to decide whether to join the bus);
    None when it cannot be read. Only read: setting it would change the person's desktop settings."""
    from jeepney import DBusAddress, MessageType, Properties
    from jeepney.io.blocking import open_dbus_connection

    status = DBusAddress("/org/a11y/bus", bus_name="org.a11y.Bus", interface="org.a11y.Status")
    try:
        with open_dbus_connection(session_address, auth_timeout=timeout) as session:
            reply = session.send_and_get_reply(Properties(status).get("IsEnabled"), timeout=timeout)
    except (OSError, TimeoutError, RuntimeError, ValueError):
        return None
    if reply.header.message_type == MessageType.error or not reply.body:
        return None
    value = reply.body[0]
    return bool(value[1]) if isinstance(value, tuple) and len(value) == 2 else None


def _x_root_property(display: str) -> str | None:
    """The ``AT_SPI_BUS`` property of the X root window, where the bus launcher also publishes it."""
    try:
        from Xlib import X
        from Xlib import display as xdisplay
        from Xlib import error as xerror
    except ImportError:
        return None
    try:
        conn = xdisplay.Display(display)
    except (xerror.DisplayError, OSError):
        return None
    try:
        prop = conn.screen().root.get_full_property(conn.intern_atom("AT_SPI_BUS"), X.AnyPropertyType)
    finally:
        conn.close()
    if prop is None or not prop.value:
        return None
    value = prop.value
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def find_bus_address(environ: Mapping[str, str], timeout: float) -> str:
    """The accessibility bus's address.

    In libatspi's order (``atspi-misc.c``) except that the session bus is asked before the X root
    property, which a crashed launcher can leave behind: ``AT_SPI_BUS_ADDRESS``, then
    ``org.a11y.Bus.GetAddress`` on the session bus (which starts the launcher if it is installed but not
    running; it never turns accessibility on in the person's settings), then ``AT_SPI_BUS`` on the X root.

    Raises:
        AccessibilityError: none of them gives an address; the message says what to do.
    """
    if environ.get("AT_SPI_BUS_ADDRESS"):
        return environ["AT_SPI_BUS_ADDRESS"]
    session = environ.get("DBUS_SESSION_BUS_ADDRESS", "")
    if session:
        return _session_get_address(session, timeout)
    display = environ.get("DISPLAY", "")
    if display and not environ.get("WAYLAND_DISPLAY"):
        found = _x_root_property(display)
        if found:
            return found
    raise AccessibilityError(
        "no accessibility bus: DBUS_SESSION_BUS_ADDRESS is not set; start Omnidesk inside a desktop session "
        "(or under dbus-run-session)"
    )


def _error_text(reply: Any) -> str:
    from jeepney import HeaderFields

    name = reply.header.fields.get(HeaderFields.error_name, "an error")
    detail = reply.body[0] if reply.body and isinstance(reply.body[0], str) else ""
    return f"{name}: {detail}" if detail else str(name)


# --- the connection ------------------------------------------------------------------------------------

Call = tuple[str, str, str, str, str | None, tuple[object, ...]]
"""(bus name, path, interface, method, signature, arguments) of one method call."""


class Reply:
    """One call's outcome: ``body`` when it returned, ``error`` when it failed or never came back."""

    __slots__ = ("body", "error")

    def __init__(self, body: tuple[Any, ...] | None = None, error: str = "") -> None:
        self.body = body
        self.error = error

    @property
    def ok(self) -> bool:
        return self.body is not None


class _Batch:
    def __init__(self, size: int) -> None:
        self.replies: list[Reply | None] = [None] * size
        self.left = size
        self.done = threading.Condition()


class AtspiLink:
    """One connection to the accessibility bus, shared by threads.

    :meth:`call_many` sends many calls at once and waits, up to a deadline, for their replies (calls that
    do not answer in time come back as errors: one hung application cannot hang Omnidesk). Signals go to
    ``on_signal`` on the receiver thread. Once the bus goes away every call fails with
    :class:`AccessibilityError` and :attr:`alive` is false.
    """

    def __init__(self, address: str, *, timeout: float, on_signal: Callable[[Any], None] | None = None) -> None:
        from jeepney.io.threading import open_dbus_connection

        try:
            self._conn = open_dbus_connection(address, auth_timeout=timeout)
        except (OSError, TimeoutError, RuntimeError, ValueError) as exc:
            raise AccessibilityError(
                f"cannot connect to the accessibility bus at {address.split(',', maxsplit=1)[0]}: {exc}; "
                "the at-spi bus launcher may have stopped"
            ) from exc
        self.unique_name = str(self._conn.unique_name)
        self._on_signal = on_signal
        self._lock = threading.Lock()
        self._waiting: dict[int, tuple[_Batch, int]] = {}
        self._alive = True
        self._thread = threading.Thread(target=self._receive, name="atspi-receiver", daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._alive

    def _receive(self) -> None:
        from jeepney import HeaderFields, MessageType
        from jeepney.io.threading import ReceiveStopped

        try:
            while True:
                message = self._conn.receive()
                kind = message.header.message_type
                if kind in (MessageType.method_return, MessageType.error):
                    serial = message.header.fields.get(HeaderFields.reply_serial, -1)
                    with self._lock:
                        waiting = self._waiting.pop(serial, None)
                    if waiting is not None:
                        ok = kind == MessageType.method_return
                        self._settle(waiting, Reply(tuple(message.body)) if ok else Reply(error=_error_text(message)))
                elif kind == MessageType.signal and self._on_signal is not None:
                    try:
                        self._on_signal(message)
                    except Exception:  # a listener bug must not stop replies from arriving
                        log.exception("accessibility signal handler failed")
        except ReceiveStopped:
            pass
        except (OSError, ValueError, RuntimeError) as exc:
            log.info("the accessibility bus connection ended: %s", exc)
        finally:
            self._alive = False
            with self._lock:
                waiting_all, self._waiting = list(self._waiting.values()), {}
            for waiting in waiting_all:
                self._settle(waiting, Reply(error="the accessibility bus connection closed"))

    @staticmethod
    def _settle(waiting: tuple[_Batch, int], reply: Reply) -> None:
        batch, index = waiting
        with batch.done:
            if batch.replies[index] is None:
                batch.replies[index] = reply
                batch.left -= 1
                batch.done.notify_all()

    def call_many(self, calls: Sequence[Call], deadline: float) -> list[Reply]:
        """Send every call, then wait until all replied or ``deadline`` (``time.monotonic()``) passed.

        Raises:
            AccessibilityError: the connection is gone.
        """
        from jeepney import DBusAddress, new_method_call

        if not self._alive:
            raise AccessibilityError("the accessibility bus connection is closed")
        batch = _Batch(len(calls))
        for index, (bus, path, interface, method, signature, args) in enumerate(calls):
            message = new_method_call(DBusAddress(path, bus_name=bus, interface=interface), method, signature, args)
            serial = next(self._conn.outgoing_serial)
            with self._lock:
                self._waiting[serial] = (batch, index)
            try:
                self._conn.send(message, serial=serial)
            except (OSError, ValueError) as exc:
                self._alive = False
                raise AccessibilityError(f"the accessibility bus connection broke: {exc}") from exc
        with batch.done:
            batch.done.wait_for(lambda: batch.left == 0, max(0.0, deadline - time.monotonic()))
            replies = list(batch.replies)
        if batch.left:
            with self._lock:
                for serial in [s for s, (b, _) in self._waiting.items() if b is batch]:
                    del self._waiting[serial]
        return [reply or Reply(error=NO_ANSWER) for reply in replies]

    def call(self, call: Call, deadline: float) -> tuple[Any, ...]:
        """One call's reply body.

        Raises:
            AccessibilityError: an error reply, no reply by ``deadline``, or no connection.
        """
        reply = self.call_many([call], deadline)[0]
        if reply.body is None:
            raise AccessibilityError(f"{call[2].rsplit('.', 1)[-1]}.{call[3]} on {call[0]} failed: {reply.error}")
        return reply.body

    def close(self) -> None:
        """Close the connection; the receiver thread ends and pending calls fail."""
        if self._thread.is_alive():
            self._conn.interrupt()
            self._thread.join(5.0)
        self._conn.close()
        self._alive = False
