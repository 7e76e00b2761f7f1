"""A strict scripted Nemotron 3 Nano Omni behind a vLLM-like OpenAI server on 127.0.0.1, for tests.

It answers only requests laid out as NVIDIA's computer-use cookbook sends them (``nemotron_cookbook.py``,
quoted from the cookbook's ``agent.py``) and refuses anything else with HTTP 400 and the reason, as a server
whose model was trained on that layout would fail it. Checked, from the cookbook:

- the body's fields: only what the cookbook's OpenAI call sends (``model``, ``messages``, ``temperature``
  0.6, ``top_p`` 0.95, ``max_tokens`` 20480, ``stream`` + ``stream_options``) and its extra body
  (``thinking_token_budget`` 17408 and ``chat_template_kwargs`` exactly, per thinking mode);
- the system prompt: the thinking or non-thinking text verbatim, a value in the password slot;
- the turns: user and assistant alternating after it, ending on a user turn; each user turn the screenshot
  (a PNG data URL) first, then the text in the instruction / step templates, step numbers counting up to
  the current one, the text-only history exactly in the oldest turn that has an image and nowhere else;
  each assistant turn in the trained history template, never with ``## Code``;
- the screenshots: at most 3, each a whole monitor at its native size (one of ``screens``).

It answers like the model: in thinking mode the thought streams as ``reasoning_content`` (vLLM's
``nemotron_v3`` reasoning parser) and the content is ``## Action:`` / ``## Code:`` with pyautogui code; in
non-thinking mode everything is content. What it does is a :data:`Policy` that looks at the request — the
current screenshot's pixels — like the model would.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import numpy.typing as npt

from tests.models import nemotron_cookbook as cookbook
from tests.models.scripted_server import check_fields, png_data_url

__all__ = [
    "Answer",
    "OffFormat",
    "Policy",
    "ScriptedNemotron",
    "Seen",
    "check_request",
    "press_then_type",
    "scripted_nemotron",
]

Pixels = npt.NDArray[np.uint8]

_FIELDS = {"model", "messages", "temperature", "top_p", "max_tokens", "stream", "stream_options"}
_EXTRA = {"thinking_token_budget", "chat_template_kwargs"}
_INSTRUCTION = re.compile(
    r"\A# Task Instruction:\n(?P<instruction>.*?)\n\nPlease generate the next move according to the screenshot, "
    r"task instruction and previous steps \(if provided\)\.\n(?P<history># Previous History Actions:\n.*\n)?"
    r"You are currently on Step (?P<step>[1-9][0-9]*)\.\n\Z",
    re.DOTALL,
)
_TEXT_STEP = re.compile(r"# Step (?P<n>[1-9][0-9]*):\n## Thought:\n(?P<thought>.*?)\n\n## Action:\n(?P<action>.*?)\n")
_ASSISTANT = {
    True: re.compile(r"\A<think>\n(?P<thought>.*)\n</think>\n## Action:\n(?P<action>.*)\n\Z", re.DOTALL),
    False: re.compile(r"\A## Thought:\n(?P<thought>.*?)\n\n## Action:\n(?P<action>.*)\n\Z", re.DOTALL),
}


class OffFormat(ValueError):
    """The request is not in the cookbook's layout (the reason is the 400 answer's message)."""


@dataclass(frozen=True)
class Seen:
    """A request that passed the checks: what the model would see."""

    body: dict[str, Any]
    thinking: bool
    step: int
    instruction: str
    screenshots: list[Pixels]  # RGB, oldest first; the last is the current screen
    history: list[tuple[str, str]]  # (thought, action) of every earlier step, text and image turns

    @property
    def screen(self) -> Pixels:
        return self.screenshots[-1]


@dataclass(frozen=True)
class Answer:
    """What the scripted model writes: its thought, the ``## Action:`` line and the ``## Code:`` block."""

    thought: str
    action: str
    code: str
    fenced: bool = True


Policy = Callable[[Seen], Answer]


