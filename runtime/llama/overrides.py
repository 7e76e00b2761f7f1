"""Keep a MoE model's expert tensors in system RAM while the rest goes to the GPU (``--cpu-moe``).

libllama's model parameters take ``tensor_buft_overrides``: a NULL-terminated array of (regex, buffer
type) pairs. llama-cpp-python 0.3.36 declares the field as a bare pointer, so the array is built here
with ctypes, and the CPU buffer type comes from ggml's device registry — the same one llama-server uses.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omnidesk.agent.errors import ModelLoadError

__all__ = ["EXPERT_PATTERN", "TensorOverrides", "cpu_expert_overrides"]

EXPERT_PATTERN = r"\.ffn_(up|down|gate)_exps"
_DEVICE_TYPE_CPU = 0


class _Override(ctypes.Structure):
    _fields_ = [("pattern", ctypes.c_char_p), ("buft", ctypes.c_void_p)]


@dataclass(frozen=True, slots=True)
class TensorOverrides:
    """The override array and what must stay alive while the model loads."""

    pointer: int
    keepalive: tuple[Any, ...]
    buffer_type: str


def _lib(name: str) -> ctypes.CDLL:
    import llama_cpp

    folder = Path(llama_cpp.__file__).parent / "lib"
    for candidate in (folder / f"lib{name}.so", folder / f"lib{name}.dylib", folder / f"{name}.dll"):
        if candidate.exists():
            return ctypes.CDLL(str(candidate))
    raise ModelLoadError(f"cannot find {name} next to llama-cpp-python; reinstall llama-cpp-python")


def cpu_expert_overrides(pattern: str = EXPERT_PATTERN) -> TensorOverrides:
    """Overrides that place tensors matching ``pattern`` in CPU memory."""
    ggml = _lib("ggml")
    base = _lib("ggml-base")
    ggml.ggml_backend_dev_by_type.restype = ctypes.c_void_p
    ggml.ggml_backend_dev_by_type.argtypes = [ctypes.c_int]
    base.ggml_backend_dev_buffer_type.restype = ctypes.c_void_p
    base.ggml_backend_dev_buffer_type.argtypes = [ctypes.c_void_p]
    base.ggml_backend_buft_name.restype = ctypes.c_char_p
    base.ggml_backend_buft_name.argtypes = [ctypes.c_void_p]
    device = ggml.ggml_backend_dev_by_type(_DEVICE_TYPE_CPU)
    if not device:
        raise ModelLoadError("ggml has no CPU device; reinstall llama-cpp-python")
    buft = base.ggml_backend_dev_buffer_type(device)
    encoded = pattern.encode()
    array = (_Override * 2)(_Override(encoded, buft), _Override(None, None))
    name = (base.ggml_backend_buft_name(buft) or b"?").decode()
    return TensorOverrides(ctypes.addressof(array), (array, encoded, ggml, base), name)
