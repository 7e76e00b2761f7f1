"""Where the model's weights go: a pure decision from GGUF tensor sizes and free memory.

A 30B mixture-of-experts model does not fit "by layers" the way a dense model does: most bytes are
expert tensors, which are read sparsely (6 of 128 per token) and can stay in system RAM while the rest
(attention, Mamba, shared experts, KV cache, the mmproj) goes to the GPU — llama-server's ``--cpu-moe``.
:func:`plan_offload` weighs expert tensors, the KV cache for the context length and the mmproj against
free VRAM and RAM, and explains its choice in words a user can act on.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass

from omnidesk.runtime.llama.gguf_file import GGUFFile

__all__ = [
    "DeviceMemory",
    "ModelFootprint",
    "OffloadPlan",
    "default_threads",
    "detect_memory",
    "footprint_from_gguf",
    "plan_offload",
]

GiB = 1024**3
MiB = 1024**2
_BLOCK = re.compile(r"^blk\.(\d+)\.")
_KV_BYTES = 2  # f16 K and V cache entries
_STATE_BYTES = 4  # f32 recurrent state


@dataclass(frozen=True, slots=True)
class DeviceMemory:
    """What the machine offers; ``free_vram`` is 0 without a usable GPU."""

    free_vram: int
    free_ram: int
    gpu_offload_supported: bool
    gpu_name: str = ""


@dataclass(frozen=True, slots=True)
class ModelFootprint:
    """Bytes of the model by place: per block (dense part, experts, cache) and outside the blocks."""

    n_layer: int
    dense_bytes: tuple[int, ...]
    expert_bytes: tuple[int, ...]
    cache_bytes: tuple[int, ...]
    other_bytes: int
    mmproj_bytes: int = 0

    @property
    def total_bytes(self) -> int:
        return (
            sum(self.dense_bytes)
            + sum(self.expert_bytes)
            + sum(self.cache_bytes)
            + self.other_bytes
            + self.mmproj_bytes
        )


@dataclass(frozen=True, slots=True)
class OffloadPlan:
    """``n_gpu_layers`` as libllama takes it (``n_layer + 1`` = everything, output included)."""

    n_gpu_layers: int
    experts_on_cpu: bool
    mmproj_on_gpu: bool
    vram_bytes: int
    ram_bytes: int
    explanation: str


def _int_list(header: GGUFFile, key: str, n: int, default: int) -> list[int]:
    value = header.metadata.get(key)
    if isinstance(value, list):
        return [int(v) for v in value][:n] + [default] * max(0, n - len(value))
    if isinstance(value, int) and not isinstance(value, bool):
        return [value] * n
    return [default] * n


def footprint_from_gguf(text: GGUFFile, mmproj: GGUFFile | None, n_ctx: int) -> ModelFootprint:
    """Sizes from the headers: tensors by block, KV cache for ``n_ctx`` and Mamba state per block."""
    arch = text.architecture
    n_layer = text.get_int(f"{arch}.block_count") or 0
    dense = [0] * n_layer
    experts = [0] * n_layer
    other = 0
    for tensor in text.tensors:
        match = _BLOCK.match(tensor.name)
        if match is None or int(match.group(1)) >= n_layer:
            other += tensor.nbytes
        elif "_exps" in tensor.name:
            experts[int(match.group(1))] += tensor.nbytes
        else:
            dense[int(match.group(1))] += tensor.nbytes
    n_embd = text.get_int(f"{arch}.embedding_length") or 0
    n_head = text.get_int(f"{arch}.attention.head_count") or 1
    head_k = text.get_int(f"{arch}.attention.key_length") or n_embd // n_head
    head_v = text.get_int(f"{arch}.attention.value_length") or head_k
    kv_heads = _int_list(text, f"{arch}.attention.head_count_kv", n_layer, n_head)
    ffn = _int_list(text, f"{arch}.feed_forward_length", n_layer, 1)
    d_inner = text.get_int(f"{arch}.ssm.inner_size") or 0
    d_state = text.get_int(f"{arch}.ssm.state_size") or 0
    d_conv = text.get_int(f"{arch}.ssm.conv_kernel") or 0
    groups = text.get_int(f"{arch}.ssm.group_count") or 1
    cache = []
    for il in range(n_layer):
        if kv_heads[il] > 0:
            cache.append(n_ctx * kv_heads[il] * (head_k + head_v) * _KV_BYTES)
        elif ffn[il] == 0 and d_inner:  # a Mamba layer: fixed-size state, whatever the context
            conv = max(0, d_conv - 1) * (d_inner + 2 * groups * d_state)
            cache.append((conv + d_state * d_inner) * _STATE_BYTES)
        else:
            cache.append(0)
    return ModelFootprint(
        n_layer=n_layer,
        dense_bytes=tuple(dense),
        expert_bytes=tuple(experts),
        cache_bytes=tuple(cache),
        other_bytes=other,
        mmproj_bytes=mmproj.tensor_bytes if mmproj is not None else 0,
    )


def _gib(n: int) -> str:
    return f"{n / GiB:.1f} GiB" if n >= GiB else f"{n / MiB:.0f} MiB"


def plan_offload(
    fp: ModelFootprint,
    mem: DeviceMemory,
    *,
    can_keep_experts_on_cpu: bool = True,
    headroom: int = 768 * MiB,
) -> OffloadPlan:
    """Choose layers on the GPU (and experts on the CPU when that fits better).

    ``can_keep_experts_on_cpu`` says whether the loader can pin expert tensors to system RAM (libllama's
    tensor buffer-type overrides, see ``overrides.py``); without it an MoE model is offloaded by whole
    layers. ``headroom``
    is left free on the GPU for compute buffers.
    """
    everything = fp.total_bytes
    if not mem.gpu_offload_supported or mem.free_vram <= headroom:
        why = (
            "this llama.cpp build has no GPU support (install the CUDA build of llama-cpp-python)"
            if not mem.gpu_offload_supported
            else f"the GPU has only {_gib(mem.free_vram)} free"
        )
        return OffloadPlan(0, False, False, 0, everything, _ram_note(f"Running on the CPU: {why}.", everything, mem))
    budget = mem.free_vram - headroom
    if everything <= budget:
        return OffloadPlan(
            fp.n_layer + 1,
            False,
            fp.mmproj_bytes > 0,
            everything,
            0,
            f"The whole model ({_gib(everything)}, KV cache and mmproj included) fits in "
            f"{_gib(mem.free_vram)} of free VRAM: everything runs on {mem.gpu_name or 'the GPU'}.",
        )
    experts = sum(fp.expert_bytes)
    without_experts = everything - experts
    if can_keep_experts_on_cpu and experts and without_experts <= budget:
        return OffloadPlan(
            fp.n_layer + 1,
            True,
            fp.mmproj_bytes > 0,
            without_experts,
            experts,
            _ram_note(
                f"The model needs {_gib(everything)} but the GPU has {_gib(mem.free_vram)} free: the "
                f"expert tensors ({_gib(experts)}) stay in system RAM and everything else "
                f"({_gib(without_experts)}) runs on the GPU, like llama-server's --cpu-moe.",
                experts,
                mem,
            ),
        )
    used = fp.other_bytes
    layers = 0
    # libllama offloads the last n layers; count from the end until the budget runs out.
    for il in reversed(range(fp.n_layer)):
        size = fp.dense_bytes[il] + fp.expert_bytes[il] + fp.cache_bytes[il]
        if used + size > budget:
            break
        used += size
        layers += 1
    if layers == 0:
        return OffloadPlan(
            0,
            False,
            False,
            0,
            everything,
            _ram_note(
                f"Not even one layer fits in {_gib(mem.free_vram)} of free VRAM; running on the CPU.",
                everything,
                mem,
            ),
        )
    on_cpu = everything - used
    return OffloadPlan(
        layers,
        False,
        False,
        used,
        on_cpu,
        _ram_note(
            f"The model needs {_gib(everything)}; {layers} of {fp.n_layer} layers ({_gib(used)}) fit in "
            f"{_gib(mem.free_vram)} of free VRAM and the rest ({_gib(on_cpu)}) runs on the CPU"
            + (" (the mmproj too)." if fp.mmproj_bytes else "."),
            on_cpu,
            mem,
        ),
    )


def _ram_note(text: str, ram_bytes: int, mem: DeviceMemory) -> str:
    if ram_bytes > mem.free_ram:
        return (
            f"{text} Warning: that needs {_gib(ram_bytes)} of RAM but only {_gib(mem.free_ram)} is free; "
            "the weights will be paged from disk and generation will be very slow — close other "
            "programs, pick a smaller quantisation, or lower model.context_length."
        )
    return text


def default_threads(cpuinfo: Iterable[str] | None = None, cpu_count: int | None = None) -> int:
    """Physical cores − 1 (at least 1): SMT siblings add little to llama.cpp and one core stays free."""
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
                cpuinfo = fh.read().splitlines()
        except OSError:
            cpuinfo = []
    cores: set[tuple[str, str]] = set()
    physical = ""
    for line in cpuinfo:
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "physical id":
            physical = value.strip()
        elif key == "core id":
            cores.add((physical, value.strip()))
    n = len(cores) or (cpu_count if cpu_count is not None else (os.cpu_count() or 2))
    return max(1, n - 1)


def detect_memory(gpu_offload_supported: bool) -> DeviceMemory:
    """Free RAM (MemAvailable) and the first NVIDIA GPU's free VRAM (0 without a usable GPU)."""
    from omnidesk.runtime.system_probe import available_memory_bytes, nvidia_gpus

    try:
        free_ram = available_memory_bytes()
    except (OSError, ValueError):
        free_ram = 0
    gpus = nvidia_gpus() if gpu_offload_supported else []
    if not gpus:
        return DeviceMemory(0, free_ram, gpu_offload_supported, "")
    return DeviceMemory(gpus[0].free_bytes, free_ram, gpu_offload_supported, gpus[0].name)
