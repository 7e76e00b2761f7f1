"""How long will one agent step take on this machine? A measured-machine, counted-model estimate.

The machine side is measured (a float32 matrix product for compute, a large array copy for memory
bandwidth); the model side is counted from the GGUF headers (active bytes per token of a
mixture-of-experts model, vision-encoder work per image). The result is an estimate for ``doctor``,
stated with its assumptions, never a promise.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from omnidesk.runtime.llama.gguf_file import GGUFFile
from omnidesk.runtime.llama.offload import OffloadPlan

__all__ = ["MachineSpeed", "ModelWork", "StepEstimate", "estimate_step", "measure_cpu", "model_work"]

# llama.cpp's quantised CPU kernels reach roughly half of what a float32 BLAS product does.
_CPU_KERNEL_EFFICIENCY = 0.5
# Without a way to measure a GPU here, assume a mid-range card (what the estimate says in words).
_GPU_TFLOPS = 30.0
_GPU_GBPS = 500.0


@dataclass(frozen=True, slots=True)
class MachineSpeed:
    cpu_gflops: float
    ram_gbps: float


@dataclass(frozen=True, slots=True)
class ModelWork:
    """Per-token and per-image work of a model, counted from its headers."""

    active_bytes_per_token: int
    active_params_per_token: int
    vision_flops_per_image: float


@dataclass(frozen=True, slots=True)
class StepEstimate:
    seconds: float
    encode_seconds: float
    prefill_seconds: float
    decode_seconds: float

    def describe(self) -> str:
        return (
            f"about {self.seconds:.0f} s per step (image encoding {self.encode_seconds:.1f} s, "
            f"prompt {self.prefill_seconds:.1f} s, answer {self.decode_seconds:.1f} s)"
        )


def measure_cpu(matrix: int = 768, copy_mib: int = 128) -> MachineSpeed:
    """Measure float32 matmul GFLOP/s and memory copy GB/s (best of a few runs, well under a second)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((matrix, matrix), dtype=np.float32)
    b = rng.standard_normal((matrix, matrix), dtype=np.float32)
    best = float("inf")
    for _ in range(4):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    gflops = 2 * matrix**3 / best / 1e9
    src = np.ones(copy_mib * 2**20 // 8, dtype=np.float64)
    dst = np.empty_like(src)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - start)
    return MachineSpeed(cpu_gflops=gflops, ram_gbps=2 * src.nbytes / best / 1e9)


def _elements(shape: tuple[int, ...]) -> int:
    n = 1
    for dim in shape:
        n *= dim
    return n


def model_work(text: GGUFFile, mmproj: GGUFFile | None) -> ModelWork:
    """Bytes and parameters touched per token (experts counted at their used share) and vision FLOPs."""
    arch = text.architecture
    n_expert = text.get_int(f"{arch}.expert_count") or 0
    n_used = text.get_int(f"{arch}.expert_used_count") or n_expert
    share = n_used / n_expert if n_expert else 1.0
    active_bytes = 0.0
    active_params = 0.0
    for tensor in text.tensors:
        if tensor.name == "token_embd.weight":
            continue  # a lookup: one row per token
        weight = share if "_exps" in tensor.name else 1.0
        active_bytes += tensor.nbytes * weight
        active_params += _elements(tensor.shape) * weight
    vision_flops = 0.0
    if mmproj is not None:
        size = mmproj.get_int("clip.vision.image_size") or 0
        patch = mmproj.get_int("clip.vision.patch_size") or 0
        patches = (size // patch) ** 2 if size and patch else 0
        vision_params = sum(_elements(t.shape) for t in mmproj.tensors if t.name.startswith(("v.", "mm.model")))
        vision_flops = 2.0 * vision_params * patches
    return ModelWork(int(active_bytes), int(active_params), vision_flops)


def estimate_step(
    work: ModelWork,
    plan: OffloadPlan,
    n_layer: int,
    speed: MachineSpeed,
    *,
    images: int = 3,
    prompt_tokens: int = 900,
    answer_tokens: int = 80,
) -> StepEstimate:
    """Seconds for one agent step: encode ``images``, evaluate ``prompt_tokens`` new tokens, write ``answer_tokens``.

    The GPU share of the work is the share of layers the plan offloads (experts kept on the CPU move
    their bytes back to RAM); the GPU itself is assumed mid-range, since nothing here can measure it.
    """
    gpu_share = min(1.0, plan.n_gpu_layers / (n_layer + 1)) if n_layer else 0.0
    total = plan.vram_bytes + plan.ram_bytes
    ram_share = plan.ram_bytes / total if total else 1.0 - gpu_share
    cpu_flops = speed.cpu_gflops * 1e9 * _CPU_KERNEL_EFFICIENCY
    gpu_flops = _GPU_TFLOPS * 1e12

    def compute_seconds(flops: float, share_on_gpu: float) -> float:
        return flops * (1 - share_on_gpu) / cpu_flops + flops * share_on_gpu / gpu_flops

    per_token_flops = 2.0 * work.active_params_per_token
    encode = compute_seconds(work.vision_flops_per_image * images, 1.0 if plan.mmproj_on_gpu else 0.0)
    prefill = compute_seconds(per_token_flops * prompt_tokens, gpu_share)
    per_token_read = work.active_bytes_per_token
    decode_per_token = per_token_read * ram_share / (speed.ram_gbps * 1e9) + per_token_read * (1 - ram_share) / (
        _GPU_GBPS * 1e9
    )
    decode = decode_per_token * answer_tokens
    return StepEstimate(encode + prefill + decode, encode, prefill, decode)
