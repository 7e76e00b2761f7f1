"""Trajectory bundles: what a run saw and did, on disk, valid at every moment.

A bundle is a folder::

    run.json        summary (task, status, steps, timings); rewritten atomically after every step
    steps.jsonl     one JSON object per step, appended and flushed as each step ends
    step-0003.png   the overview the model saw at step 3 with its actions drawn on it
    step-0003-p0.png  the clean overview patch around the first point of the actions carried out (listed
                    in the step's ``patches``): what ``agent/replay.py`` finds again to replay the step

A step line holds ``actions`` (all the reply's actions, in order) and ``performed`` (how many were
carried out), plus ``action`` (the first) as bundles written before multi-action steps had it only.

PNG encoding happens on a background thread through the :class:`PngEncoder` port (``agent/`` has no
image library); each file is written under a temporary name and renamed, so a crash at any moment leaves
parsable JSON and only complete PNGs. :func:`load_bundle` reads a bundle back (also a crashed one).
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from pydantic import ValidationError

from omnidesk.agent.actions import ACTION_ADAPTER, Action
from omnidesk.agent.bundle_records import RunSummary, StepRecord
from omnidesk.agent.coords import point_to_image
from omnidesk.agent.errors import CoordinateError, RecordingError
from omnidesk.agent.ports import ModelImage, Step
from omnidesk.agent.private_files import confined_path, open_private_append, private_dir, write_private
from omnidesk.agent.safety import action_points

__all__ = [
    "Bundle",
    "PngEncoder",
    "TrajectoryWriter",
    "bundle_file",
    "draw_action",
    "load_bundle",
    "read_bundle_file",
    "step_record",
]

logger = logging.getLogger(__name__)

Pixels = npt.NDArray[np.uint8]
SCHEMA = 1
PATCH_RADIUS = 24
"""Half the side of the overview patches saved around each action point (for replay)."""
MAX_SUMMARY_BYTES = 16 * 2**20
MAX_STEPS_BYTES = 256 * 2**20


class PngEncoder(Protocol):
    """Encodes an ``H×W×3`` RGB image as PNG bytes (implemented in ``runtime/png.py``)."""

    def encode_png(self, rgb: Pixels) -> bytes: ...


def draw_action(image: ModelImage, action: Action | Sequence[Action] | None) -> Pixels:
    """A copy of the overview with a ring and cross at each point of the action(s) (drags get a line)."""
    canvas = np.array(image.pixels, dtype=np.uint8, copy=True)
    if action is None:
        return canvas
    if isinstance(action, Sequence):
        for one in action:
            canvas = _draw(canvas, image, one)
        return canvas
    return _draw(canvas, image, action)


def _draw(canvas: Pixels, image: ModelImage, action: Action) -> Pixels:
    points = []
    for point in action_points(action):
        try:
            points.append(point_to_image(point, image.transform))
        except CoordinateError:  # a point off the image is not drawn (the step records the error)
            continue
    h, w = canvas.shape[:2]
    yy, xx = np.ogrid[:h, :w]
    for x, y in points:
        dist = np.hypot(xx - x, yy - y)
        canvas[(dist >= 6) & (dist <= 9)] = (255, 0, 255)
        canvas[(np.abs(yy - y) < 1) & (np.abs(xx - x) <= 4)] = (255, 0, 255)
        canvas[(np.abs(xx - x) < 1) & (np.abs(yy - y) <= 4)] = (255, 0, 255)
    if len(points) == 2:
        (x0, y0), (x1, y1) = points
        for t in np.linspace(0, 1, max(2, int(np.hypot(x1 - x0, y1 - y0)))):
            cx, cy = int(x0 + (x1 - x0) * t), int(y0 + (y1 - y0) * t)
            if 0 <= cx < w and 0 <= cy < h:
                canvas[cy, cx] = (255, 0, 255)
    return canvas


def step_record(step: Step, png: str | None) -> dict[str, Any]:
    """The JSON line of a step (observation summarised; pixels go to the PNG)."""
    obs = step.observation
    return {
        "index": step.index,
        "status": step.status,
        "started_at": step.started_at,
        "timings": dict(step.timings),
        "raw_output": step.raw_output,
        "reasoning": step.reasoning,
        "action": None if step.action is None else ACTION_ADAPTER.dump_python(step.action, mode="json"),
        "actions": [ACTION_ADAPTER.dump_python(action, mode="json") for action in step.actions],
        "performed": step.performed,
        "target": None if step.target is None else list(step.target),
        "result": step.result,
        "error": step.error,
        "prompt_tokens": step.prompt_tokens,
        "completion_tokens": step.completion_tokens,
        "reused_tokens": step.reused_tokens,
        "png": png,
        "observation": None
        if obs is None
        else {
            "timestamp": obs.timestamp,
            "keyframe": obs.keyframe,
            "changed_fraction": obs.changed_fraction,
            "images": [
                {"kind": i.kind, "label": i.label, "width": int(i.pixels.shape[1]), "height": int(i.pixels.shape[0])}
                for i in obs.images
            ],
            "monitor": None
            if not obs.images
            else {
                "index": obs.images[0].transform.monitor.index,
                "name": obs.images[0].transform.monitor.name,
                "geometry": list(_rect(obs.images[0].transform.monitor.geometry)),
            },
        },
    }


def _cropper(pixels: Pixels, x0: int, y0: int, x1: int, y1: int) -> Callable[[], Pixels]:
    def crop() -> Pixels:
        return np.array(pixels[y0:y1, x0:x1], dtype=np.uint8)

    return crop


def _rect(rect: Any) -> tuple[int, int, int, int]:
    return rect.x, rect.y, rect.width, rect.height


class TrajectoryWriter:
    """Consumes a run's steps into a bundle folder; use as a context manager around the run."""

    def __init__(
        self, folder: Path, task: str, *, encoder: PngEncoder | None, meta: dict[str, Any] | None = None
    ) -> None:
        self.folder = folder
        try:
            private_dir(folder)
            self._steps = open_private_append(folder / "steps.jsonl")
        except OSError as exc:
            raise RecordingError(f"cannot write the trajectory to {folder}: {exc}; choose another folder") from exc
        self._encoder = encoder
        self._summary: dict[str, Any] = {
            "schema": SCHEMA,
            "task": task,
            "status": "running",
            "steps": 0,
            "statuses": {},
            "error": "",
            "meta": meta or {},
            "tokens": {"prompt": 0, "completion": 0, "reused": 0},
        }
        self._pngs: queue.Queue[tuple[Path, Callable[[], Pixels]] | None] = queue.Queue()
        self._png_errors: list[str] = []
        self._thread = threading.Thread(target=self._png_worker, name="trajectory-png", daemon=True)
        self._thread.start()
        self._write_summary()

    def _png_worker(self) -> None:
        while True:
            item = self._pngs.get()
            if item is None:
                return
            path, produce = item
            try:
                assert self._encoder is not None
                write_private(path, self._encoder.encode_png(produce()))
            except (OSError, ValueError) as exc:
                self._png_errors.append(f"{path.name}: {exc}")
                logger.warning("could not write %s: %s", path, exc)

    def _write_summary(self) -> None:
        data = json.dumps(self._summary, indent=2, ensure_ascii=False).encode()
        try:
            write_private(self.folder / "run.json", data)
        except OSError as exc:
            raise RecordingError(f"cannot write {self.folder / 'run.json'}: {exc}") from exc

    def record(self, step: Step) -> None:
        """Append one step (and queue its pictures) — call for every yielded step."""
        png = None
        patches: list[dict[str, Any]] = []
        if self._encoder is not None and step.observation is not None and step.observation.images:
            image, actions = step.observation.images[0], step.actions
            png = f"step-{step.index:04d}.png"
            self._pngs.put((self.folder / png, lambda: draw_action(image, actions)))
            patches = self._queue_patches(step.index, image, actions[: step.performed])
        record = step_record(step, png)
        if patches:
            record["patches"] = patches
        try:
            self._steps.write(json.dumps(record, ensure_ascii=False) + "\n")
            self._steps.flush()
            os.fsync(self._steps.fileno())
        except OSError as exc:
            raise RecordingError(f"cannot append to {self.folder / 'steps.jsonl'}: {exc}") from exc
        summary = self._summary
        summary["steps"] += 1
        summary["statuses"][step.status] = summary["statuses"].get(step.status, 0) + 1
        summary["tokens"]["prompt"] += step.prompt_tokens
        summary["tokens"]["completion"] += step.completion_tokens
        summary["tokens"]["reused"] += step.reused_tokens
        summary["last_step"] = {"index": step.index, "status": step.status, "result": step.result, "error": step.error}
        self._write_summary()

    def _queue_patches(self, index: int, image: ModelImage, actions: Sequence[Action]) -> list[dict[str, Any]]:
        """Clean patches of the overview around each point of the actions carried out, in order (for
        ``omnidesk replay``)."""
        h, w = image.pixels.shape[:2]
        patches = []
        points = [point for action in actions for point in action_points(action)]
        for n, point in enumerate(points):
            try:
                x, y = point_to_image(point, image.transform)
            except CoordinateError:
                continue
            if not (0 <= x < w and 0 <= y < h):
                continue
            x0, y0 = max(0, int(x) - PATCH_RADIUS), max(0, int(y) - PATCH_RADIUS)
            x1, y1 = min(w, int(x) + PATCH_RADIUS), min(h, int(y) + PATCH_RADIUS)
            name = f"step-{index:04d}-p{n}.png"
            self._pngs.put((self.folder / name, _cropper(image.pixels, x0, y0, x1, y1)))
            patches.append({"file": name, "anchor": [x - x0, y - y0], "image_size": [w, h]})
        return patches

    def close(self, status: str, error: str = "") -> None:
        """Finish the bundle: wait for pictures, write the final summary."""
        self._pngs.put(None)
        self._thread.join(timeout=60)
        self._steps.close()
        self._summary["status"] = status
        self._summary["error"] = error
        if self._png_errors:
            self._summary["png_errors"] = self._png_errors
        self._write_summary()

    def __enter__(self) -> TrajectoryWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if isinstance(exc, GeneratorExit):  # the consumer stopped the run between steps
            self.close("stopped")
        elif exc is None:
            last = self._summary.get("last_step", {}).get("status", "")
            self.close("finished" if last == "finished" else "stopped")
        else:
            self.close("crashed", f"{type(exc).__name__}: {exc}")

    def consume(self, steps: Iterator[Step]) -> Iterator[Step]:
        """Record every step of ``steps`` while passing it on."""
        for step in steps:
            self.record(step)
            yield step


