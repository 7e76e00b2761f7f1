"""The MCP server behind ``omnidesk mcp``: tools, and the runner that owns the model and the running task.

Imported only when the server starts (the ``mcp`` SDK is not loaded for other commands). The SDK finds a
tool's :class:`Context` parameter from its resolved type hints, which is why ``Context`` is imported at
module level here.

Tools:

- ``run_task``: runs the agent on a worker thread and reports every step as an MCP progress notification
  (``"3. acted: left click x1 at (0.5, 0.5) [model]"``); the event loop keeps answering meanwhile.
- ``stop_task``: cancels the running task or question (its :class:`CancelToken` aborts the generation in
  flight, also a request to a remote engine blocked in a read).
- ``screenshot``: a PNG of a monitor with deny-listed and Omnidesk's own windows blacked out, exactly as
  the model sees the screen (the same :class:`WindowMask` as the agent's capture).
- ``ask_screen``: one question about a monitor, answered by the model from its overview image; stopped by
  ``stop_task`` or by the client cancelling the call (``notifications/cancelled``).
- ``list_monitors``: the monitors, as ``omnidesk doctor`` lists them.

One task or question at a time (one model); a second gets a tool error saying so. A caller may only
tighten the person's safety settings: ``dry_run`` only on, ``max_steps`` only lower
(:meth:`SafetyConfig.tightened`); anything else is a tool error. Actions that need a person's
confirmation are refused — the caller is a program, not the person — and listed in the result
(``agent/confirmers.py`` states the policy), and so is a remote engine off this machine that the person
has not allowed (``build_model_client(..., consent=None)``). Screenshots share the running task's secret
areas, so a secret typed during a task is blacked out in them too.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio
import anyio.from_thread
import anyio.to_thread
from mcp.server.mcpserver import Context, Image, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from omnidesk.agent.errors import OmnideskError
from omnidesk.agent.keyguard import SecretRedactions
from omnidesk.agent.ports import CancelToken

if TYPE_CHECKING:
    from omnidesk.agent.config import SafetyConfig
    from omnidesk.agent.ports import Frame, ModelClient, Step
    from omnidesk.app.settings import AppPaths, Settings

__all__ = ["INSTRUCTIONS", "Runner", "build_server"]

log = logging.getLogger(__name__)

INSTRUCTIONS = (
    "Omnidesk operates this computer's desktop with a local vision model: it looks at the screen and uses "
    "the mouse and keyboard. Give run_task one concrete task at a time (e.g. 'open Settings and turn on "
    "dark mode'); it reports each step as progress and returns when the task is done, failed, stopped "
    "(stop_task) or a limit was reached. screenshot shows a monitor and ask_screen asks the model about it; "
    "private windows (password managers) are blacked out in both."
)

ASK_SYSTEM_PROMPT = "You look at a screenshot of a computer screen and answer questions about it briefly."

Progress = Callable[[int, str], None]
"""Told ``(step number, line)`` after every step of a task."""


class Runner:
    """Owns the model (built on first use), the running task's stop token and the one-at-a-time lock."""

    def __init__(self, settings: Settings, paths: AppPaths) -> None:
        self._settings = settings
        self._paths = paths
        self._model: ModelClient | None = None
        self._busy = threading.Lock()
        self._cancel: CancelToken | None = None
        self._cancel_lock = threading.Lock()
        self._redactions = SecretRedactions()

    def _client(self) -> ModelClient:
        if self._model is None:
            from omnidesk.app.compose import build_model_client

            self._model = build_model_client(self._settings, self._paths, consent=None)
        return self._model

    def _claim(self, what: str) -> None:
        if not self._busy.acquire(blocking=False):
            raise ToolError(f"Omnidesk is busy with another task; call stop_task or wait before {what}")

    # --- tasks ------------------------------------------------------------------------------------------

    def limits(self, *, max_steps: int | None, dry_run: bool | None) -> SafetyConfig:
        """The person's safety settings, tightened by the caller's overrides.

        Raises:
            ToolError: an override would loosen them or is out of range.
        """
        try:
            return self._settings.safety.tightened(dry_run=dry_run, max_steps=max_steps)
        except OmnideskError as exc:
            raise ToolError(str(exc)) from exc

    def run(
        self,
        task: str,
        *,
        max_steps: int | None,
        dry_run: bool | None,
        monitor: int | None,
        cancel: CancelToken,
        progress: Progress,
    ) -> dict[str, Any]:
        from omnidesk.agent.confirmers import UnattendedConfirmer
        from omnidesk.agent.describe import describe_actions
        from omnidesk.app.compose import build_agent_session, build_png_encoder
        from omnidesk.app.instance import InstanceLock
        from omnidesk.app.recorded_run import RecordedRun

        safety = self.limits(max_steps=max_steps, dry_run=dry_run)
        settings = self._settings.model_copy(deep=True)
        settings.safety = safety  # an assignment the settings class validates
        confirmer = UnattendedConfirmer(who="nobody over MCP")
        self._claim("starting a task")
        # Like `omnidesk run`: no second hand on the mouse while another Omnidesk (the GUI, a run) works.
        instance = InstanceLock(self._paths.runtime_dir)
        with self._cancel_lock:
            self._cancel = cancel
        try:
            instance.acquire()
            session = build_agent_session(
                settings,
                model=self._client(),
                confirmer=confirmer,
                monitor=monitor,
                redactions=self._redactions,
                close_model=False,  # the server keeps its model loaded for the next task
            )
            recorded = RecordedRun.create(
                session,
                task,
                runs_dir=self._paths.runs_dir,
                encoder=build_png_encoder(),
                dry_run=safety.dry_run,
                via="mcp",
            )
            lines: list[str] = []
            last: Step | None = None
            for step in recorded.steps(cancel):
                last = step
                what = describe_actions(step.actions) if step.actions else "-"
                line = f"{step.index + 1}. {step.status}: {what} {step.error or step.result}".strip()
                lines.append(line)
                progress(step.index + 1, line)
        except OmnideskError as exc:
            raise ToolError(str(exc)) from exc
        finally:
            instance.release()
            with self._cancel_lock:
                self._cancel = None
            self._busy.release()
        action = last.final if last is not None else None
        done = last is not None and last.status == "finished" and action is not None and action.kind == "done"
        answer = getattr(action, "answer", "") if action is not None else ""
        return {
            "done": done,
            "status": "no steps" if last is None else last.status,
            "stopped_by_request": cancel.cancelled,
            "answer": answer,
            "steps": lines,
            "bundle": str(recorded.folder),
            "dry_run": safety.dry_run,
            "max_steps": safety.max_steps,
            "refused_for_confirmation": [
                {"action": a.action, "rules": list(a.rules), "reason": a.reason} for a in confirmer.refused
            ],
            "unanswered_questions": [q for q, answered in confirmer.questions if not answered],
        }

    def stop(self) -> dict[str, Any]:
        """Cancel the running task; it returns with status ``stopped`` shortly after."""
        with self._cancel_lock:
            cancel = self._cancel
        if cancel is None:
            return {"stopping": False, "message": "no task or question is running"}
        started = time.monotonic()
        cancel.cancel()
        log.info("stop requested over MCP (cancel callbacks took %.1f ms)", 1000 * (time.monotonic() - started))
        return {"stopping": True, "message": "the running task is stopping"}

    # --- the screen -------------------------------------------------------------------------------------

    def grab(self, monitor: int | None) -> Frame:
        """One masked frame of a monitor (the primary by default), as the agent's capture sees it."""
        from omnidesk.agent.geometry import resolve_monitor
        from omnidesk.app.compose import build_screen

        try:
            screen = build_screen(self._settings, redactions=self._redactions)
            try:
                selector = monitor if monitor is not None else self._settings.capture.monitor
                index = resolve_monitor(screen.monitors(), selector)
                frame = screen.grab(index)
                # The frame views mss's buffer, which the screen's close() frees.
                return dataclasses.replace(frame, pixels=frame.pixels.copy())
            finally:
                screen.close()
        except OmnideskError as exc:
            raise ToolError(str(exc)) from exc

    def screenshot_png(self, monitor: int | None) -> bytes:
        from omnidesk.app.compose import build_png_encoder

        frame = self.grab(monitor)
        return bytes(build_png_encoder(compression=3).encode_png(frame.rgb()))

    def ask(self, question: str, monitor: int | None, max_tokens: int, cancel: CancelToken) -> dict[str, Any]:
        """One question about a monitor; ``stop_task`` or ``cancel`` ends the generation at once."""
        from omnidesk.agent.ports import ChatMessage, ImagePart, ModelRequest, TextPart
        from omnidesk.runtime.images import overview_image

        self._claim("asking about the screen")
        with self._cancel_lock:
            self._cancel = cancel
        try:
            client = self._client()
            frame = self.grab(monitor)
            image = overview_image(frame, client.capabilities.image_size or 1024)
            request = ModelRequest(
                (
                    ChatMessage.text("system", ASK_SYSTEM_PROMPT),
                    ChatMessage("user", (ImagePart(image), TextPart(question))),
                ),
                max_tokens=max_tokens,
                enable_thinking=False,
            )
            reply = client.generate(request, cancel=cancel)
        except OmnideskError as exc:
            raise ToolError(str(exc)) from exc
        finally:
            with self._cancel_lock:
                self._cancel = None
            self._busy.release()
        if reply.stop_reason == "cancelled":
            raise ToolError("the question was stopped (stop_task, or the client cancelled the call)")
        return {
            "answer": reply.text,
            "monitor": frame.monitor.index,
            "images": reply.images_encoded + reply.images_from_cache,
            "prompt_tokens": reply.prompt_tokens,
            "completion_tokens": reply.completion_tokens,
            "seconds": round(reply.prefill_seconds + reply.decode_seconds, 3),
        }

    def close(self) -> None:
        with self._cancel_lock:
            if self._cancel is not None:
                self._cancel.cancel()
        if self._model is not None:
            self._model.close()
            self._model = None


