"""docs/models.md's screenshot table is the code's output, and its rows agree with the authors' own rules."""

from __future__ import annotations

import re
from pathlib import Path

from omnidesk.runtime.llama.image_sizing import SCREENS, markdown, rows
from tests.oracles import qwen_vl_utils_smart_resize, ui_tars_smart_resize

DOCS = Path(__file__).parents[2] / "docs" / "models.md"


def test_the_documented_table_is_the_computed_one() -> None:
    text = DOCS.read_text(encoding="utf-8")
    found = re.search(r"<!-- image-sizing:begin -->\n(.*?)<!-- image-sizing:end -->", text, re.DOTALL)
    assert found, "docs/models.md lost its image-sizing markers"
    assert found.group(1) == markdown(), "regenerate it: python -m omnidesk.runtime.llama.image_sizing"


def test_rows_agree_with_the_published_rules() -> None:
    qwen = qwen_vl_utils_smart_resize()
    uitars = ui_tars_smart_resize()
    table = {(r.output_format, r.engine.split()[0]): r for r in rows()}
    for width, height in SCREENS:
        # Nemotron through llama.cpp: one 512² canvas, 16 px patches merged 2×2 — 256 tokens whatever the size
        assert table["nemotron", "llama.cpp"].engine_sizes(width, height).tokens == 256
        # Qwen2.5-VL through its processor: qwen-vl-utils' smart_resize of what UI-TARS/Qwen send, 28 px cells
        h, w = uitars(height, width)
        seen = table["uitars", "vLLM"].engine_sizes(w, h)
        assert (seen.width, seen.height) == qwen(h, w, factor=28, min_pixels=3136, max_pixels=12845056)[::-1]
        assert seen.tokens == (w // 28) * (h // 28)
        # libmtmd never hands the Qwen2.5-VL encoder more than its default 4096 tokens
        assert table["qwen25", "llama.cpp"].engine_sizes(w, h).tokens <= 4096
