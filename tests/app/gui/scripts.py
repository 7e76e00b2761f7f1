"""Scripted runs for the GUI tests: synthetic screens, steps and run functions that honour cancel."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from omnidesk.agent.actions import Click, Drag, Point, TypeText
from omnidesk.agent.geometry import ImageTransform, MonitorInfo, Rect
from omnidesk.agent.ports import CancelToken, ModelImage, Observation, Step
from omnidesk.app.gui.controller import RunRequest

MONITOR = MonitorInfo(index=1, name="screen-0", geometry=Rect(0, 0, 1920, 1080), primary=True)


def overview(seed: int = 0, size: tuple[int, int] = (960, 540)) -> ModelImage:
    """A half-size picture of a fake desktop: a gradient with a window and a button."""
    width, height = size
    xs = np.linspace(40, 90, width, dtype=np.float32)
    pixels = np.empty((height, width, 3), np.uint8)
    pixels[:, :, 0] = xs[None, :].astype(np.uint8)
    pixels[:, :, 1] = 70 + seed % 50
    pixels[:, :, 2] = 110
    pixels[80:420, 120:760] = (236, 238, 242)
    pixels[80:110, 120:760] = (60, 90, 160)
    pixels[340:380, 600:720] = (47, 111, 237)
    transform = ImageTransform(MONITOR, width, height, Rect(0, 0, width, height), 1920 / width, 1080 / height, 0, 0)
    return ModelImage(pixels, transform, "overview", float(seed), label=f"frame {seed}")


def crop(box: Rect, at: float = 0.0) -> ModelImage:
    pixels = np.full((box.height, box.width, 3), 200, np.uint8)
    pixels[::8] = (255, 160, 40)
    transform = ImageTransform(MONITOR, box.width, box.height, Rect(0, 0, box.width, box.height), 1, 1, box.x, box.y)
    return ModelImage(pixels, transform, "crop", at, label=f"crop {box}")


def step(
    index: int,
    action: object = None,
    *,
    target: tuple[int, int] | None = None,
    status: str = "acted",
    with_image: bool = True,
    crops: Sequence[Rect] = (),
) -> Step:
    images = (overview(index), *(crop(b) for b in crops)) if with_image else ()
    observation = (
        Observation(images, float(index), keyframe=True, changed_fraction=0.1, changed_boxes=tuple(crops))
        if with_image
        else None
    )
    return Step(
        index=index,
        task="test task",
        started_at=float(index),
        status=status,  # type: ignore[arg-type]
        timings=(("observe", 0.01), ("model", 0.5), ("act", 0.02)),
        observation=observation,
        reasoning=f"thinking about step {index}",
        actions=() if action is None else (action,),
        performed=0 if action is None else 1,
        target=target,  # type: ignore[arg-type]
        result="ok",
    )


def click_step(index: int, x: int = 1320, y: int = 720, **kw: object) -> Step:
    return step(index, Click(point=Point(x=x / 1920, y=y / 1080, space="fraction")), target=(x, y), **kw)  # type: ignore[arg-type]


def drag_step(index: int) -> Step:
    return step(index, Drag(start=Point(x=300, y=300, space="desktop"), end=Point(x=900, y=600, space="desktop")))


def type_step(index: int, text: str = "hello world") -> Step:
    return step(index, TypeText(text=text))


Runner = Callable[[RunRequest, CancelToken], Iterator[Step]]


class ScriptedRun:
    """A run function that yields ``steps`` (``delay`` s apart) and then, if ``hang``, blocks in a fake
    generation until cancelled — as a model does when it checks the stop flag between tokens."""

    def __init__(
        self,
        steps: Sequence[Step],
        *,
        delay: float = 0.0,
        hang: bool = False,
        before: Callable[[int], None] | None = None,
        error: Exception | None = None,
    ) -> None:
        self.steps = list(steps)
        self.delay = delay
        self.hang = hang
        self.before = before
        self.error = error
        self.requests: list[RunRequest] = []
        self.threads: list[str] = []
        self.closed = threading.Event()
        self.generating = threading.Event()

    def __call__(self, request: RunRequest, cancel: CancelToken) -> Iterator[Step]:
        self.requests.append(request)
        self.threads.append(threading.current_thread().name)
        try:
            for i, item in enumerate(self.steps):
                if self.before is not None:
                    self.before(i)
                if cancel.wait(self.delay):
                    return
                yield item
            if self.error is not None:
                raise self.error
            if self.hang:
                self.generating.set()
                cancel.wait(60)
        finally:
            self.closed.set()
