"""NVIDIA's Nemotron 3 Nano Omni computer-use contract, quoted from its cookbook for tests.

Source: https://github.com/NVIDIA-NeMo/Nemotron/blob/c887c942a5c81f6bdc281ad36613588ed48ccba8/
usage-cookbook/Nemotron-3-Nano-Omni/computer-use-agent-with-omni/server/agent.py — the templates (lines 33-38,
71-73), the system prompts (40-53, 55-69), ``build_messages`` (374-436) and ``build_extra_body`` (438-463).

Written from that file, not from Omnidesk's format module: the golden tests build the expected request with
:func:`cookbook_messages` and the scripted server checks requests against these strings, so a test passes
only when Omnidesk sends what the cookbook sends.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ASSISTANT_HISTORY_TEMPLATE_NON_THINKING",
    "ASSISTANT_HISTORY_TEMPLATE_THINKING",
    "COMMIT",
    "INSTRUCTION_TEMPLATE",
    "PROMPT_SHA256",
    "STEP_TEMPLATE",
    "SYSTEM_PROMPT_NON_THINKING",
    "SYSTEM_PROMPT_THINKING",
    "TEXT_HISTORY_TEMPLATE",
    "CookbookTurn",
    "cookbook_extra_body",
    "cookbook_messages",
]

COMMIT = "c887c942a5c81f6bdc281ad36613588ed48ccba8"
URL = (
    f"https://github.com/NVIDIA-NeMo/Nemotron/blob/{COMMIT}/usage-cookbook/Nemotron-3-Nano-Omni/"
    "computer-use-agent-with-omni/server/agent.py"
)

INSTRUCTION_TEMPLATE = (
    "# Task Instruction:\n{instruction}\n\n"
    "Please generate the next move according to the screenshot, task "
    "instruction and previous steps (if provided).\n"
)
STEP_TEMPLATE = "# Step {step_num}:\n"

_TOOLS = (
    "In the code section, the code should be either pyautogui code or one of the following functions wrapped in "
    "the code block:\n"
    '- {"name": "computer.wait", "description": "Make the computer wait for 20 seconds for installation, running '
    'code, etc.", "parameters": {"type": "object", "properties": {}, "required": []}}\n'
    '- {"name": "computer.terminate", "description": "Terminate the current task and report its completion '
    'status", "parameters": {"type": "object", "properties": {"status": {"type": "string", "enum": ["success", '
    '"failure"], "description": "The status of the task"}, "answer": {"type": "string", "description": "The '
    'answer of the task"}}, "required": ["status"]}}'
)
_HEAD = (
    "You are a GUI agent. You are given an instruction, a screenshot of the screen and your previous interactions "
    "with the computer. You need to perform a series of actions to complete the task. The passoword of the "
    "computer is {password}.\n\nFor each step, provide your response in this format:\n"
)
SYSTEM_PROMPT_THINKING = _HEAD + "{thought}\n## Action:\n{action}\n## Code:\n{code}\n\n" + _TOOLS
SYSTEM_PROMPT_NON_THINKING = _HEAD + "## Thought\n{thought}\n## Action:\n{action}\n## Code:\n{code}\n\n" + _TOOLS
PROMPT_SHA256 = {
    "thinking": "6706d8ec69b012f0bb72d380341e09728eb87bd7f2ac577541ce0f14c63cf271",
    "non_thinking": "fc082501eb09947ea99126bc8a74b4383aa0a78a1f1cdef02df36844b43cd5c0",
}
assert hashlib.sha256(SYSTEM_PROMPT_THINKING.encode()).hexdigest() == PROMPT_SHA256["thinking"]
assert hashlib.sha256(SYSTEM_PROMPT_NON_THINKING.encode()).hexdigest() == PROMPT_SHA256["non_thinking"]

TEXT_HISTORY_TEMPLATE = "## Thought:\n{thought}\n\n## Action:\n{action}\n"
ASSISTANT_HISTORY_TEMPLATE_THINKING = "<think>\n{thought}\n</think>\n## Action:\n{action}\n"
ASSISTANT_HISTORY_TEMPLATE_NON_THINKING = "## Thought:\n{thought}\n\n## Action:\n{action}\n"

# NemotronAgent's defaults (agent.py 331-347).
TEMPERATURE = 0.6
TOP_P = 0.95
MAX_TOKENS = 20480
REASONING_BUDGET = 16384
REASONING_GRACE_TOKENS = 1024
MAX_IMAGE_HISTORY_LENGTH = 3


@dataclass(frozen=True)
class CookbookTurn:
    """One past step as the cookbook's history keeps it (``_Turn``): its screenshot, thought and action."""

    screenshot: Any
    thought: str
    action: str


def _image(screenshot: Any) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": screenshot}}


def cookbook_messages(
    instruction: str,
    current: Any,
    history: list[CookbookTurn],
    *,
    password: str,
    thinking: bool = True,
    max_image_history_length: int = MAX_IMAGE_HISTORY_LENGTH,
) -> list[dict[str, Any]]:
    """``NemotronAgent.build_messages`` re-stated; screenshots are whatever the caller passes (URLs or ids)."""
    system = (SYSTEM_PROMPT_THINKING if thinking else SYSTEM_PROMPT_NON_THINKING).replace("{password}", password)
    messages: list[dict[str, Any]] = [{"role": "system", "content": system}]
    instr_block = INSTRUCTION_TEMPLATE.format(instruction=instruction)
    n_with_images = min(len(history), max(1, max_image_history_length) - 1)
    image_window_start = len(history) - n_with_images
    text_history = ""
    if image_window_start > 0:
        parts = [
            STEP_TEMPLATE.format(step_num=i + 1)
            + TEXT_HISTORY_TEMPLATE.format(thought=history[i].thought, action=history[i].action)
            for i in range(image_window_start)
        ]
        text_history = "# Previous History Actions:\n" + "\n".join(parts)
    assistant = ASSISTANT_HISTORY_TEMPLATE_THINKING if thinking else ASSISTANT_HISTORY_TEMPLATE_NON_THINKING
    for i in range(image_window_start, len(history)):
        user_text = instr_block
        if i == image_window_start and text_history:
            user_text += text_history + "\n"
        user_text += f"You are currently on Step {i + 1}.\n"
        messages.append(
            {"role": "user", "content": [_image(history[i].screenshot), {"type": "text", "text": user_text}]}
        )
        messages.append(
            {"role": "assistant", "content": assistant.format(thought=history[i].thought, action=history[i].action)}
        )
    user_text = instr_block
    if n_with_images == 0 and text_history:
        user_text += text_history + "\n"
    user_text += f"You are currently on Step {len(history) + 1}.\n"
    messages.append({"role": "user", "content": [_image(current), {"type": "text", "text": user_text}]})
    return messages


def cookbook_extra_body(*, thinking: bool = True) -> dict[str, Any]:
    """``build_extra_body``: the vLLM fields the cookbook merges into the request's top level."""
    if thinking:
        return {
            "thinking_token_budget": REASONING_BUDGET + REASONING_GRACE_TOKENS,
            "chat_template_kwargs": {
                "enable_thinking": True,
                "reasoning_budget": REASONING_BUDGET,
                "truncate_history_thinking": False,
            },
        }
    return {"chat_template_kwargs": {"enable_thinking": False, "truncate_history_thinking": False}}