@dataclass(frozen=True, slots=True)
class Bundle:
    """A bundle read back: ``summary`` and ``steps`` checked against :class:`RunSummary` / :class:`StepRecord`
    (dumped back to plain dicts, every declared field present), every file they name inside ``folder``."""

    folder: Path
    summary: dict[str, Any]
    steps: list[dict[str, Any]]


def load_bundle(folder: Path) -> Bundle:
    """Read a bundle; a torn last line (a crash mid-write) is dropped.

    A bundle may come from anywhere (a shared folder, a download), so everything in it is checked: the
    records' fields and types, file names that must stay inside the bundle (``..``, absolute paths and
    symbolic links out of it are refused), sizes.

    Raises:
        RecordingError: not a bundle, unreadable, malformed, or naming a file outside itself.
    """
    summary_data = _load_json(folder, "run.json")
    try:
        summary = RunSummary.model_validate(summary_data).model_dump(mode="json")
    except ValidationError as exc:
        raise RecordingError(f"{folder / 'run.json'} is malformed ({_first_problem(exc)}); {_AGAIN}") from exc
    lines = _read_index(folder, "steps.jsonl", MAX_STEPS_BYTES).splitlines()
    steps = []
    for number, line in enumerate(lines):
        try:
            data = json.loads(line)
        except (ValueError, RecursionError) as exc:
            if number == len(lines) - 1:
                break
            raise RecordingError(f"{folder / 'steps.jsonl'} line {number + 1} is corrupt: {exc}; {_AGAIN}") from exc
        try:
            record = StepRecord.model_validate(data)
            for name in record.files():
                confined_path(folder, name)
        except (ValidationError, ValueError) as exc:
            problem = _first_problem(exc) if isinstance(exc, ValidationError) else str(exc)
            raise RecordingError(f"{folder / 'steps.jsonl'} line {number + 1}: {problem}; {_AGAIN}") from exc
        steps.append(record.model_dump(mode="json"))
    return Bundle(folder, summary, steps)