def _list_monitors(settings: Settings) -> list[dict[str, Any]]:
    from omnidesk.app.compose import list_monitors

    return [
        {
            "index": m.index,
            "name": m.name,
            "x": m.geometry.x,
            "y": m.geometry.y,
            "width": m.geometry.width,
            "height": m.geometry.height,
            "primary": m.primary,
        }
        for m in list_monitors(settings)
    ]


def build_server(settings: Settings, paths: AppPaths) -> tuple[MCPServer, Runner]:
    """The MCP server and the runner behind it (close the runner when the server ends)."""
    runner = Runner(settings, paths)
    server = MCPServer(name="omnidesk", instructions=INSTRUCTIONS)

    @server.tool(
        description=(
            "Carry out one task on this computer's desktop with the mouse and keyboard. Reports each step "
            "as progress; stop it with stop_task. max_steps may only lower the person's step limit and "
            "dry_run may only switch dry runs on. Actions that need the person's confirmation (typing "
            "into a terminal, secrets, destructive commands, system keys) are refused and listed in "
            "refused_for_confirmation."
        )
    )
    async def run_task(
        task: str, ctx: Context, max_steps: int | None = None, dry_run: bool | None = None, monitor: int | None = None
    ) -> dict[str, Any]:
        cancel = CancelToken()
        total = float(runner.limits(max_steps=max_steps, dry_run=dry_run).max_steps)

        def progress(step: int, line: str) -> None:
            try:
                anyio.from_thread.run(functools.partial(ctx.report_progress, step, total, line))
            except Exception:  # a lost progress message must not end the task
                log.debug("progress notification not sent", exc_info=True)

        work = functools.partial(
            runner.run,
            task,
            max_steps=max_steps,
            dry_run=dry_run,
            monitor=monitor,
            cancel=cancel,
            progress=progress,
        )
        try:
            return await anyio.to_thread.run_sync(work, abandon_on_cancel=True)
        except anyio.get_cancelled_exc_class():
            cancel.cancel()  # the client cancelled the request: stop the task too
            raise

    @server.tool(
        description="Stop the task that run_task is carrying out (it returns with status 'stopped'), or the "
        "question ask_screen is answering."
    )
    def stop_task() -> dict[str, Any]:
        return runner.stop()

    @server.tool(
        description=(
            "A PNG screenshot of one monitor (default: the primary), with private windows (password "
            "managers and other deny-listed windows) and Omnidesk's own windows blacked out."
        )
    )
    async def screenshot(monitor: int | None = None) -> Image:
        data = await anyio.to_thread.run_sync(runner.screenshot_png, monitor)
        return Image(data=data, format="png")

    @server.tool(
        description=(
            "Ask Omnidesk's vision model a question about what is on one monitor (default: the primary); "
            "private windows are blacked out before the model sees the screen."
        )
    )
    async def ask_screen(question: str, monitor: int | None = None, max_tokens: int = 512) -> dict[str, Any]:
        cancel = CancelToken()
        try:
            return await anyio.to_thread.run_sync(
                functools.partial(runner.ask, question, monitor, max_tokens, cancel), abandon_on_cancel=True
            )
        except anyio.get_cancelled_exc_class():
            cancel.cancel()  # the client cancelled the request: stop the generation too
            raise

    @server.tool(description="The monitors Omnidesk can work on (index, name, geometry, primary).")
    async def list_monitors() -> list[dict[str, Any]]:
        return await anyio.to_thread.run_sync(_list_monitors, settings)

    return server, runner
