"""The omni model watches the demonstration and writes what the task is.

The recording goes to the model the one way Omnidesk asks about a recording
(:func:`omnidesk.app.recording_question.ask_about_recording`: EVS-picked frames in the video layout the
model was trained on, then the narration's sound), with the question below. The answer is data: it is
read against the form the question asks for (``TASK:`` then numbered ``STEPS:``), bounded in size, and
anything else is refused with :class:`ModelOutputError` — teaching goes on without a description then,
and the replay has no model fallback. The description is what a model-driven run is given when the
replay cannot find a target.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from omnidesk.agent.errors import ModelOutputError
from omnidesk.agent.ports import CancelToken, ModelClient
from omnidesk.runtime.config import EvsConfig

__all__ = ["QUESTION", "TaskDescription", "describe_demonstration", "parse_description"]

log = logging.getLogger(__name__)

QUESTION = (
    "This recording shows a person doing a task on their computer once, saying what they do as they go. "
    "Write what the task is, so that it can be done again on another day, and list the steps they took. "
    "Answer in exactly this form and nothing else:\n"
    "TASK: <the task in one or two sentences>\n"
    "STEPS:\n"
    "1. <the first step>\n"
    "2. <the next step>"
)
MAX_DESCRIPTION = 2000
MAX_STEPS = 60
MAX_STEP = 300

_TASK = re.compile(r"^\s*\**TASK\s*:\**\s*(?P<task>.*?)(?=^\s*\**STEPS\**\s*:|\Z)", re.MULTILINE | re.DOTALL)
_STEPS = re.compile(r"^\s*\**STEPS\s*:\**(?P<steps>.*)\Z", re.MULTILINE | re.DOTALL)
_STEP = re.compile(r"^\s*(?P<n>\d{1,3})[.)]\s+(?P<text>\S.*?)\s*$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class TaskDescription:
    """The task in words and the steps as the model saw them."""

    description: str
    steps: tuple[str, ...]


def _clean(text: str, limit: int) -> str:
    kept = "".join(c for c in text if c in "\n\t" or unicodedata.category(c)[0] != "C")
    return " ".join(kept.split())[:limit]


def parse_description(text: str) -> TaskDescription:
    """Read the model's answer (see the module doc).

    Raises:
        ModelOutputError: no ``TASK:`` with text, or numbered steps out of order.
    """
    task = _TASK.search(text)
    description = _clean(task.group("task"), MAX_DESCRIPTION) if task is not None else ""
    if not description:
        raise ModelOutputError("the model's description of the task is not in the asked form (no 'TASK:' line)")
    steps: list[str] = []
    block = _STEPS.search(text)
    if block is not None:
        for expected, match in enumerate(_STEP.finditer(block.group("steps")), 1):
            if int(match.group("n")) != expected:
                raise ModelOutputError(f"the model's steps are not numbered in order (step {expected} missing)")
            if expected > MAX_STEPS:
                break
            steps.append(_clean(match.group("text"), MAX_STEP))
    return TaskDescription(description, tuple(steps))


def describe_demonstration(
    client: ModelClient, folder: Path, *, evs: EvsConfig, cancel: CancelToken | None = None
) -> TaskDescription:
    """Ask ``client`` what the demonstration recorded in ``folder`` shows.

    Raises:
        ModelOutputError: the answer is not in the asked form.
        RecordingReadError: the recording cannot be read.
        ConfigError: the model cannot see images, or the recording does not fit its context.
        ModelError: the model failed.
    """
    from omnidesk.app.recording_question import RecordingQuestion, ask_about_recording

    answer = ask_about_recording(client, RecordingQuestion(QUESTION, path=folder), evs=evs, cancel=cancel)
    described = parse_description(answer.text)
    log.info("teach: the model described the task in %d steps", len(described.steps))
    return described
