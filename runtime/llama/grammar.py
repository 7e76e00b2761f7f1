"""JSON schema → GBNF for grammar-constrained output, with the string rule llama.cpp upstream uses.

llama-cpp-python's converter lets a JSON string contain raw control characters (its ``char`` rule is
``[^"\\\\]``), which strict JSON parsers reject; upstream llama.cpp excludes ``\\x7F`` and
``\\x00-\\x1F`` there. This module reuses the converter with that rule fixed.
"""

from __future__ import annotations

import copy
import json
from typing import Any

__all__ = ["STRING_CHAR_RULE", "schema_to_gbnf"]

STRING_CHAR_RULE = r'[^"\\\x7F\x00-\x1F] | [\\] (["\\/bfnrt] | "u" [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F])'


def _converter_class() -> type[Any]:
    from llama_cpp.llama_grammar import SchemaConverter

    class _StrictStringConverter(SchemaConverter):
        def _add_rule(self, name: str, rule: str) -> str:
            if name == "char":
                rule = STRING_CHAR_RULE
            result: str = super()._add_rule(name, rule)  # type: ignore[no-untyped-call]
            return result

    return _StrictStringConverter


def schema_to_gbnf(schema: dict[str, Any] | str) -> str:
    """A GBNF grammar (root rule ``root``) accepting exactly the JSON values ``schema`` allows."""
    # The converter resolves $refs in place; work on a copy so a caller's schema can be reused.
    schema = json.loads(schema) if isinstance(schema, str) else copy.deepcopy(schema)
    converter = _converter_class()(prop_order={}, allow_fetch=False, dotall=False, raw_pattern=False)
    resolved = converter.resolve_refs(schema, "input")
    converter.visit(resolved, "")
    grammar: str = converter.format_grammar()
    return grammar
