"""``omnidesk record``: record a monitor and the microphone into MKV segments with an index.

Ctrl+C (or SIGTERM) finishes the open segment and writes the index; without a microphone the recording is
video-only, with a warning.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from omnidesk.agent.errors import NoMicrophoneError
from omnidesk.agent.ports import CancelToken
from omnidesk.app.cli_options import MonitorOption, get_context
from omnidesk.app.terminal import stop_on_signals

__all__ = ["record_command", "register"]


def record_command(
    ctx: typer.Context,
    *,
    monitor: MonitorOption = None,
    seconds: Annotated[float | None, typer.Option("--seconds", min=0.5, help="Stop after this long.")] = None,
    fps: Annotated[float | None, typer.Option("--fps", min=1, max=30, help="Frames per second.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Directory for the segments and index.json.")] = None,
    audio: Annotated[bool, typer.Option("--audio/--no-audio", help="Record the microphone too.")] = True,
) -> None:
    """Record a monitor (and the microphone) until --seconds or Ctrl+C."""
    from omnidesk.app.compose import build_capture, build_microphone
    from omnidesk.runtime.recording import Progress, SegmentedRecorder, record

    context = get_context(ctx)
    settings = context.settings
    rate = fps or settings.recording.fps
    folder = out or context.paths.recordings_dir / time.strftime("%Y%m%d-%H%M%S")
    capture = build_capture(
        settings, monitor=monitor, fps=rate, buffer_frames=max(8, int(rate / 2)), allow_desktop=True
    )
    microphone = None
    try:
        if audio:
            microphone = build_microphone(settings)
            try:
                microphone.start()
            except NoMicrophoneError as exc:
                typer.echo(f"warning: {exc}; recording video only", err=True)
                microphone = None
        geometry = capture.monitor.geometry
        recorder = SegmentedRecorder(
            folder,
            monitor={
                "index": capture.monitor.index,
                "name": capture.monitor.name,
                "geometry": list((geometry.x, geometry.y, geometry.width, geometry.height)),
            },
            size=(geometry.width, geometry.height),
            fps=rate,
            audio=microphone is not None,
            segment_seconds=settings.recording.segment_seconds,
        )
        typer.echo(f"recording monitor {capture.monitor.index} ({capture.monitor.name}) to {folder}", err=True)
        live = sys.stderr.isatty()

        def show(progress: Progress) -> None:
            line = (
                f"{progress.elapsed:6.1f} s  {progress.frames} frames  {progress.segments} segments closed  "
                f"{progress.dropped} dropped  mic {'#' * round(progress.audio_level * 10):<10}"
            )
            if live:
                typer.echo(f"\r{line}", nl=False, err=True)

        stop = CancelToken()
        with stop_on_signals(stop):
            index = record(
                capture.stream, recorder, seconds=seconds, stop=stop, microphone=microphone, on_progress=show
            )
    finally:
        if microphone is not None:
            microphone.close()
        capture.close()
    if live:
        typer.echo("", err=True)
    frames = sum(s.frames for s in index.segments)
    typer.echo(f"{len(index.segments)} segments, {frames} frames, {index.dropped_frames} dropped: {folder}")


def register(cli: typer.Typer) -> None:
    cli.command("record")(record_command)
