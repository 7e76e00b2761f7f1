"""AT-SPI elements as the adapter reads them: what is asked of each element (one pipelined round trip for a
whole tree level), the checked decoding of the answers, text contents, and logical→device boxes."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from omnidesk.agent.errors import AccessibilityError
from omnidesk.agent.geometry import Rect
from omnidesk.agent.ports import AccessibleElement
from omnidesk.runtime.atspi import (
    ACCESSIBLE,
    COMPONENT,
    AtspiLink,
    Call,
    Reply,
    as_int,
    as_ints,
    as_refs,
    role_name,
    state_names,
)

__all__ = [
    "Node",
    "Ref",
    "describe",
    "freeze",
    "logical_to_device",
    "prop_call",
    "read_texts",
    "refs_or_none",
    "snap_scale",
    "states_of",
    "text_of",
    "variant",
]

log = logging.getLogger(__name__)

Ref = tuple[str, str]
_PROPS = "org.freedesktop.DBus.Properties"
_TEXT = "org.a11y.atspi.Text"
_TEXT_LIMIT = 10_000
_FAR = -(2**30)  # GTK 3 places unmapped widgets at INT_MIN


def logical_to_device(box: Rect, scale: float, monitors: Sequence[Rect], *, per_monitor: bool) -> Rect:
    """A toolkit's logical box in desktop device pixels.

    ``per_monitor`` (Qt): each monitor keeps its device origin as its logical origin, and the offset from
    it is scaled; otherwise (GTK 3) the whole desktop is scaled from (0, 0).
    """
    if scale == 1.0:
        return box
    ox, oy = 0, 0
    if per_monitor:
        for mon in monitors:
            if mon.x <= box.x < mon.x + mon.width / scale and mon.y <= box.y < mon.y + mon.height / scale:
                ox, oy = mon.x, mon.y
                break
    x0, y0 = ox + (box.x - ox) * scale, oy + (box.y - oy) * scale
    return Rect(round(x0), round(y0), round(box.width * scale), round(box.height * scale))


def snap_scale(ratio: float) -> float:
    quarter = round(ratio * 4) / 4
    return quarter if quarter > 0 and abs(ratio - quarter) <= 0.03 * quarter else round(ratio, 3)


@dataclass
class Node:
    """What one element said, before its box is converted (mutable while the walk fills children)."""

    ref: Ref
    role: str
    name: str
    states: frozenset[str]
    logical: Rect | None
    accessible_id: str
    child_refs: list[Ref]
    children: list[Node] = field(default_factory=list)
    text: str | None = None

    @property
    def showing(self) -> bool:
        return "showing" in self.states

    @property
    def focused(self) -> bool:
        return "focused" in self.states


def prop_call(ref: Ref, interface: str, name: str) -> Call:
    return (ref[0], ref[1], _PROPS, "Get", "ss", (interface, name))


def variant(reply: Reply) -> object:
    """The value inside a Properties.Get reply (``(signature, value)``)."""
    if reply.body is None:
        return None
    value = reply.body[0]
    return value[1] if isinstance(value, tuple) and len(value) == 2 else None


def _logical_box(reply: Reply) -> Rect | None:
    if reply.body is None:
        return None
    try:
        x, y, w, h = as_ints(reply.body[0])
    except (AccessibilityError, ValueError):
        return None
    if w <= 0 or h <= 0 or x <= _FAR or y <= _FAR:
        return None
    return Rect(x, y, w, h)


def _node_calls(ref: Ref, *, children: bool = True) -> list[Call]:
    """What one element is asked (one round trip for a whole level): role, name, states, box, id, children."""
    bus, path = ref
    calls: list[Call] = [
        (bus, path, ACCESSIBLE, "GetRole", None, ()),
        prop_call(ref, ACCESSIBLE, "Name"),
        (bus, path, ACCESSIBLE, "GetState", None, ()),
        (bus, path, COMPONENT, "GetExtents", "u", (0,)),
        prop_call(ref, ACCESSIBLE, "AccessibleId"),
    ]
    if children:
        calls.append((bus, path, ACCESSIBLE, "GetChildren", None, ()))
    return calls


def _node_from(ref: Ref, replies: Sequence[Reply]) -> Node | None:
    """None when the element is gone (no role or no state: defunct, or its application left)."""
    role, name, state, extents, ident = replies[:5]
    if role.body is None or state.body is None:
        return None
    try:
        child_refs = as_refs(replies[5].body[0]) if len(replies) > 5 and replies[5].body is not None else []
        return Node(
            ref,
            role_name(as_int(role.body[0])),
            text_of(name),
            state_names(as_ints(state.body[0])),
            _logical_box(extents),
            text_of(ident),
            child_refs,
        )
    except AccessibilityError as exc:
        log.info("an element of %s sent malformed data: %s", ref[0], exc)
        return None


_TEXT = "org.a11y.atspi.Text"
_TEXT_LIMIT = 10_000


def read_texts(link: AtspiLink, nodes: Sequence[Node], deadline: float) -> None:
    """Fill in the text of every element that has the Text interface; a password field is never asked.

    The length first: toolkits differ on an end offset past the end (Qt 5 answers "" to it).
    """
    asked = [n for n in nodes if n.role != "password_text"]
    for start in range(0, len(asked), 256):
        chunk = asked[start : start + 256]
        counts = link.call_many([prop_call(n.ref, _TEXT, "CharacterCount") for n in chunk], deadline)
        sized = [(n, v) for n, c in zip(chunk, counts, strict=True) if isinstance(v := variant(c), int) and v >= 0]
        calls: list[Call] = [(*n.ref, _TEXT, "GetText", "ii", (0, min(size, _TEXT_LIMIT))) for n, size in sized]
        for (node, _), reply in zip(sized, link.call_many(calls, deadline), strict=True):
            if reply.body is not None and isinstance(reply.body[0], str):
                node.text = reply.body[0]


def describe(link: AtspiLink, refs: Sequence[Ref], deadline: float, *, children: bool = True) -> list[Node | None]:
    """Many elements at once, in chunks (each chunk's calls are in flight together)."""
    per = 6 if children else 5
    nodes: list[Node | None] = []
    for start in range(0, len(refs), 64):
        chunk = refs[start : start + 64]
        replies = link.call_many([c for ref in chunk for c in _node_calls(ref, children=children)], deadline)
        nodes += [_node_from(ref, replies[i * per : (i + 1) * per]) for i, ref in enumerate(chunk)]
    return nodes


def text_of(reply: Reply) -> str:
    value = variant(reply)
    return value if isinstance(value, str) else ""


def states_of(reply: Reply) -> frozenset[str]:
    if reply.body is None:
        return frozenset()
    try:
        return state_names(as_ints(reply.body[0]))
    except AccessibilityError:
        return frozenset()


def refs_or_none(reply: Reply) -> list[Ref]:
    if reply.body is None:
        return []
    try:
        return as_refs(reply.body[0])
    except AccessibilityError:
        return []


def freeze(node: Node, convert: Callable[[Rect | None], Rect | None]) -> AccessibleElement:
    return AccessibleElement(
        role=node.role,
        name=node.name,
        states=node.states,
        box=convert(node.logical),
        children=tuple(freeze(child, convert) for child in node.children),
        accessible_id=node.accessible_id,
        text=node.text,
    )
