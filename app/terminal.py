"""The person at a terminal: confirmations and answers, Ctrl+C as a stop request, one line per step.

Shared by the commands that run something on the desktop (``omnidesk run``, ``omnidesk replay``) and by
the MCP server, which has no terminal to ask on (``TerminalConfirmer(interactive=False)`` refuses).
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Iterator
from contextlib import contextmanager

import typer

from omnidesk.agent.describe import describe_actions
from omnidesk.agent.ports import CancelToken, ConfirmationRequest, Step
from omnidesk.app.cli_options import stdin_is_terminal

__all__ = ["TerminalConfirmer", "step_line", "stop_on_interrupt", "stop_on_signals"]

log = logging.getLogger(__name__)


class TerminalConfirmer:
    """The Confirmer port on a terminal; without one (a pipe, a service) every risky action is refused."""

    def __init__(self, *, interactive: bool | None = None) -> None:
        self._interactive = stdin_is_terminal() if interactive is None else interactive

    def confirm(self, request: ConfirmationRequest) -> bool:
        if not self._interactive:
            typer.echo(f"refused (no terminal to ask): {request.question}", err=True)
            return False
        return bool(typer.confirm(request.question, default=False, err=True))

    def ask(self, question: str) -> str | None:
        if not self._interactive:
            typer.echo(f"the agent asks, but there is no terminal to answer: {question}", err=True)
            return None
        answer = str(typer.prompt(question, default="", show_default=False, err=True)).strip()
        return answer or None


@contextmanager
def stop_on_interrupt(cancel: CancelToken) -> Iterator[None]:
    """Ctrl+C cancels the run (reaching into the generation) instead of killing the process."""

    def handler(signum: int, frame: object) -> None:
        typer.echo("\nstopping…", err=True)
        cancel.cancel()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def stop_on_signals(stop: CancelToken) -> Iterator[None]:
    """Ctrl+C and SIGTERM end a recording or a demonstration (it is finished and kept), not the process."""

    def handler(signum: int, frame: object) -> None:
        stop.cancel()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def step_line(step: Step) -> str:
    """``  3 acted       click at (412, 300) → (412, 300)  done  (1.2 s)``."""
    what = describe_actions(step.actions) if step.actions else ""
    where = f" → {step.target}" if step.target else ""
    detail = step.error or step.result
    return f"{step.index + 1:3d} {step.status:<11} {what}{where}  {detail}  ({step.seconds:.1f} s)".rstrip()
