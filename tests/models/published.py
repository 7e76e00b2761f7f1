"""The published formats as the tests know them — written from the authors' sources, never from Omnidesk.

The JSON files in ``published/`` were produced by running the authors' own code at the cited commits:

- ``qwen2.5-vl-computer-use.json``: ``ComputerUse(cfg={"display_width_px": "{width}", "display_height_px":
  "{height}"}).function`` of QwenLM/Qwen2.5-VL ``cookbooks/utils/agent_function_call.py`` (the last 2.5
  version, blob ``1aa8ebf0ff4441b99e3395222321b0654ef08d34``, at QwenLM/Qwen3-VL
  ``465b320d4bc365782513d500940ec76e8e06bfb9``), with qwen-agent 0.0.34;
- ``qwen3-vl-computer-use.json``: the same for QwenLM/Qwen3-VL's file at
  ``96588727e44c78b25ba03ea03b8e12f7e64fd0da`` (blob ``4fa6162ee2faafdb4bd35a6d0a7cadfa04585da3``);
- ``ui-tars-computer-use.json``: the runtime value of ``COMPUTER_USE`` in bytedance/UI-TARS
  ``codes/prompts.py`` at ``6b315cc0c3ae8ff3b5412a25aa3ebac1bae32f58`` (the prompt for UI-TARS-1.5 with
  ``start_box='<|box_start|>(x1,y1)<|box_end|>'``; ``{language}`` and ``{instruction}`` are its placeholders).

:data:`SYSTEM_SHA256` pins the complete Qwen system texts that the cookbooks' code builds (qwen-agent's
``NousFnCallPrompt`` over those tools, system "You are a helpful assistant."), so the files themselves are
checked against the authors' output.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any, Literal

from tests.oracles import nous_fncall_system_text

__all__ = [
    "QWEN_SYSTEM",
    "SYSTEM_SHA256",
    "UITARS_HISTORY_IMAGES",
    "QwenVersion",
    "qwen_function",
    "qwen_system_text",
    "uitars_computer_use",
]

QwenVersion = Literal["2.5", "3"]
_FILES = {"2.5": "qwen2.5-vl-computer-use.json", "3": "qwen3-vl-computer-use.json"}
_HERE = Path(__file__).parent / "published"

QWEN_SYSTEM = "You are a helpful assistant."
"""The system text both computer-use cookbooks hand to ``NousFnCallPrompt``."""

SYSTEM_SHA256 = {
    ("2.5", 1932, 1092): "07006095f59e34f97024e321b232c62989028e1665b8ef17cccb4ded44305139",
    ("3", 1000, 1000): "6084d16a025c374a9523958d4438e1f068c73da969aa3002415da011ff85b37c",
}
"""sha256 of the whole system text the cookbooks' code builds (3407 and 3886 bytes)."""

UITARS_HISTORY_IMAGES = 5
"""Screenshots per request, the current one included: OSWorld's UI-TARS agent ``history_n``, UI-TARS-desktop's
``MAX_IMAGE_LENGTH`` and README_v1's ``--limit-mm-per-prompt image=5``."""


@cache
def _load(name: str) -> Any:
    return json.loads((_HERE / name).read_text(encoding="utf-8"))


def qwen_function(version: QwenVersion, width: int, height: int) -> dict[str, Any]:
    """The cookbook's ``computer_use`` function (name, description, parameters) for a stated resolution."""
    function = json.loads(json.dumps(_load(_FILES[version])))
    function["description"] = function["description"].replace("{width}", str(width)).replace("{height}", str(height))
    return function  # type: ignore[no-any-return]


def qwen_system_text(version: QwenVersion, width: int, height: int) -> str:
    """The system text the cookbook sends, built by qwen-agent's own ``NousFnCallPrompt``."""
    return nous_fncall_system_text(QWEN_SYSTEM, [qwen_function(version, width, height)])


def uitars_computer_use() -> str:
    """UI-TARS-1.5's ``COMPUTER_USE`` template (with ``{language}`` and ``{instruction}``)."""
    return str(_load("ui-tars-computer-use.json")["COMPUTER_USE"])
