"""Prefill tokens per step of a scripted multi-step run, for three ways of sending the history.

* **trained**: the computer-use layout NVIDIA's cookbook sends Nemotron (``agent.py`` ``build_messages``;
  Omnidesk's Nemotron format): one user turn per step with its screenshot first, earlier steps as assistant
  turns, the last 3 screenshots, older steps as text in the oldest turn that still has an image. The window
  slides, so the prompt is not append-only; the session reuses the longest shared prefix.
* **round one**: Omnidesk's first layout (``agent/prompt.py`` before the formats): one user turn whose text
  history only grows, a ``CachePoint``, then the last 3 screenshots and the question — append-only up to the
  cache point by design.
* **resend-all**: the trained layout with nothing reused (every step evaluates its whole prompt).

The steps' thoughts and actions are scripted (the model only answers one token), so every run sends the same
prompts; the numbers depend on the layout and the runtime's reuse, not on what a random model writes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from omnidesk.agent.geometry import ImageTransform, MonitorInfo, Rect
from omnidesk.agent.ports import CachePoint, ChatMessage, ImagePart, ModelImage, ModelRequest, TextPart
from omnidesk.runtime.llama.session import OmniSession

__all__ = ["StepCount", "run_layouts", "screenshots"]

SYSTEM = ChatMessage.text(
    "system",
    "You are a GUI agent. You are given an instruction, a screenshot of the screen and your previous "
    "interactions with the computer. You need to perform a series of actions to complete the task.",
)
TASK = "Open the settings dialog, turn on dark mode and close the dialog."
INSTRUCTION = (
    f"# Task Instruction:\n{TASK}\n\nPlease generate the next move according to the screenshot, task "
    "instruction and previous steps (if provided).\n"
)


def screenshots(n: int, width: int = 1920, height: int = 1080) -> list[ImagePart]:
    """``n`` different whole screenshots (a window moving over a flat desktop)."""
    monitor = MonitorInfo(1, "bench", Rect(0, 0, width, height), primary=True)
    transform = ImageTransform(monitor, width, height, Rect(0, 0, width, height), 1.0, 1.0, 0.0, 0.0)
    out = []
    for i in range(n):
        pixels = np.full((height, width, 3), (58, 110, 165), np.uint8)
        x, y = (97 * i) % (width // 2), (61 * i) % (height // 2)
        pixels[y : y + height // 2, x : x + width // 2] = (236, 236, 236)
        out.append(ImagePart(ModelImage(pixels, transform, "overview", float(i))))
    return out


def _thought(i: int) -> tuple[str, str]:
    return (f"The window shows step {i + 1} of the dialog; the next control is below the title.", f"click item {i}")


def trained_request(shots: list[ImagePart], step: int, keep: int = 3) -> ModelRequest:
    """The cookbook's ``build_messages`` for ``step`` (0-based), thinking variant."""
    n_images = min(step, max(1, keep) - 1)
    first = step - n_images
    history = ""
    if first > 0:
        entries = [
            f"# Step {i + 1}:\n## Thought:\n{_thought(i)[0]}\n\n## Action:\n{_thought(i)[1]}\n" for i in range(first)
        ]
        history = "# Previous History Actions:\n" + "\n".join(entries) + "\n"
    messages = [SYSTEM]
    for i in range(first, step):
        text = INSTRUCTION + (history if i == first else "") + f"You are currently on Step {i + 1}.\n"
        messages.append(ChatMessage("user", (shots[i], TextPart(text))))
        thought, action = _thought(i)
        messages.append(ChatMessage.text("assistant", f"<think>\n{thought}\n</think>\n## Action:\n{action}\n"))
    text = INSTRUCTION + (history if n_images == 0 else "") + f"You are currently on Step {step + 1}.\n"
    messages.append(ChatMessage("user", (shots[step], TextPart(text))))
    return ModelRequest(tuple(messages), max_tokens=1, top_k=1, template_kwargs={"truncate_history_thinking": False})


def round_one_request(shots: list[ImagePart], step: int, keep: int = 3) -> ModelRequest:
    """Round one's append-only layout: growing text history, cache point, the last screenshots, question."""
    history = f"Task: {TASK}\n" + "".join(
        f"# Step {i + 1}:\n## Thought:\n{_thought(i)[0]}\n## Action:\n{_thought(i)[1]}\n## Result:\nacted\n"
        for i in range(step)
    )
    recent = shots[max(0, step - keep + 1) : step + 1]
    parts = (TextPart(history), CachePoint(), *recent, TextPart("What is the next action?"))
    return ModelRequest((SYSTEM, ChatMessage("user", parts)), max_tokens=1, top_k=1)


@dataclass(frozen=True, slots=True)
class StepCount:
    prompt: int
    evaluated: int
    images_encoded: int
    prefill_seconds: float


def run_layouts(session: OmniSession, n_steps: int) -> dict[str, list[StepCount]]:
    """Per layout, what each step of an ``n_steps`` run prefilled."""
    shots = screenshots(n_steps)
    layouts = {
        "trained": (trained_request, False),
        "round one": (round_one_request, False),
        "resend-all": (trained_request, True),
    }
    results: dict[str, list[StepCount]] = {}
    for name, (build, fresh) in layouts.items():
        session.reset()
        counts = []
        for step in range(n_steps):
            if fresh:
                session.reset()
            reply = session.generate(build(shots, step))
            counts.append(
                StepCount(
                    reply.prompt_tokens,
                    reply.prompt_tokens - reply.reused_tokens,
                    reply.images_encoded,
                    reply.prefill_seconds,
                )
            )
        results[name] = counts
    return results
