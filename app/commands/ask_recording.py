"""``omnidesk ask --recording``: the terminal side of a question about a recording (progress, output)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import typer

from omnidesk.app.recording_question import Progress, RecordingAnswer, RecordingQuestion, ask_about_recording

if TYPE_CHECKING:
    from rich.progress import Progress as RichBar
    from rich.progress import TaskID

    from omnidesk.agent.ports import ModelClient, TokenDelta
    from omnidesk.runtime.config import EvsConfig

__all__ = ["TerminalProgress", "answer_recording_question", "parse_time_option"]


def parse_time_option(value: str | None, name: str) -> float | None:
    """``--from`` / ``--to`` as seconds (``75``, ``01:15``, ``1:02:03``); a usage error otherwise."""
    if value is None:
        return None
    from omnidesk.runtime.recording_reader import parse_time

    try:
        return parse_time(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=name) from None


class TerminalProgress(Progress):
    """A rich progress bar on stderr with the time left: first through the recording, then the requests."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, TextColumn, TimeRemainingColumn
        from rich.progress import Progress as RichProgress

        self._bar: RichBar = RichProgress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._task: TaskID | None = None
        self._phase = ""

    def __enter__(self) -> TerminalProgress:
        self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.stop()

    def update(self, stage: str, done: float, total: float) -> None:
        phase = "reading" if stage == "reading" else "asking"
        if self._task is None or phase != self._phase:
            if self._task is not None:
                self._bar.remove_task(self._task)
            self._task = self._bar.add_task(stage, total=max(total, 1e-9))
        self._phase = phase
        self._bar.update(self._task, description=stage, completed=done, total=max(total, 1e-9))


def answer_recording_question(
    client: ModelClient, ask: RecordingQuestion, *, evs: EvsConfig, as_json: bool
) -> RecordingAnswer:
    """Ask, show progress on stderr, stream the final answer (or print it as JSON)."""

    def stream(delta: TokenDelta) -> None:
        typer.echo(delta.text, nl=False, err=delta.channel == "reasoning")

    with TerminalProgress() as progress:
        answer = ask_about_recording(client, ask, evs=evs, progress=progress, on_token=None if as_json else stream)
    for note in answer.notes:
        typer.echo(f"note: {note}", err=True)
    if as_json:
        payload = {
            "answer": answer.text,
            "model": client.capabilities.name,
            "recording": str(answer.recording),
            "from": round(answer.start, 3),
            "to": round(answer.end, 3),
            "parts": [
                {
                    "from": round(p.start, 3),
                    "to": round(p.end, 3),
                    "frames": list(p.frame_times),
                    "audio_seconds": round(p.audio_seconds, 3),
                    "prompt_tokens": p.prompt_tokens,
                }
                for p in answer.parts
            ],
            "notes": answer.notes,
        }
        if answer.video is not None:
            video = answer.video
            payload["video"] = {
                "pruning_rate": video.pruning_rate,
                "pruning_rate_from": video.pruning_source,
                "num_frames": video.num_frames,
                "fps": video.fps,
                "clip_fps": video.clip_fps,
                "size": list(video.size),
            }
        typer.echo(json.dumps(payload, ensure_ascii=False, indent=2))
    else:
        typer.echo("")
    return answer
