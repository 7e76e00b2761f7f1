"""The model authors' own code on PyPI, loaded for tests as oracles (test-only dependencies, pinned).

- ``qwen-vl-utils==0.0.14`` — QwenLM's ``smart_resize`` (``qwen_vl_utils/vision_process.py``). The module
  imports torch and torchvision at the top (for video decoding), which it does not declare and which would
  pull gigabytes into CI; ``smart_resize`` itself uses only ``math``. :func:`qwen_vl_utils_smart_resize`
  therefore imports the module with tiny stand-ins for ``torch`` / ``torchvision`` in ``sys.modules`` (just
  the names its module body touches at import), takes the function, and removes both the stand-ins and the
  module again, so nothing else in the test session ever sees a fake torch.
- ``ui-tars==0.1.4`` — ByteDance's action parser and ``smart_resize`` (``ui_tars/action_parser.py``, byte
  for byte the file at bytedance/UI-TARS ``d9dedaf620a2f5776b26f944268f180ef08c6b82``); no dependencies.
- ``qwen-agent==0.0.34`` — ``NousFnCallPrompt``, which builds the system text of Qwen's computer-use
  cookbooks. It imports numpy, soundfile, tqdm and python-dateutil without declaring them; the dev extra
  adds them.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from typing import Any

__all__ = [
    "nous_fncall_system_text",
    "qwen_agent_function_calls",
    "qwen_vl_utils_smart_resize",
    "ui_tars_action_parser",
    "ui_tars_smart_resize",
]

SmartResize = Callable[..., tuple[int, int]]


def _stand_ins() -> dict[str, types.ModuleType]:
    torch = types.ModuleType("torch")
    torch.Tensor = type("Tensor", (), {})  # type: ignore[attr-defined]  # used in annotations only
    torchvision = types.ModuleType("torchvision")
    torchvision.__version__ = "0.0.0"  # type: ignore[attr-defined]
    io = types.ModuleType("torchvision.io")
    transforms = types.ModuleType("torchvision.transforms")
    transforms.InterpolationMode = types.SimpleNamespace(BICUBIC="bicubic")  # type: ignore[attr-defined]
    torchvision.io = io  # type: ignore[attr-defined]
    torchvision.transforms = transforms  # type: ignore[attr-defined]
    return {"torch": torch, "torchvision": torchvision, "torchvision.io": io, "torchvision.transforms": transforms}


def qwen_vl_utils_smart_resize() -> SmartResize:
    """qwen-vl-utils 0.0.14's ``smart_resize(height, width, factor, min_pixels=None, max_pixels=None)``."""
    stand_ins = _stand_ins()
    ours = [*stand_ins, "qwen_vl_utils", "qwen_vl_utils.vision_process"]
    saved = {name: sys.modules[name] for name in ours if name in sys.modules}
    sys.modules.update(stand_ins)
    try:
        from qwen_vl_utils import vision_process

        function: SmartResize = vision_process.smart_resize
    finally:
        for name in ours:
            sys.modules.pop(name, None)
        sys.modules.update(saved)
    return function


def ui_tars_smart_resize() -> SmartResize:
    """ui-tars 0.1.4's ``smart_resize(height, width, factor=28, min_pixels=100·28², max_pixels=16384·28²)``."""
    from ui_tars.action_parser import smart_resize

    function: SmartResize = smart_resize
    return function


def ui_tars_action_parser() -> tuple[Callable[..., Any], Callable[..., Any]]:
    """ui-tars 0.1.4's ``parse_action_to_structure_output`` and ``parsing_response_to_pyautogui_code``."""
    from ui_tars.action_parser import parse_action_to_structure_output, parsing_response_to_pyautogui_code

    return parse_action_to_structure_output, parsing_response_to_pyautogui_code


def nous_fncall_system_text(system: str, functions: list[dict[str, Any]]) -> str:
    """The system text qwen-agent's ``NousFnCallPrompt`` builds for ``system`` and ``functions``.

    As the cookbooks call it: one system message, ``lang=None``; the result's text items concatenated
    (a chat template joins them with nothing between).
    """
    from qwen_agent.llm.fncall_prompts.nous_fncall_prompt import ContentItem, Message, NousFnCallPrompt

    messages = NousFnCallPrompt().preprocess_fncall_messages(
        messages=[Message(role="system", content=[ContentItem(text=system)])], functions=functions, lang=None
    )
    assert len(messages) == 1 and messages[0].role == "system"
    return "".join(item.text for item in messages[0].content)


def qwen_agent_function_calls(reply: str) -> list[tuple[str, str]]:
    """The ``(name, JSON arguments)`` of each function call qwen-agent's ``NousFnCallPrompt`` finds in a reply
    (``postprocess_fncall_messages`` on one assistant message, as qwen-agent reads a model's output)."""
    import logging

    from qwen_agent.llm.fncall_prompts.nous_fncall_prompt import ContentItem, Message, NousFnCallPrompt

    quiet = logging.getLogger("qwen_agent_logger")
    level, quiet.level = quiet.level, logging.CRITICAL  # it logs a warning for JSON it cannot read
    try:
        messages = NousFnCallPrompt().postprocess_fncall_messages(
            [Message(role="assistant", content=[ContentItem(text=reply)])]
        )
    finally:
        quiet.level = level
    return [(m.function_call.name, m.function_call.arguments) for m in messages if m.function_call is not None]