def bundle_file(folder: Path, name: str) -> Path:
    """The file ``name`` of the bundle in ``folder`` (see :func:`~omnidesk.agent.private_files.confined_path`).

    Raises:
        RecordingError: ``name`` leads outside the bundle.
    """
    try:
        return confined_path(folder, name)
    except ValueError as exc:
        raise RecordingError(f"{folder} is not a usable bundle: {exc}") from exc


def read_bundle_file(folder: Path, name: str, limit: int) -> bytes | None:
    """The bytes of a bundle's regular file ``name`` (``None`` if it is missing or not a regular file).

    Raises:
        RecordingError: ``name`` leads outside the bundle, the file is over ``limit`` bytes or unreadable.
    """
    path = bundle_file(folder, name)
    try:
        if not path.is_file():
            return None
        with path.open("rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise RecordingError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if len(data) > limit:
        raise RecordingError(f"{path} is larger than {limit // 2**20} MiB; this is not a file Omnidesk wrote")
    return data


_AGAIN = "it was not written by Omnidesk or is damaged"


def _read_index(folder: Path, name: str, limit: int) -> str:
    try:
        data = read_bundle_file(folder, name, limit)
    except RecordingError as exc:
        raise RecordingError(f"{folder} is not a readable trajectory bundle: {exc}") from exc
    if data is None:
        raise RecordingError(f"{folder} is not a readable trajectory bundle: it has no {name}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RecordingError(f"{folder / name} is not UTF-8 text; {_AGAIN}") from exc


def _load_json(folder: Path, name: str) -> Any:
    text = _read_index(folder, name, MAX_SUMMARY_BYTES)
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise RecordingError(f"{folder} is not a readable trajectory bundle: {name}: {exc}") from exc


def _first_problem(error: ValidationError) -> str:
    item = error.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(p) for p in item["loc"]) or "the record"
    return f"{where}: {item['msg']}"