def _decode_png(url: object, screens: Collection[tuple[int, int]]) -> Pixels:
    image = png_data_url(url, "each screenshot", error=OffFormat)
    height, width = image.shape[:2]
    if (width, height) not in screens:
        sizes = ", ".join(f"{w}x{h}" for w, h in sorted(screens))
        raise OffFormat(f"a {width}x{height} screenshot is not a whole monitor at native size ({sizes})")
    return image


def _check_fields(body: dict[str, Any]) -> bool:
    check_fields(body, _FIELDS | _EXTRA, error=OffFormat)
    kwargs = body.get("chat_template_kwargs")
    if not isinstance(kwargs, dict) or not isinstance(kwargs.get("enable_thinking"), bool):
        raise OffFormat("chat_template_kwargs.enable_thinking (a boolean) is missing")
    thinking = bool(kwargs["enable_thinking"])
    expected = cookbook.cookbook_extra_body(thinking=thinking)
    if kwargs != expected["chat_template_kwargs"]:
        raise OffFormat(f"chat_template_kwargs {kwargs} != the cookbook's {expected['chat_template_kwargs']}")
    if body.get("thinking_token_budget") != expected.get("thinking_token_budget"):
        raise OffFormat(
            f"thinking_token_budget {body.get('thinking_token_budget')} != {expected.get('thinking_token_budget')}"
        )
    sampling = {k: body.get(k) for k in ("temperature", "top_p", "max_tokens")}
    wanted = {"temperature": cookbook.TEMPERATURE, "top_p": cookbook.TOP_P, "max_tokens": cookbook.MAX_TOKENS}
    if sampling != wanted:
        raise OffFormat(f"sampling {sampling} != the cookbook's {wanted}")
    return thinking


def _check_system(message: object, thinking: bool) -> None:
    if not isinstance(message, dict) or message.get("role") != "system" or not isinstance(message.get("content"), str):
        raise OffFormat("the first message must be the system prompt as a plain string")
    template = cookbook.SYSTEM_PROMPT_THINKING if thinking else cookbook.SYSTEM_PROMPT_NON_THINKING
    head, tail = template.split("{password}")
    content = message["content"]
    password = content[len(head) : len(content) - len(tail)]
    if not (content.startswith(head) and content.endswith(tail)) or not password or "\n" in password:
        raise OffFormat(f"the system prompt is not the cookbook's {'thinking' if thinking else 'non-thinking'} one")


