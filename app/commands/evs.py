"""``omnidesk evs``: what Efficient Video Sampling keeps, on a video file or the live screen.

Prints one line per frame (kept and changed share of the patches, keyframes) and writes a PNG strip of
frames with the kept patches outlined: green boxes for crops sent between keyframes, a blue frame for a
keyframe (everything sent), thin red boxes for changes EVS saw.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import cv2
import numpy as np
import numpy.typing as npt
import typer

from omnidesk.app.cli_options import MonitorOption, get_context
from omnidesk.runtime.config import EvsConfig
from omnidesk.runtime.evs import EvsCore, EvsDecision

__all__ = ["draw_decision", "evs_command", "make_strip", "register", "video_frames"]

Pixels = npt.NDArray[np.uint8]
GREEN, BLUE, RED = (60, 200, 60), (230, 120, 30), (40, 40, 230)


def video_frames(path: Path) -> Iterator[tuple[float, Pixels]]:
    """``(seconds, BGR pixels)`` of every frame of a video file (PyAV)."""
    import av

    try:
        container = av.open(str(path))
    except (OSError, av.error.InvalidDataError) as exc:
        raise typer.BadParameter(f"cannot read {path}: {exc}") from exc
    with container:
        for frame in container.decode(video=0):
            seconds = float(frame.time) if frame.time is not None else 0.0
            yield seconds, np.asarray(frame.to_ndarray(format="bgr24"), dtype=np.uint8)


def live_frames(ctx: typer.Context, monitor: int | None, fps: float, seconds: float) -> Iterator[tuple[float, Pixels]]:
    """Frames of the live screen for ``seconds`` (privacy-masked like every capture)."""
    from omnidesk.app.compose import build_capture

    capture = build_capture(get_context(ctx).settings, monitor=monitor, fps=fps)
    try:
        first = capture.stream.wait_frame(0, timeout=5)
        frame, start = first, first.timestamp
        while frame.timestamp - start < seconds:
            yield frame.timestamp - start, np.ascontiguousarray(frame.pixels[:, :, :3])
            frame = capture.stream.wait_frame(frame.seq, timeout=5)
    finally:
        capture.close()


def draw_decision(pixels: Pixels, decision: EvsDecision, patch: int, width: int = 960) -> Pixels:
    """The frame shrunk to ``width`` with what EVS kept outlined, and a caption."""
    scale = width / pixels.shape[1]
    size = (width, round(pixels.shape[0] * scale))
    image = np.ascontiguousarray(cv2.resize(pixels[:, :, :3], size, interpolation=cv2.INTER_AREA), dtype=np.uint8)

    def rect(x: int, y: int, w: int, h: int, *, color: tuple[int, int, int], thickness: int) -> None:
        p0 = (round(x * scale), round(y * scale))
        p1 = (round((x + w) * scale) - 1, round((y + h) * scale) - 1)
        cv2.rectangle(image, p0, p1, color, thickness)

    if decision.keyframe:
        cv2.rectangle(image, (0, 0), (image.shape[1] - 1, image.shape[0] - 1), BLUE, 6)
    else:
        rows, cols = np.nonzero(decision.changed)
        for r, c in zip(rows, cols, strict=True):
            rect(int(c) * patch, int(r) * patch, patch, patch, color=RED, thickness=1)
    for box in decision.boxes:
        rect(box.x, box.y, box.width, box.height, color=GREEN, thickness=3)
    caption = f"t={decision.timestamp:.2f}s kept {decision.kept_fraction:.1%}"
    caption += f" KEYFRAME ({decision.reason})" if decision.keyframe else f" crops {len(decision.boxes)}"
    cv2.rectangle(image, (0, 0), (image.shape[1], 26), (0, 0, 0), -1)
    cv2.putText(image, caption, (8, 19), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1, cv2.LINE_AA)
    return image


def make_strip(images: list[Pixels], columns: int = 2) -> Pixels:
    """Tile images (same width) into a grid, ``columns`` wide."""
    if not images:
        raise ValueError("no frames to draw")
    height = max(img.shape[0] for img in images)
    width = images[0].shape[1]
    rows = -(-len(images) // columns)
    sheet = np.full((rows * (height + 8), columns * (width + 8), 3), 255, np.uint8)
    for i, img in enumerate(images):
        r, c = divmod(i, columns)
        y, x = r * (height + 8), c * (width + 8)
        sheet[y : y + img.shape[0], x : x + img.shape[1]] = img
    return sheet


def evs_command(
    ctx: typer.Context,
    source: Annotated[Path | None, typer.Argument(help="A video file (mp4, mkv…); omit with --live.")] = None,
    *,
    live: Annotated[bool, typer.Option("--live", help="Sample the live screen instead of a file.")] = False,
    monitor: MonitorOption = None,
    seconds: Annotated[float, typer.Option("--seconds", min=0.5, help="How long to watch with --live.")] = 10.0,
    fps: Annotated[float, typer.Option("--fps", min=0.5, max=30, help="Capture rate with --live.")] = 2.0,
    png: Annotated[Path, typer.Option("--png", help="Where to write the strip of frames.")] = Path("evs-strip.png"),
    strip: Annotated[int, typer.Option("--strip", min=1, max=24, help="Frames in the strip.")] = 6,
) -> None:
    """Print EVS's kept-patch ratio per frame and draw what it keeps."""
    if live == (source is not None):
        raise typer.BadParameter("give a video file or --live (not both)")
    config: EvsConfig = get_context(ctx).settings.evs
    frames = live_frames(ctx, monitor, fps, seconds) if live else video_frames(source)  # type: ignore[arg-type]
    core = EvsCore(config)
    drawn: list[Pixels] = []
    kept_total, count = 0.0, 0
    for t, pixels in frames:
        decision = core.process(pixels, t)
        kept_total += decision.kept_fraction
        count += 1
        mark = f"  keyframe ({decision.reason})" if decision.keyframe else f"  {len(decision.boxes)} crop(s)"
        typer.echo(
            f"{count:5d} {t:8.2f} s  kept {decision.kept_fraction:6.1%}  changed {decision.changed_fraction:6.1%}{mark}"
        )
        interesting = decision.keyframe or decision.boxes
        if interesting and (len(drawn) < strip or not decision.keyframe):
            drawn.append(draw_decision(pixels, decision, core.grid.patch_px if core.grid else config.patch_size))
            drawn = drawn[:1] + drawn[1:][-(strip - 1) :] if strip > 1 else drawn[-1:]
    if count == 0:
        raise typer.BadParameter("no frames to sample")
    typer.echo(f"{count} frames, mean kept {kept_total / count:.1%} of the patches")
    if drawn:
        png.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(png), make_strip(drawn))
        typer.echo(f"wrote {png}")


def register(cli: typer.Typer) -> None:
    cli.command("evs")(evs_command)
