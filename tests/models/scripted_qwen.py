"""A strict scripted Qwen2.5-VL / Qwen3-VL computer-use model (checks written from QwenLM's cookbooks).

The layout it accepts, per request (QwenLM ``cookbooks/computer_use.ipynb``, API path, and
``cookbooks/mobile_agent.ipynb`` for the history; see ``tests/models/published.py`` for the commits):

- exactly two messages: ``system``, then ``user``;
- the system text is what ``NousFnCallPrompt`` builds from "You are a helpful assistant." and that version's
  ``computer_use`` tool — built here by qwen-agent itself — as ONE text (llama.cpp joins text parts with a
  newline and HF templates with nothing, so several parts would not reach the model as the cookbook's bytes).
  Its resolution line states, for 2.5, the smart-resized size (factor 28) of the screenshot this request
  carries, and for 3 ``1000x1000``;
- the user turn is ``[image_url, text]`` — the screenshot FIRST, one image, then the text;
- the screenshot is already at its smart_resize size (2.5: factor 28, 3: factor 32, the cookbooks'
  min/max pixels) — so no engine resizes it again — and, when the server knows the screen, it is the whole
  screen at that size (no letterbox, no crop);
- the text is the task alone on the first step (Omnidesk may add ``\\n\\nNote: …`` lines after it, its
  documented addition); after that the mobile cookbook's
  ``The user query: {task}\\nTask progress (You have done the following operation on the current device):
  Step 1: {tool call JSON}; Step 2: …; `` with every earlier call, numbered from 1.

With ``tool_parser="when_tools"`` it behaves like vLLM started with ``--enable-auto-tool-choice
--tool-call-parser hermes``: a request that carries ``tools`` gets ``tool_calls`` (arguments as a JSON
string, content null) instead of ``<tool_call>`` text. Qwen3-VL's template renders ``tools`` into the same
system block, so such a request must send the plain system text plus the tool; Qwen2.5-VL's multimodal
template ignores ``tools`` (vLLM then falls back to the text-only template), so a 2.5 request with ``tools``
is refused. ``"always"`` answers with ``tool_calls`` whatever the request.

Answers are the model's: ``<tool_call>\\n{"name": "computer_use", "arguments": {…}}\\n</tool_call>`` with
``left_click`` at the target found in the pixels — 2.5 in pixels of the smart-resized image, 3 in 0–1000 —,
``type`` and ``terminate``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, Literal

from tests.models.published import QWEN_SYSTEM, QwenVersion, qwen_function, qwen_system_text
from tests.models.scripted_server import (
    RGB,
    Answer,
    ClickOn,
    Finish,
    PlanStep,
    Refusal,
    ToolCall,
    TypeText,
    color_center,
    decode_image_part,
    text_of,
)
from tests.oracles import qwen_vl_utils_smart_resize

__all__ = ["QwenModel"]

_SMART_RESIZE = qwen_vl_utils_smart_resize()  # the authors' own function, not Omnidesk's
_FACTOR = {"2.5": 28, "3": 32}
COOKBOOK_MIN_PIXELS, COOKBOOK_MAX_PIXELS = 3136, 12845056  # both cookbooks' smart_resize arguments
_PROGRESS = "Task progress (You have done the following operation on the current device): "
_HISTORY = re.compile(r"The user query: (?P<task>.*)\n" + re.escape(_PROGRESS) + r"(?P<steps>.*)", re.DOTALL)
_STEP = re.compile(r"Step (?P<n>\d+): (?P<call>\{.*?\}); (?=Step \d+: |$)", re.DOTALL)
ToolParser = Literal["none", "when_tools", "always"]


def _first_difference(got: str, expected: str) -> str:
    pairs = enumerate(zip(got, expected, strict=False))
    index = next((i for i, (a, b) in pairs if a != b), min(len(got), len(expected)))
    return f"at character {index}: got {got[index : index + 60]!r}, expected {expected[index : index + 60]!r}"


class QwenModel:
    """``answer(body)`` for :func:`tests.models.scripted_server.scripted_server`.

    ``task`` is the instruction it expects; ``plan`` what it does at each step; ``screen`` the monitor size
    (width, height) when the test knows it, to check that the whole screen was sent.
    """

    def __init__(
        self,
        version: QwenVersion,
        task: str,
        plan: Sequence[PlanStep],
        *,
        screen: tuple[int, int] | None = None,
        min_pixels: int = COOKBOOK_MIN_PIXELS,
        max_pixels: int = COOKBOOK_MAX_PIXELS,
        tool_parser: ToolParser = "none",
    ) -> None:
        self.version = version
        self.task = task
        self.plan = list(plan)
        self.screen = screen
        self.factor = _FACTOR[version]
        self.min_pixels, self.max_pixels = min_pixels, max_pixels
        self.tool_parser = tool_parser

    # --- the checks ---------------------------------------------------------------------------------

    def _check_image(self, part: dict[str, Any]) -> RGB:
        pixels = decode_image_part(part)
        height, width = pixels.shape[:2]
        smart_h, smart_w = _SMART_RESIZE(height, width, self.factor, self.min_pixels, self.max_pixels)
        if (smart_w, smart_h) != (width, height):
            raise Refusal(
                f"the {width}x{height} screenshot is not at its smart_resize size {smart_w}x{smart_h} (factor "
                f"{self.factor}, {self.min_pixels}..{self.max_pixels} pixels); the engine would resize it again"
            )
        if self.screen is not None:
            sh, sw = _SMART_RESIZE(self.screen[1], self.screen[0], self.factor, self.min_pixels, self.max_pixels)
            if (sw, sh) != (width, height):
                screen = f"{self.screen[0]}x{self.screen[1]}"
                raise Refusal(f"expected the whole {screen} screen as {sw}x{sh}, got {width}x{height}")
        return pixels

    def _check_system(self, message: dict[str, Any], tools: object, size: tuple[int, int]) -> None:
        if message.get("role") != "system":
            raise Refusal(f"the first message must be the system message, got role {message.get('role')!r}")
        content = message.get("content")
        if isinstance(content, list) and len(content) != 1:
            raise Refusal("send the system text as one text: engines join several text parts differently")
        text = text_of(content)
        if text is None:
            raise Refusal("the system message must be text only")
        width, height = size if self.version == "2.5" else (1000, 1000)
        if tools is not None:
            if self.version == "2.5":
                raise Refusal(
                    "Qwen2.5-VL's multimodal chat template ignores `tools` (vLLM then switches to the text-only "
                    "template); embed the computer_use tool in the system text as the cookbook does"
                )
            expected_tools = [{"type": "function", "function": qwen_function(self.version, width, height)}]
            if tools != expected_tools:
                raise Refusal("`tools` must be exactly the cookbook's computer_use function (1000x1000)")
            if text != QWEN_SYSTEM:
                raise Refusal(f"with `tools` the system text must be {QWEN_SYSTEM!r}: the template adds the tools")
            return
        expected = qwen_system_text(self.version, width, height)
        if text != expected:
            where = _first_difference(text, expected)
            raise Refusal(f"the system text is not the cookbook's NousFnCallPrompt text {where}")

    def _is_query(self, text: str) -> bool:
        """The task, alone or with Omnidesk's notes after it (its documented addition, inside the query)."""
        return text == self.task or (
            text.startswith(self.task + "\n\nNote: ") and "\n" + _PROGRESS not in text and "\nTask progress" not in text
        )

    def _history(self, text: str) -> int:
        """How many steps the request says were done (0 on the first step)."""
        if self._is_query(text):
            return 0
        match = _HISTORY.fullmatch(text)
        if match is None:
            raise Refusal(
                "the user text must be the task (first step) or the cookbook's 'The user query: …\\nTask progress "
                f"(You have done the following operation on the current device): Step 1: …; ' form, got {text[:120]!r}"
            )
        if not self._is_query(match["task"]):
            raise Refusal(f"the task is {match['task']!r}, expected {self.task!r}")
        steps = list(_STEP.finditer(match["steps"]))
        if not steps or "".join(s.group(0) for s in steps) != match["steps"]:
            got = match["steps"][:120]
            raise Refusal(f"the task progress must be 'Step N: {{tool call JSON}}; ' entries, got {got!r}")
        for number, step in enumerate(steps, 1):
            if int(step["n"]) != number:
                raise Refusal(f"task progress steps must count from 1, got Step {step['n']} as entry {number}")
            try:
                call = json.loads(step["call"])
            except json.JSONDecodeError as exc:
                raise Refusal(f"Step {number} is not a tool call's JSON: {exc}") from exc
            is_call = isinstance(call, dict) and call.get("name") == "computer_use"
            if not (is_call and isinstance(call.get("arguments"), dict)):
                got = step["call"][:80]
                raise Refusal(f'Step {number} must be {{"name": "computer_use", "arguments": {{…}}}}, got {got}')
        return len(steps)

    def check(self, body: dict[str, Any]) -> tuple[int, RGB]:
        """Check a request; the number of steps done so far and the screenshot.

        Raises:
            Refusal: anything off the cookbook's layout.
        """
        messages = body.get("messages")
        if not isinstance(messages, list) or len(messages) != 2:
            raise Refusal("a Qwen computer-use request is exactly [system, user] (the cookbook's layout)")
        user = messages[1]
        content = user.get("content") if isinstance(user, dict) else None
        is_user = isinstance(user, dict) and user.get("role") == "user"
        if not (is_user and isinstance(content, list) and len(content) == 2):
            raise Refusal("the second message must be a user turn of [image_url, text]")
        if content[0].get("type") != "image_url" or content[1].get("type") != "text":
            raise Refusal("the screenshot comes first, then the text (the cookbook's user turn)")
        pixels = self._check_image(content[0])
        size = (pixels.shape[1], pixels.shape[0])
        tools = body.get("tools")
        if tools is not None and self.tool_parser == "none":
            raise Refusal("this engine has no tool parser; embed the tool in the system text")
        self._check_system(messages[0], tools, size)
        return self._history(str(content[1].get("text", ""))), pixels

    # --- the answer ---------------------------------------------------------------------------------

    def _arguments(self, step: PlanStep, pixels: RGB) -> dict[str, Any]:
        if isinstance(step, ClickOn):
            point = color_center(pixels, step.color)
            if point is None:
                return {"action": "terminate", "status": "failure"}
            height, width = pixels.shape[:2]
            if self.version == "2.5":  # pixels of the smart-resized image (this image is already that size)
                return {"action": "left_click", "coordinate": [round(point[0]), round(point[1])]}
            x, y = round(point[0] / width * 1000), round(point[1] / height * 1000)
            return {"action": "left_click", "coordinate": [x, y]}
        if isinstance(step, TypeText):
            return {"action": "type", "text": step.text}
        assert isinstance(step, Finish)
        return {"action": "terminate", "status": "success"}

    def __call__(self, body: dict[str, Any]) -> Answer:
        done, pixels = self.check(body)
        step = self.plan[min(done, len(self.plan) - 1)]
        arguments = self._arguments(step, pixels)
        if self.tool_parser == "always" or (self.tool_parser == "when_tools" and body.get("tools") is not None):
            return Answer(None, (ToolCall("computer_use", json.dumps(arguments, ensure_ascii=False)),))
        call = json.dumps({"name": "computer_use", "arguments": arguments}, ensure_ascii=False)
        return Answer(f"<tool_call>\n{call}\n</tool_call>")