def check_request(body: object, screens: Collection[tuple[int, int]]) -> Seen:
    """The request's content if it is in the cookbook's layout.

    Raises:
        OffFormat: what is off, in words.
    """
    if not isinstance(body, dict):
        raise OffFormat("the body is not a JSON object")
    thinking = _check_fields(body)
    messages = body.get("messages")
    if not isinstance(messages, list) or len(messages) < 2:
        raise OffFormat("messages must be the system prompt and at least one user turn")
    _check_system(messages[0], thinking)
    turns = messages[1:]
    roles = [m.get("role") if isinstance(m, dict) else None for m in turns]
    if roles != ["user", "assistant"] * (len(turns) // 2) + ["user"]:
        raise OffFormat(f"after the system prompt the turns must alternate user/assistant and end on user: {roles}")
    screenshots: list[Pixels] = []
    history: list[tuple[str, str]] = []
    steps: list[int] = []
    instruction = ""
    for position, turn in enumerate(turns):
        if turn["role"] == "assistant":
            content = turn.get("content")
            match = _ASSISTANT[thinking].match(content) if isinstance(content, str) else None
            if match is None or "## Code" in content:  # type: ignore[operator]
                raise OffFormat("an assistant turn is not in the trained history template (no ## Code in history)")
            history.append((match["thought"], match["action"]))
            continue
        parts = turn.get("content")
        if not isinstance(parts, list) or len(parts) != 2:
            raise OffFormat("each user turn is exactly [screenshot, text]")
        image, text = parts
        if not isinstance(image, dict) or image.get("type") != "image_url":
            raise OffFormat("the screenshot must come first in each user turn")
        if not isinstance(text, dict) or text.get("type") != "text" or not isinstance(text.get("text"), str):
            raise OffFormat("each user turn's second part is its text")
        screenshots.append(_decode_png((image.get("image_url") or {}).get("url"), screens))
        match = _INSTRUCTION.match(text["text"])
        if match is None:
            raise OffFormat("a user turn's text is not '# Task Instruction:' ... 'You are currently on Step N.'")
        step = int(match["step"])
        instruction = match["instruction"]
        if match["history"] is not None:
            if position != 0:
                raise OffFormat("'# Previous History Actions:' belongs in the oldest user turn that has an image")
            listed = _TEXT_STEP.findall(match["history"])
            block = "# Previous History Actions:\n" + "\n".join(
                cookbook.STEP_TEMPLATE.format(step_num=n) + cookbook.TEXT_HISTORY_TEMPLATE.format(thought=t, action=a)
                for n, t, a in listed
            )
            if block + "\n" != match["history"] or [int(n) for n, _, _ in listed] != list(range(1, step)):
                raise OffFormat("the text history must list steps 1..N-1 of the oldest image turn in the template")
            history = [(t, a) for _, t, a in listed] + history
        elif position == 0 and step != 1:
            raise OffFormat(f"the oldest image turn is step {step} but steps before it are not in the text history")
        steps.append(step)
    if steps != list(range(steps[0], steps[0] + len(steps))):
        raise OffFormat(f"step numbers must count up by one: {steps}")
    if len(screenshots) > cookbook.MAX_IMAGE_HISTORY_LENGTH:
        raise OffFormat(f"{len(screenshots)} screenshots: the cookbook keeps at most 3 (the current one included)")
    return Seen(body, thinking, steps[-1], instruction, screenshots, history)


def _blob_centre(screen: Pixels, color: str) -> tuple[float, float] | None:
    """The centre (continuous pixels) of the pixels of ``color`` (``#rrggbb``) on the screen, if any."""
    rgb = np.array([int(color[i : i + 2], 16) for i in (1, 3, 5)], np.int16)
    ys, xs = np.nonzero(np.all(np.abs(screen.astype(np.int16) - rgb) <= 8, axis=2))
    if len(xs) < 16:
        return None
    return float(np.median(xs)) + 0.5, float(np.median(ys)) + 0.5


def press_then_type(button: str, field_color: str, text: str) -> Policy:
    """A model doing "press the button, then type ``text`` into the field", looking at the pixels.

    Step 1 clicks the ``button``-coloured blob with positional fractions (a fenced block); step 2 is one
    unfenced block of two lines, a click into the field with absolute pixel keywords and the typing; step 3
    terminates with an answer.
    """

    def act(seen: Seen) -> Answer:
        screen = seen.screen
        height, width = screen.shape[:2]
        if seen.step == 1:
            centre = _blob_centre(screen, button)
            if centre is None:
                return Answer(
                    "I cannot see the button.", "Give up.", 'computer.terminate(status="failure", answer="no button")'
                )
            x, y = centre[0] / width, centre[1] / height
            return Answer(
                f"The button is the coloured box near ({x:.3f}, {y:.3f}) of the screen. I will click it.",
                "Click the button.",
                f"pyautogui.click({x:.4f}, {y:.4f})",
            )
        if seen.step == 2:
            centre = _blob_centre(screen, field_color)
            if centre is None:
                return Answer("No text field.", "Give up.", 'computer.terminate(status="failure", answer="no field")')
            return Answer(
                f"The text field is at pixel ({centre[0]:.0f}, {centre[1]:.0f}). I click into it and type.",
                "Type the text into the field.",
                f"pyautogui.click(x={round(centre[0])}, y={round(centre[1])})\npyautogui.write({text!r})",
                fenced=False,
            )
        return Answer(
            "The text is in the field and the button was pressed.",
            "Report success.",
            'computer.terminate(status="success", answer="pressed the button and typed the text")',
        )

    return act


def _content(answer: Answer, thinking: bool) -> tuple[str, str]:
    """(reasoning, content) as vLLM's nemotron_v3 reasoning parser splits the model's output."""
    code = f"```python\n{answer.code}\n```" if answer.fenced else answer.code
    tail = f"## Action:\n{answer.action}\n## Code:\n{code}"
    if thinking:
        return answer.thought, tail
    return "", f"## Thought:\n{answer.thought}\n\n{tail}"


@dataclass
class _State:
    policy: Policy
    screens: set[tuple[int, int]]
    seen: list[Seen] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        return

    def _json(self, status: int, payload: object) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/v1/models":
            self._json(200, {"object": "list", "data": [{"id": "vllm_local", "object": "model", "owned_by": "vllm"}]})
        else:
            self._json(404, {"error": {"message": f"no route {self.path}", "type": "NotFoundError", "code": 404}})

    def do_POST(self) -> None:
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._json(404, {"error": {"message": f"no route {self.path}", "type": "NotFoundError", "code": 404}})
            return
        state = self.server.state
        try:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            seen = check_request(body, state.screens)
        except (OffFormat, json.JSONDecodeError) as exc:
            with state.lock:
                state.refusals.append(str(exc))
            self._json(400, {"error": {"message": str(exc), "type": "BadRequestError", "code": 400}})
            return
        with state.lock:
            state.seen.append(seen)
        reasoning, content = _content(state.policy(seen), seen.thinking)
        if body.get("stream"):
            self._stream(reasoning, content, bool((body.get("stream_options") or {}).get("include_usage")))
        else:
            message = {"role": "assistant", "content": content, "reasoning_content": reasoning or None}
            self._json(
                200,
                {"object": "chat.completion", "choices": [{"index": 0, "message": message, "finish_reason": "stop"}]},
            )

    def _stream(self, reasoning: str, content: str, usage: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        created = int(time.time())

        def chunk(delta: dict[str, Any], finish: str | None = None) -> None:
            event = {
                "id": "chatcmpl-scripted",
                "object": "chat.completion.chunk",
                "created": created,
                "model": "vllm_local",
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            }
            self.wfile.write(f"data: {json.dumps(event, ensure_ascii=False)}\n\n".encode())

        chunk({"role": "assistant", "content": ""})
        for start in range(0, len(reasoning), 16):
            chunk({"reasoning_content": reasoning[start : start + 16]})
        for start in range(0, len(content), 16):
            chunk({"content": content[start : start + 16]})
        chunk({}, "stop")
        if usage:
            tokens = {"prompt_tokens": 1000, "completion_tokens": (len(reasoning) + len(content)) // 4}
            tokens["total_tokens"] = tokens["prompt_tokens"] + tokens["completion_tokens"]
            event = {"id": "chatcmpl-scripted", "object": "chat.completion.chunk", "choices": [], "usage": tokens}
            self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: _State) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state


class ScriptedNemotron:
    """The running server: its ``url``, the requests it answered (``seen``) and refused (``refusals``)."""

    def __init__(self, server: _Server) -> None:
        self._server = server
        host, port = server.server_address[:2]
        self.url = f"http://{host!s}:{port}"

    @property
    def seen(self) -> list[Seen]:
        with self._server.state.lock:
            return list(self._server.state.seen)

    @property
    def refusals(self) -> list[str]:
        with self._server.state.lock:
            return list(self._server.state.refusals)


@contextmanager
def scripted_nemotron(policy: Policy, screens: Collection[tuple[int, int]]) -> Iterator[ScriptedNemotron]:
    """Serve ``policy`` on 127.0.0.1 (a free port) until the block ends; ``screens`` are the monitors'
    native sizes a screenshot may have."""
    server = _Server(_State(policy, set(screens)))
    thread = threading.Thread(target=server.serve_forever, name="scripted-nemotron", daemon=True)
    thread.start()
    try:
        yield ScriptedNemotron(server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
