"""The accessibility port: what the desktop's accessibility tree says about applications, their windows
and elements, and which element has the keyboard focus (AT-SPI on Linux; ``runtime/accessibility.py``).

Two uses: an extra safety sense — the port is also a :class:`~omnidesk.agent.ports.FieldInspector`, the
safety policy's optional focused-field signal (a focused password field is known as such; where a secret
is typed is known to the redaction) — and ground truth for evaluation (element names, roles and boxes).
None of it is sent to the model: no trained prompt format has a place for it.

Answers are typed, never guessed: :meth:`AccessibilityPort.focus` returns :class:`UnknownFocus` with the
reason when the bus, the application or the time budget cannot tell — never "not a password field".

Boxes are in desktop device pixels (the virtual desktop capture and input use). Toolkits report logical
pixels; the adapter multiplies by the application's scale (:attr:`AccessibleTree.scale`, measured from
its windows) and says where it only assumed one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Literal, Protocol

from omnidesk.agent.geometry import Rect

__all__ = [
    "AccessibilityPort",
    "AccessibilityStatus",
    "AccessibleApp",
    "AccessibleElement",
    "AccessibleTree",
    "Focus",
    "FocusedElement",
    "UnknownFocus",
]


@dataclass(frozen=True, slots=True)
class AccessibleElement:
    """One node of an accessibility tree.

    ``role`` is the AT-SPI role name in lower case with underscores (``push_button``, ``text``,
    ``password_text``, ``frame``), taken from the role number, so it reads the same for every toolkit.
    ``states`` are AT-SPI state names the same way (``focused``, ``enabled``, ``editable``, ``showing``…).
    ``box`` is ``None`` when the element has no on-screen extent (hidden, unmapped, no Component, or a
    toolkit whose boxes are known to be wrong). ``accessible_id`` is the toolkit's stable identifier where
    it sets one (Qt 6: the objectName path, ``QApplication.main_window.central.ok_button``), else "".
    ``text`` is the element's text content when the tree was read with ``text=True`` and it has some (a
    calculator's display, an editor's document); never read for password fields.
    """

    role: str
    name: str
    states: frozenset[str]
    box: Rect | None
    children: tuple[AccessibleElement, ...] = ()
    accessible_id: str = ""
    text: str | None = None

    @property
    def focused(self) -> bool:
        return "focused" in self.states

    @property
    def password(self) -> bool:
        """A password field: AT-SPI marks one by its role (there is no password state)."""
        return self.role == "password_text"

    @property
    def enabled(self) -> bool:
        return "enabled" in self.states

    @property
    def editable(self) -> bool:
        return "editable" in self.states

    @property
    def showing(self) -> bool:
        return "showing" in self.states

    def walk(self) -> Iterator[AccessibleElement]:
        """This element and every descendant, depth first, parents before children."""
        yield self
        for child in self.children:
            yield from child.walk()

    def leaf(self) -> AccessibleElement:
        """The same element without its children (what a focus answer carries)."""
        return replace(self, children=())


@dataclass(frozen=True, slots=True)
class AccessibleApp:
    """An application on the accessibility bus.

    ``handle`` names its connection to the bus; it changes on every restart — use it only while the
    application runs, never store it. ``pid`` is its process (None when the bus will not say).
    ``toolkit`` is what the application reports (``gtk`` for GTK 3, ``GTK`` for GTK 4, ``Qt``).
    """

    name: str
    pid: int | None
    toolkit: str
    toolkit_version: str
    handle: str


@dataclass(frozen=True, slots=True)
class AccessibleTree:
    """An application's windows (its top-level elements, with their descendants).

    ``scale`` is the logical→device factor applied to every box; ``scale_source`` says how it was found:
    ``window`` (measured: the X window's width over the toolkit's) or ``assumed`` (1.0, no window to
    measure by). ``complete`` is false when the walk stopped at the element limit or the time budget.
    """

    app: AccessibleApp
    windows: tuple[AccessibleElement, ...]
    scale: float
    scale_source: Literal["window", "assumed"]
    showing_only: bool
    complete: bool

    def walk(self) -> Iterator[AccessibleElement]:
        """Every element of every window, depth first."""
        for window in self.windows:
            yield from window.walk()

    @property
    def size(self) -> int:
        """How many elements the tree holds."""
        return sum(1 for _ in self.walk())


@dataclass(frozen=True, slots=True)
class FocusedElement:
    """The element with the keyboard focus, in the active window ``window_title`` of ``app``."""

    app: AccessibleApp
    element: AccessibleElement
    window_title: str

    @property
    def password(self) -> bool:
        return self.element.password


@dataclass(frozen=True, slots=True)
class UnknownFocus:
    """The accessibility tree cannot tell where the focus is; ``reason`` says why and what would help."""

    reason: str


Focus = FocusedElement | UnknownFocus


@dataclass(frozen=True, slots=True)
class AccessibilityStatus:
    """Whether the accessibility bus answers (for ``omnidesk doctor``): ``detail`` what was found, ``fix``
    what to do when it does not (or when some applications will not show up on it)."""

    available: bool
    detail: str
    fix: str = ""


class AccessibilityPort(Protocol):
    """The desktop's accessibility tree, read-only; every call is bounded in time.

    It is also a ``FieldInspector`` (``agent/ports.py``): :meth:`focused_is_password` and
    :meth:`focused_field_area` answer the safety policy from :meth:`focus`.
    """

    def focus(self) -> Focus:
        """The element with the keyboard focus, or why that cannot be told. Never raises."""
        ...

    def focused_is_password(self) -> bool | None:
        """Whether the focused element is a password field; ``None`` when unknown — never "no" then."""
        ...

    def focused_field_area(self) -> Rect | None:
        """The focused text field's box in desktop device pixels; ``None`` when unknown or not a text field."""
        ...

    def status(self) -> AccessibilityStatus:
        """Whether the bus answers, how many applications are on it, and what to do if it does not."""
        ...

    def applications(self) -> tuple[AccessibleApp, ...]:
        """Every application registered on the bus.

        Raises:
            AccessibilityError: no bus, or it did not answer in time (the message says what to do).
        """
        ...

    def tree(
        self,
        app: AccessibleApp,
        *,
        window: str | None = None,
        showing_only: bool = False,
        text: bool = False,
        max_elements: int = 5000,
    ) -> AccessibleTree:
        """``app``'s element tree; only the top-level window titled ``window`` when given. ``showing_only``
        leaves out elements that are not on screen (closed menus, hidden pages) and what is under them;
        ``text`` also reads text contents (the first 10 000 characters; never a password field's).

        Raises:
            AccessibilityError: no bus, the application went away, or it did not answer in time.
        """
        ...

    def close(self) -> None:
        """Stop the focus watcher and close the bus connection."""
        ...
