"""Carrying out one action on the input device: the step loop's and the replay's one way to act.

The action's points are already in ``desktop`` space (mapped and reviewed by the caller); secrets are
filled in only here, just before the text is typed.
"""

from __future__ import annotations

from collections.abc import Callable

from omnidesk.agent.actions import Action, Click, Drag, Hotkey, Move, Scroll, TypeText, Wait
from omnidesk.agent.ports import CancelToken, Clock, InputDevice
from omnidesk.agent.secrets import SecretStore, fill_secrets

__all__ = ["perform"]


def perform(
    action: Action,
    device: InputDevice,
    *,
    clock: Clock,
    cancel: CancelToken,
    secrets: SecretStore | None = None,
    settle: Callable[[float], object] | None = None,
) -> None:
    """Carry out an action whose points are in ``desktop`` space (secrets are filled only here).

    ``settle(timeout)`` waits until the screen is still, at most ``timeout`` s: how a ``Wait`` with
    ``until_settled`` waits (without it, such a wait takes its whole time).

    Raises:
        ActionError: the device failed. SafetyStop: the fail-safe, or a secret that is not stored.
    """
    match action:
        case Click(point=p, button=b, count=n, modifiers=m):
            device.click(int(p.x), int(p.y), button=b, count=n, modifiers=m)
        case Move(point=p):
            device.move(int(p.x), int(p.y))
        case Drag(start=s, end=e, button=b):
            device.drag(int(s.x), int(s.y), int(e.x), int(e.y), button=b)
        case Scroll(point=p, dx=dx, dy=dy):
            device.scroll(None if p is None else int(p.x), None if p is None else int(p.y), dx=dx, dy=dy)
        case TypeText(text=text):
            device.type_text(fill_secrets(text, secrets))
        case Hotkey(keys=keys):
            device.hotkey(keys)
        case Wait(seconds=seconds, until_settled=True) if settle is not None:
            settle(seconds)
        case Wait(seconds=seconds):
            remaining = seconds
            while remaining > 0 and not cancel.cancelled:
                chunk = min(0.1, remaining)
                clock.sleep(chunk)
                remaining -= chunk
